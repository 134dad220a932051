import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tortureFailed } from '../src/cli/torture.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('--help lists the commands', async () => {
  const { code, stdout } = await cli(['--help']);
  assert.equal(code, 0);
  assert.match(stdout, /Usage: slabrcu/);
  for (const c of ['demo', 'bench', 'torture']) assert.match(stdout, new RegExp(`^  ${c} `, 'm'));
  const demo = await cli(['demo', '--help']);
  for (const o of ['--workers', '--duration', '--leak', '--json']) assert.match(demo.stdout, new RegExp(o));
  const tort = await cli(['torture', '--help']);
  for (const o of ['--flavour', '--seconds', '--readers', '--broken', '--json']) assert.match(tort.stdout, new RegExp(o));
});

test('bad arguments are refused with a message', async () => {
  const a = await cli(['demo', '--workers', '0']);
  assert.notEqual(a.code, 0);
  assert.match(a.stderr, /--workers must be an integer in 1\.\.63/);
  const b = await cli(['demo', '--duration', 'soon']);
  assert.notEqual(b.code, 0);
  assert.match(b.stderr, /--duration must be a positive number/);
  const c = await cli(['torture', '--flavour', 'tree']);
  assert.notEqual(c.code, 0);
  assert.match(c.stderr, /Allowed choices are memb, qsbr/);
  const d = await cli(['nonsense']);
  assert.notEqual(d.code, 0);
});

test('tortureFailed reads the usual result shapes', () => {
  assert.equal(tortureFailed({ ok: true, failures: 0 }), false);
  assert.equal(tortureFailed({ ok: false }), true);
  assert.equal(tortureFailed({ failures: 2 }), true);
  assert.equal(tortureFailed({ errors: ['too old'] }), true);
  assert.equal(tortureFailed(undefined), false);
});


test('torture: passes in the normal mode and fails in the broken mode (JSON)', async () => {
  const ok = await cli(['torture', '--seconds', '1', '--readers', '1', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(tortureFailed(JSON.parse(ok.stdout)), false);
  const broken = await cli(['torture', '--seconds', '1', '--readers', '1', '--broken', '--json']);
  assert.equal(broken.code, 1);
  assert.equal(tortureFailed(JSON.parse(broken.stdout)), true);
});

