/**
 * `npm run stress`: the long versions of the issue-11 stress tests (exhaustion: 400 rounds
 * per mode, kill fuzz: 1200 kills, 2-worker model test: 400 runs). Sets SLABRCU_STRESS=1
 * and runs them with node --test, one file at a time. Extra arguments are passed to node
 * --test (e.g. --test-name-pattern=free).
 */
import { spawnSync } from 'node:child_process';

const files = ['dist/test/stress-exhaustion.test.js', 'dist/test/killfuzz.test.js', 'dist/test/model2w.test.js'];
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=3600000', ...process.argv.slice(2), ...files], {
  stdio: 'inherit',
  env: { ...process.env, SLABRCU_STRESS: '1' },
});
process.exit(r.status ?? 1);
