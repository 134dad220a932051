/**
 * The CLI as a user meets it: `node dist/src/cli/main.js ...` in a child process (pipes,
 * so no terminal), checking exit codes and the texts.
 * - unknown commands and options: the error, then the help; exit 2
 * - arguments out of range: one line on stderr, no stack; exit 2
 * - --help states the limits; --version is package.json's
 * - no colour escapes on pipes; useColor: a terminal only, never with NO_COLOR
 * - bench --quick writes bench/quick/ and leaves bench/results.md alone
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BENCH_SECTIONS } from '../src/cli/bench.js';
import { isUserError, packageVersion, UsageError, useColor } from '../src/cli/util.js';
import { SECTIONS } from '../bench/run.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ESC = '\x1b';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 16 << 20, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('unknown commands and options: the error, then the top-level help; exit 2', async () => {
  for (const args of [['frobnicate'], ['--bogus'], ['--bogus', 'demo']]) {
    const r = await cli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, args[0] === 'frobnicate' ? /^error: unknown command 'frobnicate'$/m : /^error: unknown option '--bogus'$/m);
    assert.match(r.stderr, /^Usage: slabrcu \[options\] \[command\]$/m, 'the top-level help, not the demo\'s');
    for (const c of ['demo', 'bench', 'torture']) assert.match(r.stderr, new RegExp(`^  ${c} `, 'm'));
    assert.doesNotMatch(r.stderr, /too many arguments for 'demo'/);
  }
});

test("a command's unknown option: the error, that command's help and the pointer to all commands; exit 2", async () => {
  const r = await cli(['demo', '--wokers', '3']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: unknown option '--wokers'/m);
  assert.match(r.stderr, /^Usage: slabrcu demo \[options\]$/m);
  assert.match(r.stderr, /^All commands: slabrcu --help$/m);
});

test('arguments out of range: one line on stderr, no stack, exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['torture', '--readers', '40'], /--readers must be an integer in 1\.\.32/],
    [['torture', '--seconds', '0'], /--seconds must be a positive number/],
    [['demo', '--workers', '1000'], /--workers must be an integer in 1\.\.63/],
    [['demo', '--workers', '64'], /--workers must be an integer in 1\.\.63/],
    [['demo', '--duration', '-1'], /--duration must be a positive number/],
    [['bench', '--only', 'slab,nope'], /unknown bench section\(s\): nope \(known: slab, i12, rcu, kfree, debug\)/],
    [['bench', '--quick', '--out', `${ROOT}bench`], /^slabrcu: runBench: --quick figures are not representative: refusing to write them over .*results\.md/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: one line, got:\n${r.stderr}`);
    assert.match(lines[0]!, re);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  }
});

test('user errors thrown by the library are told apart from bugs', () => {
  assert.equal(isUserError(new RangeError('runTorture: readers must be an integer in 1..32')), true);
  assert.equal(isUserError(new RangeError('unknown bench section(s): x (known: slab)')), true);
  assert.equal(isUserError(new RangeError('slabrcu: Arena.create: maxThreads must be an integer in 1..1024, got 0')), true);
  assert.equal(isUserError(new UsageError('anything')), true);
  assert.equal(isUserError(new RangeError('Maximum call stack size exceeded')), false);
  assert.equal(isUserError(new RangeError('Invalid array length')), false);
  assert.equal(isUserError(new TypeError('x is not a function')), false);
});

test('--help states the limits, the exit codes and the --json fields', async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Exit codes: 0 done, 1 the run failed .*, 2 usage error/);
  assert.match(top.stdout, /Without a command, runs `slabrcu demo`/);
  const demo = await cli(['demo', '--help']);
  assert.equal(demo.code, 0);
  assert.match(demo.stdout, /-w, --workers <n> +worker threads, 1\.\.63/);
  assert.match(demo.stdout, /seconds of traffic before the unload, > 0/);
  assert.match(demo.stdout, /JSON summary \(--json\)/);
  assert.match(demo.stdout, /workers\[\]\.allocFailures: times cache\.alloc\(\) returned 0/);
  const tort = await cli(['torture', '--help']);
  assert.match(tort.stdout, /reader threads, 1\.\.32/);
  assert.match(tort.stdout, /how long to run, > 0/);
  const bench = await cli(['bench', '--help']);
  assert.match(bench.stdout, /any of slab, i12, rcu, kfree, debug/);
  assert.match(bench.stdout, /written to bench\/quick\/, never over bench\/results\.md/);
  for (const r of [top, demo, tort, bench]) assert.ok(!r.stdout.includes(ESC), 'no colour escapes on a pipe');
});

test('--version is the version in package.json', async () => {
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
  const r = await cli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${pkg.version}\n`);
  assert.equal(packageVersion(), pkg.version);
});

test('colours: a terminal only, and never with NO_COLOR', () => {
  assert.equal(useColor({ isTTY: true }, {}), true);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: '' }), true, 'NO_COLOR set to the empty string does not count (no-color.org)');
  assert.equal(useColor({ isTTY: false }, {}), false);
  assert.equal(useColor(undefined, {}), false);
});

test('BENCH_SECTIONS (the CLI\'s --only check) are bench/run.ts SECTIONS', () => {
  assert.deepEqual([...BENCH_SECTIONS], SECTIONS.map((s) => s.id));
});

test('bench --quick writes bench/quick/ and never overwrites bench/results.md', { timeout: 60_000 }, async () => {
  const committed = `${ROOT}bench/results.md`;
  const hash = (f: string): string | undefined => (existsSync(f) ? createHash('sha256').update(readFileSync(f)).digest('hex') : undefined);
  const before = hash(committed);
  const quick = `${ROOT}bench/quick/results.md`;
  rmSync(quick, { force: true });
  const r = await cli(['bench', '--quick', '--only', 'slab']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(hash(committed), before, 'bench/results.md untouched');
  assert.ok(existsSync(quick), 'bench/quick/results.md written by this run');
  assert.match(r.stdout, /wrote .*bench\/quick\/results\.md/);
  assert.ok(!r.stdout.includes(ESC), 'no colour escapes on a pipe');
  assert.match(readFileSync(`${ROOT}.gitignore`, 'utf8'), /^\/bench\/quick$/m);
});
