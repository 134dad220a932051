// RCU CPU stall warnings: kernel-style text naming the blocking slots, re-warned at 3*T+3s.
import test from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv } from './helpers/rcu-env.js';
import { RcuWorker } from './helpers/rcu-workers.js';
import type { Warning } from './helpers/rcu-harness.js';
import { stallRewarnMs } from '../src/rcu/index.js';

test('the re-warn interval is the kernel\'s 3 * timeout + 3 s', () => {
  assert.equal(stallRewarnMs(21000), 66000);
  assert.equal(stallRewarnMs(100), 3300);
});

for (const flavour of ['memb', 'qsbr'] as const) {
  test(`${flavour}: a reader that blocks a GP past rcuStallTimeoutMs is reported, then re-reported`, async () => {
    const T = 100;
    const env = makeEnv('arena', { flavour, stallMs: T });
    const w = await RcuWorker.start(env);
    const stalls: Warning[] = [];
    let second: () => void = () => {};
    const gotTwo = new Promise<void>((r) => (second = r));
    env.onWarning = (x) => {
      if (x.kind !== 'rcu-stall') return;
      stalls.push(x);
      if (stalls.length === 2) second();
    };
    try {
      if (flavour === 'memb') await w.cmd('lock');
      const release = env.scratch(3);
      const busy = w.cmd('busy-until-word', { word: release });
      await w.next('busy');
      const gp = env.rcu.synchronizeAsync();
      await gotTwo;
      Atomics.store(env.i32, release, 1);
      await busy;
      if (flavour === 'memb') await w.cmd('unlock');
      await gp;
      const re = new RegExp(
        `^rcu: INFO: rcu_${flavour} detected stalls on CPUs/tasks: \\{ ${w.slot} \\} ` +
          `\\(detected by ${env.rcu.slot}, t=(\\d+) jiffies, g=-?\\d+, q=0 ncpus=2\\)$`,
      );
      const t = stalls.map((s) => {
        const m = re.exec(s.message);
        assert.ok(m, s.message);
        return Number(m[1]);
      });
      assert.ok(t[0]! >= T, `first warning after the timeout (t=${t[0]})`);
      assert.ok(t[1]! - t[0]! >= stallRewarnMs(T), `re-warned after 3*T+3s (t=${t[0]} then ${t[1]})`);
      const lines = stalls[0]!.report.split('\n');
      assert.equal(lines[0], `rcu: INFO: rcu_${flavour} detected stalls on CPUs/tasks:`);
      assert.match(lines[1]!, new RegExp(`^rcu: \\t${w.slot}-O\\.\\.\\.: \\(\\d+ ticks this GP\\) gen=${w.gen} callbacks=0 `));
      assert.match(lines[2]!, /^rcu: \t\(detected by \d+, t=\d+ jiffies, g=-?\d+, q=0 ncpus=2\)$/);
      assert.equal(stalls.length, 2, 'no further warnings once the GP completed');
    } finally {
      await w.terminate();
      env.close();
    }
  });
}
