// Stalled readers and busy threads cannot make destroy() or the kfree_rcu barriers wait
// forever (issue 11 item 6). Bound (README "Limits", DestroyReport): destroyFlushTimeoutMs
// for other threads' flushes + rcuStallTimeoutMs + 250 ms for grace periods. The tests use
// a short rcuStallTimeoutMs; `within` only turns a hang into a failure (it orders nothing).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE, SLAB_TYPESAFE_BY_RCU, type SlabWarning } from '../src/index.js';
import { nextMessage, startWorker } from './helpers/workers.js';

const STALL_MS = 300;

/** p, or a failure after ms (a hang guard: generous, never used to order events). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
    p.then((v) => {
      clearTimeout(t);
      resolve(v);
    }, (e: unknown) => {
      clearTimeout(t);
      reject(e as Error);
    });
  });
}

function arenaWithWarnings(opts: Parameters<typeof Arena.create>[0]): { a: Arena; warnings: SlabWarning[] } {
  const warnings: SlabWarning[] = [];
  const a = Arena.create({ bytes: 16 << 20, rcuStallTimeoutMs: STALL_MS, ...opts, onWarning: (w) => warnings.push(w) });
  return { a, warnings };
}

/** Pages in use but those of the kmalloc caches that hold sheaf storage (a destroy's flush frees it). */
const userPages = (a: Arena): number =>
  a.pageStats().used - ['kmalloc-32', 'kmalloc-64', 'kmalloc-128', 'kmalloc-256'].reduce((n, k) => n + (a.findCache(k)?.stats().slabs ?? 0), 0);

test('memb: a worker stuck in a read section: destroy() resolves \'stalled\' naming it (slot, Node threadId), memory kept; freed once it leaves', async (t) => {
  const { a, warnings } = arenaWithWarnings({});
  const c = a.createCache('st-memb', { size: 64, flags: SLAB_NO_MERGE });
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'reader-hold', cache: 'st-memb' });
  t.after(() => w.terminate());
  a.watch(w);
  await nextMessage(w, 'locked');
  const slot = a.threads.findByTid(w.threadId);
  assert.ok(slot > 0);
  for (let i = 0; i < 500; i++) a.kfreeRcu(c.alloc());
  const slabs = c.stats().slabs;
  const rep = await within(c.destroy(), 60_000, 'destroy() with a stalled reader');
  assert.equal(rep.status, 'stalled');
  assert.equal(rep.deferred, true);
  assert.deepEqual(rep.stalledThreads, [{ slot, threadId: w.threadId }]);
  assert.equal(rep.reason, `a grace period did not complete within ${STALL_MS + 250} ms (rcuStallTimeoutMs + 250): stalled by thread slot ${slot} (Node threadId ${w.threadId})`);
  assert.equal(rep.leaked, 500);
  assert.equal(rep.objects.length, 500);
  assert.equal(rep.warning, 'kmem_cache_destroy st-memb: Slab cache still has objects');
  assert.match(rep.report!, new RegExp(`rcu: gave up waiting for a grace period after ${STALL_MS + 250} ms: stalled by thread slot ${slot} \\(Node threadId ${w.threadId}\\)`));
  // The GP driver's own stall warning names the same slot, before the destroy report.
  const kinds = warnings.map((x) => x.kind);
  assert.ok(kinds.includes('rcu-stall'), kinds.join());
  assert.ok(kinds.indexOf('rcu-stall') < kinds.indexOf('kmem-cache-destroy'), kinds.join());
  assert.match(warnings.find((x) => x.kind === 'rcu-stall')!.message, new RegExp(`detected stalls on CPUs/tasks: \\{ ${slot} \\}`));
  // Memory kept: nothing was freed under the reader, the cache stays in slabinfo.
  assert.equal(a.kfreeRcuPending(), 500);
  assert.equal(c.stats().objects, 500);
  // (The flush of our sheaf may give back a slab that held only never-allocated objects.)
  assert.ok(c.stats().slabs >= Math.ceil(500 / c.objects) && c.stats().slabs <= slabs, `${c.stats().slabs} slabs of ${slabs}`);
  assert.match(a.slabinfo(), /^st-memb\s+500\s/m);
  // The reader leaves: the grace period completes and the objects are freed into the kept cache.
  w.postMessage({ type: 'unlock' });
  await nextMessage(w, 'unlocked');
  await within(a.kvfreeRcuBarrierAsync(), 60_000, 'barrier after the reader left');
  assert.equal(a.kfreeRcuPending(), 0);
  assert.equal(c.stats().objects, 0);
});

test('memb: kvfreeRcuBarrierAsync() and kvfreeRcuBarrier() with a stuck reader return, warn naming it, and free nothing it may see', async (t) => {
  const { a, warnings } = arenaWithWarnings({});
  const c = a.createCache('st-bar', { size: 64, flags: SLAB_NO_MERGE });
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'reader-hold', cache: 'st-bar' });
  t.after(() => w.terminate());
  a.watch(w);
  await nextMessage(w, 'locked');
  const slot = a.threads.findByTid(w.threadId);
  for (let i = 0; i < 100; i++) a.kfreeRcu(c.alloc());
  await within(a.kvfreeRcuBarrierAsync(), 60_000, 'kvfreeRcuBarrierAsync() with a stalled reader');
  a.kvfreeRcuBarrier();
  const mine = warnings.filter((x) => x.kind === 'kvfree-rcu-barrier');
  const text = `kvfree_rcu_barrier: gave up after ${STALL_MS + 250} ms waiting for a grace period stalled by thread slot ${slot} (Node threadId ${w.threadId})`;
  assert.deepEqual(mine.map((x) => x.message), [text, text]);
  assert.equal(a.kfreeRcuPending(), 100);
  assert.equal(c.stats().objects, 100);
  w.postMessage({ type: 'unlock' });
  await nextMessage(w, 'unlocked');
  a.kvfreeRcuBarrier();
  assert.equal(a.kfreeRcuPending(), 0);
  assert.equal(c.stats().objects, 0);
  assert.equal((await c.destroy()).status, 'released');
});

test('qsbr: a thread that never passes a quiescent state: destroy() and destroySync() report \'stalled\' naming it; once it passes one, the objects are freed into the kept caches', async (t) => {
  const { a, warnings } = arenaWithWarnings({ rcu: 'qsbr' });
  const c = a.createCache('st-qsbr', { size: 128, flags: SLAB_NO_MERGE });
  const d = a.createCache('st-qsbr2', { size: 128, flags: SLAB_NO_MERGE });
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'spin', cache: '', log: flag.buffer });
  t.after(() => w.terminate());
  a.watch(w);
  await nextMessage(w, 'spinning');
  const slot = a.threads.findByTid(w.threadId);
  for (let i = 0; i < 50; i++) a.kfreeRcu(c.alloc());
  for (let i = 0; i < 30; i++) a.kfreeRcu(d.alloc());
  const rep = await within(c.destroy(), 60_000, 'destroy() with a qsbr thread that passes no quiescent state');
  assert.equal(rep.status, 'stalled');
  assert.deepEqual(rep.stalledThreads, [{ slot, threadId: w.threadId }]);
  assert.equal(rep.leaked, 50);
  assert.equal(rep.unflushedThreads, undefined, 'the spinner holds no cpu slab or batch of the cache');
  const rep2 = d.destroySync();
  assert.equal(rep2.status, 'stalled');
  assert.deepEqual(rep2.stalledThreads, [{ slot, threadId: w.threadId }]);
  assert.match(rep2.warning!, /^kmem_cache_destroy st-qsbr2: Slab cache still has objects when called from /);
  assert.ok(warnings.some((x) => x.kind === 'rcu-stall' && x.message.includes(`{ ${slot} }`)));
  assert.equal(a.kfreeRcuPending(), 80);
  Atomics.store(flag, 0, 1);
  await nextMessage(w, 'spun');
  await within(a.kvfreeRcuBarrierAsync(), 60_000, 'barrier after the spinner detached');
  assert.equal(a.kfreeRcuPending(), 0);
  assert.equal(c.stats().objects, 0);
  assert.equal(d.stats().objects, 0);
});

test('SLAB_TYPESAFE_BY_RCU: a stuck reader keeps the freed slabs: destroy() says \'stalled\' (no objects), the pages stay until the grace period', async (t) => {
  const { a } = arenaWithWarnings({});
  const c = a.createCache('st-ts', { size: 256, flags: SLAB_TYPESAFE_BY_RCU });
  const objs: number[] = [];
  for (let i = 0; i < 100; i++) objs.push(c.alloc());
  for (const p of objs) c.free(p);
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'reader-hold', cache: 'st-ts' });
  t.after(() => w.terminate());
  a.watch(w);
  await nextMessage(w, 'locked');
  const slot = a.threads.findByTid(w.threadId);
  const used = userPages(a);
  const rep = await within(c.destroy(), 60_000, 'destroy() of a TYPESAFE_BY_RCU cache with a stalled reader');
  assert.equal(rep.status, 'stalled');
  assert.equal(rep.leaked, 0);
  assert.deepEqual(rep.objects, []);
  assert.deepEqual(rep.stalledThreads, [{ slot, threadId: w.threadId }]);
  assert.equal(rep.warning, 'kmem_cache_destroy st-ts: SLAB_TYPESAFE_BY_RCU slabs still wait for a grace period');
  assert.equal(userPages(a), used, 'slab pages went back while a reader may still see them');
  w.postMessage({ type: 'unlock' });
  await nextMessage(w, 'unlocked');
  await a.rcu.synchronizeAsync();
  a.reclaim();
  assert.ok(userPages(a) < used, 'the slab pages go back after the grace period');
});

test('destroy() called inside a read section left open across its await: resolves \'stalled\' naming this thread instead of rejecting', async () => {
  const { a } = arenaWithWarnings({});
  const c = a.createCache('st-self', { size: 64, flags: SLAB_NO_MERGE });
  for (let i = 0; i < 20; i++) a.kfreeRcu(c.alloc());
  a.rcu.readLock();
  const rep = await within(c.destroy(), 60_000, 'destroy() inside a section held across await');
  a.rcu.readUnlock();
  assert.equal(rep.status, 'stalled');
  assert.deepEqual(rep.stalledThreads?.map((s) => s.slot), [a.threadId]);
  // Closed in the same task, the section is no obstacle at all.
  const d = a.createCache('st-self2', { size: 64, flags: SLAB_NO_MERGE });
  for (let i = 0; i < 20; i++) a.kfreeRcu(d.alloc());
  a.rcu.readLock();
  const p = d.destroy();
  a.rcu.readUnlock();
  assert.equal((await within(p, 60_000, 'destroy()')).status, 'released');
});

test('a busy thread outside any read section (cpu slab and open kfree_rcu batch): destroy() waits one destroyFlushTimeoutMs, not one per kind of flush', async (t) => {
  const FLUSH_MS = 400;
  const { a, warnings } = arenaWithWarnings({ destroyFlushTimeoutMs: FLUSH_MS });
  const c = a.createCache('st-busy', { size: 64, flags: SLAB_NO_MERGE });
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'hold-and-spin', cache: 'st-busy', log: flag.buffer, kfree: 10 });
  t.after(() => w.terminate());
  a.watch(w);
  await nextMessage(w, 'holding');
  const slot = a.threads.findByTid(w.threadId);
  assert.equal(c.stats().kfree_rcu_pending, 10);
  const rep = await within(c.destroy(), 60_000, 'destroy() with a busy thread');
  assert.equal(rep.status, 'leaked');
  assert.deepEqual(rep.unflushedThreads, [slot]);
  // One wait, one timeout: the barrier's wait for the batch and the cpu-slab flush share
  // the deadline (they were two waits of destroyFlushTimeoutMs in a row, and the barrier
  // reported its own timeout).
  assert.deepEqual(warnings.map((x) => x.kind), ['kmem-cache-destroy'], warnings.map((x) => x.message).join(' | '));
  assert.ok(rep.elapsedMs! >= FLUSH_MS, `waited ${rep.elapsedMs} ms`);
  assert.equal(rep.reason, `thread ${slot} did not yield within ${FLUSH_MS} ms (destroyFlushTimeoutMs): its sheaves or kfree_rcu batch could not be flushed`);
  assert.match(rep.report!, new RegExp(`sheaves or kfree_rcu batch of thread ${slot} could not be flushed`));
  Atomics.store(flag, 0, 1);
  await nextMessage(w, 'spun');
});
