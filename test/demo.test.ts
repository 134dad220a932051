/**
 * The demo as a user runs it: `slabrcu demo --duration 2 --json`, in a child process,
 * checking the machine-readable summary. These pass once kfreeRcu batching and the
 * asynchronous destroy are in (before that, nothing is in flight at destroy time).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DemoSummary } from '../src/demo/run.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function demo(args: string[]): Promise<{ code: number; summary: DemoSummary; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, 'demo', ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      try {
        resolve({ code, summary: JSON.parse(stdout) as DemoSummary, stderr });
      } catch {
        reject(new Error(`demo printed no JSON (exit ${code}):\n${stdout}\n${stderr}`));
      }
    });
  });
}

test('demo --json: destroy returns before its report, the name is reusable at once, everything is released', async () => {
  const { code, summary: s } = await demo(['--duration', '2', '--workers', '2', '--json']);
  assert.equal(code, 0);
  assert.equal(s.workers.length, 2);
  assert.ok(s.reads > 0, 'readers ran');
  assert.ok(s.updates > 0, 'writers ran');
  assert.equal(s.badReads, 0, 'no reader saw a freed or half-built session');
  const u = s.unload;
  assert.equal(u.sessionsUnlinked, 20_000);
  assert.ok(u.kfreeRcuInFlight > 0, 'objects were in flight in kfreeRcu batches when destroy() was called');
  assert.equal(u.destroyReturnedBeforeReport, true, 'destroy() returned before the report arrived');
  assert.equal(u.recreatedSameName, true);
  assert.equal(u.report.name, 'session');
  assert.equal(u.report.status, 'released');
  assert.equal(u.report.deferred, true);
  assert.equal(u.report.leaked, 0);
  assert.deepEqual(u.report.objects, []);
  assert.equal(u.report.warning, undefined);
  assert.ok(u.reportMs >= u.destroyReturnedMs);
  assert.match(s.slabinfoBefore, /^slabinfo - version: 2\.1\n# name/);
  assert.match(s.slabinfoBefore, /^session\s+\d+/m);
  assert.match(s.slabinfoAfter, /^slabinfo - version: 2\.1\n/);
  assert.equal(s.warnings.length, 0);
});

test('demo --leak --json: the leak is reported with the kernel warning and allocation traces, memory kept', async () => {
  const { code, summary: s } = await demo(['--duration', '2', '--workers', '2', '--leak', '--json']);
  assert.equal(code, 0);
  assert.equal(s.badReads, 0);
  const r = s.unload.report;
  assert.equal(r.status, 'leaked');
  assert.equal(r.leaked, 3);
  assert.equal(r.warning, 'kmem_cache_destroy session: Slab cache still has objects');
  assert.equal(r.objects.length, 3);
  for (const o of r.objects) {
    assert.ok(o.ptr > 0);
    assert.equal(typeof o.allocTrace, 'string', 'SLAB_STORE_USER keeps an allocation trace');
    assert.ok(o.allocTrace!.length > 0);
  }
  assert.equal(s.unload.destroyReturnedBeforeReport, true);
  assert.ok(s.warnings.some((w) => w.message === 'kmem_cache_destroy session: Slab cache still has objects'));
});
