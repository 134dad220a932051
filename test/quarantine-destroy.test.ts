// destroy()'s two quarantine steps differ (issue 11 item 9): the silent first shutdown
// does not flush the quarantine (the RFC flushes "only in the workfn"), so quarantined
// objects make the destroy asynchronous; the asynchronous work flushes (checks and frees)
// them after the kfree_rcu barrier, whose frees go through the quarantine too.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE, type SlabWarning } from '../src/index.js';
import { quarantineStats } from '../src/debug/index.js';
import { exited, nextMessage, startWorker } from './helpers/workers.js';

test('destroy() with quarantined objects: not flushed by the silent pass, flushed by the async work, released', async () => {
  const a = Arena.create({ bytes: 8 << 20, quarantineBytes: 1 << 20 });
  const c = a.createCache('qd-silent', { size: 64, flags: SLAB_NO_MERGE });
  const other = a.createCache('qd-other', { size: 64, flags: SLAB_NO_MERGE });
  other.free(other.alloc());
  for (let k = 0; k < 40; k++) c.free(c.alloc());
  assert.equal(quarantineStats(a).objects, 41);
  const p = c.destroy();
  // destroy() has returned: the silent pass left the quarantine alone.
  assert.equal(quarantineStats(a).objects, 41);
  const rep = await p;
  assert.equal(rep.status, 'released');
  assert.equal(rep.deferred, true);
  assert.deepEqual(rep.waitedFor, ['kvfree_rcu_barrier_on_cache', 'quarantine', 'sheaf flush']);
  assert.equal(quarantineStats(a).objects, 1, 'the final flush took this cache\'s objects only');
  assert.equal(quarantineStats(a).evicted, 40);
});

test('a write to a quarantined object is reported by the final flush (the async work), not by destroy() itself', async () => {
  const a = Arena.create({ bytes: 8 << 20, quarantineBytes: 1 << 20 });
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  const c = a.createCache('qd-uaf', { size: 64, flags: SLAB_NO_MERGE });
  const objs: number[] = [];
  for (let k = 0; k < 10; k++) objs.push(c.alloc());
  for (const o of objs) c.free(o);
  a.u8[objs[3]! + 20] = 0x42; // use after free
  const p = c.destroy();
  assert.deepEqual(warnings.map((w) => w.kind), [], 'the silent pass evicts nothing, so reports nothing');
  const rep = await p;
  assert.equal(rep.status, 'released');
  const uaf = warnings.filter((w) => w.kind === 'use-after-free');
  assert.ok(uaf.length >= 1, warnings.map((w) => w.kind).join());
  assert.ok(uaf.some((w) => w.report.includes(`0x${objs[3]!.toString(16)}`)));
  assert.equal(quarantineStats(a).useAfterFree, 1);
});

test('kfreeRcu objects queued by a worker pass through the quarantine after the barrier and are flushed before the final shutdown: released, 0 leaked', async () => {
  const a = Arena.create({ bytes: 16 << 20, quarantineBytes: 1 << 20 });
  const c = a.createCache('qd-kfree', { size: 96, flags: SLAB_NO_MERGE });
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'queue-and-idle', cache: 'qd-kfree', n: 500 });
  a.watch(w);
  const q = await nextMessage<{ pending: number }>(w, 'queued');
  assert.equal(q.pending, 500);
  assert.equal(quarantineStats(a).objects, 0);
  const rep = await c.destroy();
  assert.equal(rep.status, 'released', JSON.stringify({ ...rep, report: undefined }));
  assert.equal(rep.leaked, 0);
  assert.ok(rep.waitedFor?.includes('quarantine'));
  assert.equal(quarantineStats(a).objects, 0);
  assert.equal(quarantineStats(a).evicted, 500);
  const gone = exited(w);
  w.postMessage({ type: 'exit' });
  await gone;
});
