// kfree_rcu sheaves (kernel: __kfree_rcu_sheaf / rcu_free_sheaf): kfreeRcu of an object of
// a cache created with sheafCapacity fills a per-thread per-cache kfree_rcu sheaf; after
// its grace period the filler reuses the objects directly. Everything the block path
// guarantees must hold: barriers, pending counts, other threads' partly filled sheaves,
// dead threads, destroy with objects in flight, memory pressure.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena } from '../src/index.js';
import { R_RCU_READY, R_RCU_SHEAF } from '../src/layout.js';
import { exited, nextMessage, startWorker } from './helpers/workers.js';

const CAP = 32;

test('kfreeRcu on a sheaf cache: objects wait in kfree_rcu sheaves, pending is exact, the barrier frees them, alloc reuses them', () => {
  const a = Arena.create({ bytes: 16 << 20 });
  const c = a.createCache('kfs-basic', { size: 64, sheafCapacity: CAP });
  const rec = a.recW(a.slot, c.idx);
  const N = 6 * c.stats().sheaf_capacity; // whole sheaves: the main sheaf ends up empty
  const ptrs = new Set<number>();
  for (let i = 0; i < N; i++) ptrs.add(c.alloc());
  for (const p of ptrs) a.kfreeRcu(p);
  assert.notEqual(a.i32[rec + R_RCU_SHEAF], 0, 'an open kfree_rcu sheaf');
  assert.equal(c.stats().kfree_rcu_pending, N);
  assert.equal(a.kfreeRcuPending(), N);
  assert.equal(c.stats().objects, N, 'nothing freed before a grace period');
  a.kvfreeRcuBarrier();
  assert.equal(a.i32[rec + R_RCU_SHEAF], 0, 'the barrier closed the open sheaf');
  assert.notEqual(a.i32[rec + R_RCU_READY], 0, 'our own drain kept ready sheaves');
  assert.equal(c.stats().kfree_rcu_pending, 0);
  assert.equal(a.kfreeRcuPending(), 0);
  assert.equal(c.stats().objects, 0);
  const slabs = c.stats().slabs;
  // The cpu slab's freelist is empty (all N came from it or later slabs): the next allocs
  // come from the ready sheaves, no new slab.
  const again: number[] = [];
  for (let i = 0; i < N; i++) again.push(c.alloc());
  for (const p of again) assert.ok(ptrs.has(p), 'an object not from the ready sheaves');
  assert.equal(new Set(again).size, N, 'an object handed out twice');
  assert.equal(c.stats().slabs, slabs);
  assert.equal(c.stats().objects, N);
  for (const p of again) c.free(p);
  assert.equal(c.stats().objects, 0);
  assert.equal(c.destroySync().status, 'released');
});

test('shrink() and destroy give ready kfree_rcu sheaves back to the slabs', async () => {
  const a = Arena.create({ bytes: 16 << 20 });
  const c = a.createCache('kfs-shrink', { size: 64, sheafCapacity: CAP });
  const rec = a.recW(a.slot, c.idx);
  for (let i = 0; i < 2000; i++) a.kfreeRcu(c.alloc());
  a.kvfreeRcuBarrier();
  assert.notEqual(a.i32[rec + R_RCU_READY], 0);
  c.shrink();
  assert.equal(a.i32[rec + R_RCU_READY], 0, 'shrink kept the ready sheaves');
  assert.equal(c.stats().objects, 0);
  assert.ok(c.stats().slabs <= 6, `slabs ${c.stats().slabs}`);
  // ready sheaves again, then destroy: released, nothing leaked
  for (let i = 0; i < 2000; i++) a.kfreeRcu(c.alloc());
  a.kvfreeRcuBarrier();
  assert.notEqual(a.i32[rec + R_RCU_READY], 0);
  const rep = await c.destroy();
  assert.equal(rep.status, 'released', JSON.stringify({ ...rep, objects: rep.objects.length }));
  assert.equal(rep.leaked, 0);
});

test('destroy() of a sheaf cache with objects in kfree_rcu sheaves: released, 0 leaked; with 5 real leaks: exactly 5', async () => {
  const a = Arena.create({ bytes: 16 << 20 });
  const c = a.createCache('kfs-destroy', { size: 64, sheafCapacity: CAP });
  for (let i = 0; i < 3000; i++) a.kfreeRcu(c.alloc());
  let settled = false;
  const pr = c.destroy().then((r) => {
    settled = true;
    return r;
  });
  // destroy() returned before its work was done (how fast it returns is a benchmark row:
  // "destroy() return", bench/kfree.ts).
  assert.equal(settled, false);
  const rep = await pr;
  assert.equal(rep.status, 'released');
  assert.equal(rep.deferred, true);
  assert.equal(rep.leaked, 0);
  assert.equal(a.kfreeRcuPending(), 0);
  const d = a.createCache('kfs-leak', { size: 64, sheafCapacity: CAP });
  const warnings: string[] = [];
  a.onWarning((w) => warnings.push(w.message));
  for (let i = 0; i < 5; i++) d.alloc();
  for (let i = 0; i < 1000; i++) a.kfreeRcu(d.alloc());
  const rep2 = await d.destroy();
  assert.equal(rep2.status, 'leaked');
  assert.equal(rep2.leaked, 5);
  assert.ok(warnings.includes('kmem_cache_destroy kfs-leak: Slab cache still has objects'));
});

test('other threads\' partly filled kfree_rcu sheaves: kvfreeRcuBarrierAsync gets them closed and freed', async (t) => {
  const a = Arena.create({ bytes: 16 << 20 });
  const c = a.createCache('kfs-bar', { size: 128, sheafCapacity: CAP });
  // n < CAP: each worker's sheaf stays open (not full, 5 s drain)
  const workers = [0, 1].map(() => startWorker('kfree-worker', { sab: a.sab, mode: 'queue-and-idle', cache: 'kfs-bar', n: CAP - 3 }));
  for (const w of workers) a.watch(w);
  t.after(() => Promise.all(workers.map((w) => w.terminate())));
  const q = await Promise.all(workers.map((w) => nextMessage<{ pending: number }>(w, 'queued')));
  assert.ok(q.every((m) => m.pending >= CAP - 3));
  assert.equal(c.stats().objects, 2 * (CAP - 3));
  assert.equal(c.stats().kfree_rcu_pending, 2 * (CAP - 3));
  assert.equal(a.kfreeRcuPending(), 2 * (CAP - 3));
  await a.kvfreeRcuBarrierAsync();
  assert.equal(c.stats().objects, 0, 'objects of other threads\' open kfree_rcu sheaves were not freed by the barrier');
  assert.equal(c.stats().kfree_rcu_pending, 0);
  assert.equal(a.kfreeRcuPending(), 0);
  const gone = workers.map(exited);
  for (const w of workers) w.postMessage({ type: 'exit' });
  await Promise.all(gone);
});

test('dead watched threads: open kfree_rcu sheaves are adopted, ready ones given back; destroy: released, 0 leaked', async () => {
  const a = Arena.create({ bytes: 32 << 20 });
  const c = a.createCache('kfs-dead', { size: 64, sheafCapacity: CAP });
  // 1: died with open (and closed) sheaves
  const w1 = startWorker('kfree-worker', { sab: a.sab, mode: 'alloc-and-kfree-sync-exit', cache: 'kfs-dead', n: 5 * CAP + 9 });
  a.watch(w1);
  // arena.watch's 'exit' listener (added first) has detached the slot when this resolves.
  await exited(w1);
  // every object allocated was queued: those not yet freed are exactly the pending ones
  assert.equal(c.stats().objects, c.stats().kfree_rcu_pending);
  await a.kvfreeRcuBarrierAsync();
  assert.equal(c.stats().objects, 0);
  // 2: died holding ready sheaves (its barrier drained its own sheaves into them)
  const w2 = startWorker('kfree-worker', { sab: a.sab, mode: 'kfree-barrier-exit', cache: 'kfs-dead', n: 4000 });
  a.watch(w2);
  // Listen for the exit before awaiting the message: the worker exits right after posting
  // it, and an 'exit' listener added after the event never fires.
  const gone = exited(w2);
  const m = await nextMessage<{ objects: number; pending: number }>(w2, 'ready');
  assert.equal(m.pending, 0);
  assert.equal(m.objects, 0);
  await gone; // 'exit' listeners run in one emit: arena.watch's detach is done too
  assert.equal(c.stats().objects, 0);
  const rep = await c.destroy();
  assert.equal(rep.status, 'released', 'the dead worker\'s ready sheaves were not given back to the slabs');
  assert.equal(rep.leaked, 0);
  assert.equal(a.kfreeRcuPending(), 0);
});

test('memory pressure on a sheaf cache: alloc never fails while everything goes to kfreeRcu; a double kfreeRcu is refused', () => {
  const a = Arena.create({ bytes: 2 << 20 });
  const c = a.createCache('kfs-press', { size: 256, sheafCapacity: CAP });
  for (let i = 0; i < 40000; i++) {
    const p = c.alloc();
    assert.notEqual(p, 0, `alloc failed after ${i} objects although all were passed to kfreeRcu`);
    a.kfreeRcu(p);
  }
  a.kvfreeRcuBarrier();
  assert.equal(c.stats().objects, 0);
  const kinds: string[] = [];
  a.onWarning((w) => kinds.push(w.kind));
  const p = c.alloc();
  const q = c.alloc();
  a.kfreeRcu(q);
  a.kfreeRcu(p);
  a.kfreeRcu(p);
  assert.equal(kinds.length, 1, `reports: ${kinds.join(',')}`);
  assert.equal(c.stats().kfree_rcu_pending, 2);
  a.kvfreeRcuBarrier();
  assert.equal(c.stats().objects, 0);
});

test('kernel 7.0 rcu_free_sheaf: after the grace period a default cache\'s kfree_rcu\'d objects go to the barn as whole sheaves, and another thread\'s allocations take them from there', async () => {
  const { Worker } = await import('node:worker_threads');
  const a = Arena.create({ bytes: 8 << 20, maxThreads: 4, kfreeRcuDrainMs: 600_000 });
  const c = a.createCache('ks-barn', { size: 64 });
  const cap = c.stats().sheaf_capacity;
  assert.ok(cap > 0, 'a default cache has sheaves');
  const n = 3 * cap;
  const ptrs: number[] = [];
  for (let i = 0; i < n; i++) ptrs.push(c.alloc());
  c.shrink(); // nothing in this thread's sheaves or the barn to start with
  const s0 = c.stats();
  for (const p of ptrs) a.kfreeRcu(p);
  a.kvfreeRcuBarrier();
  const s1 = c.stats();
  assert.equal(s1.kfree_rcu_pending, 0);
  assert.equal(s1.objects, 0);
  assert.equal(s1.barn_put - s0.barn_put, 3, 'three whole sheaves went to the barn');
  assert.equal(s1.barn_full, 3);
  const entry = new URL('../src/index.js', import.meta.url).href;
  const w = new Worker(`
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.entry).then(({ Arena }) => {
      const a = Arena.attach(workerData.sab);
      const c = a.findCache('ks-barn');
      const got = [];
      for (let i = 0; i < workerData.n; i++) got.push(c.alloc());
      parentPort.postMessage(got);
      for (const p of got) c.free(p);
      a.detach();
    });`, { eval: true, workerData: { sab: a.sab, entry, n } });
  const exited = new Promise((r) => w.once('exit', r)); // before the message: 'exit' may come in its turn
  const got = await new Promise<number[]>((res, rej) => { w.once('message', res); w.once('error', rej); });
  await exited;
  const queued = new Set(ptrs);
  assert.equal(got.filter((p) => queued.has(p)).length, n, 'every object the worker got came out of the barn sheaves');
  assert.equal(new Set(got).size, n, 'no object handed out twice');
  const s2 = c.stats();
  assert.equal(s2.barn_get - s1.barn_get, 3, 'one barn get per sheaf');
  assert.equal(s2.objects, 0);
  assert.equal((await c.destroy()).status, 'released');
});
