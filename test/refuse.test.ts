// A refused call refuses before it changes anything (issue 11 item 5): destroySync() inside
// a read section, destroy on a detached thread, detach() inside an RCU callback, a cache
// create refused for want of a name entry. Each time: the error, then everything as before,
// and the refused operation works once its precondition holds.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE } from '../src/index.js';
import { exited, nextMessage, startWorker } from './helpers/workers.js';

for (const flavour of ['memb', 'qsbr'] as const) {
  test(`destroySync() inside a read section (${flavour}) with kfreeRcu pending from a worker: refused, cache untouched, destroy() after the section is 'released'`, async () => {
    // qsbr tracks sections only with debug on (README): without it a qsbr readLock() is a no-op.
    const a = Arena.create({ bytes: 16 << 20, rcu: flavour, destroyFlushTimeoutMs: 30_000 });
    a.rcu.setDebug(true);
    const c = a.createCache('rf-sync', { size: 128, flags: SLAB_NO_MERGE });
    const w = startWorker('kfree-worker', { sab: a.sab, mode: 'queue-and-idle', cache: 'rf-sync', n: 300 });
    a.watch(w);
    const q = await nextMessage<{ pending: number }>(w, 'queued');
    assert.equal(q.pending, 300);
    const keep = c.alloc();
    const before = c.stats();
    a.rcu.readLock();
    assert.throws(() => c.destroySync(), /inside an RCU read-side critical section/);
    // Nothing changed: the name still finds the cache, it still allocates, counts are the same.
    assert.equal(a.findCache('rf-sync')?.idx, c.idx);
    assert.deepEqual(c.stats(), before);
    const p = c.alloc();
    assert.notEqual(p, 0);
    c.free(p);
    a.rcu.readUnlock();
    assert.throws(() => a.createCache('rf-sync', { size: 128, flags: SLAB_NO_MERGE }), /already exists/);
    c.free(keep);
    const rep = await c.destroy();
    assert.equal(rep.status, 'released', JSON.stringify({ ...rep, report: undefined }));
    assert.equal(rep.leaked, 0);
    assert.equal(a.findCache('rf-sync'), undefined);
    const gone = exited(w);
    w.postMessage({ type: 'exit' });
    await gone;
  });
}

test('destroy() and destroySync() on a detached thread (a worker): refused, the name and the reference stay; the owner destroys it', async () => {
  const a = Arena.create({ bytes: 8 << 20 });
  const c = a.createCache('rf-detached', { size: 64, flags: SLAB_NO_MERGE });
  for (let i = 0; i < 50; i++) a.kfreeRcu(c.alloc());
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'detach-then-destroy', cache: 'rf-detached' });
  const m = await nextMessage<{ errors: string[] }>(w, 'done');
  assert.deepEqual(m.errors, ['slabrcu: this thread has detached from the arena', 'slabrcu: this thread has detached from the arena']);
  assert.equal(a.findCache('rf-detached')?.idx, c.idx);
  assert.notEqual(c.alloc(), 0); // still live: allocates
  const rep = await c.destroy();
  assert.equal(rep.status, 'leaked'); // the object allocated just above
  assert.equal(rep.leaked, 1);
  assert.equal(a.kfreeRcuPending(), 0);
});

test('detach() inside an RCU callback: refused before anything is handed over; the thread keeps working, detach() afterwards works', async () => {
  const a = Arena.create({ bytes: 8 << 20 });
  const c = a.createCache('rf-cb', { size: 64, flags: SLAB_NO_MERGE });
  for (let i = 0; i < 20; i++) a.kfreeRcu(c.alloc());
  let err = '';
  a.rcu.call(() => {
    try {
      a.detach();
    } catch (e) {
      err = (e as Error).message;
    }
  });
  await a.rcu.barrierAsync();
  assert.match(err, /detach\(\) inside an RCU callback/);
  assert.equal(a.isDetached, false);
  assert.equal(a.rcu.detached, false);
  // Still attached in every respect: kfree_rcu queues, the barrier frees, the allocator serves.
  assert.equal(a.kfreeRcuPending(), 20);
  const p = c.alloc();
  a.kfreeRcu(p);
  await a.kvfreeRcuBarrierAsync();
  assert.equal(a.kfreeRcuPending(), 0);
  assert.equal(c.stats().objects, 0);
  assert.equal((await c.destroy()).status, 'released');
  a.detach();
  assert.equal(a.isDetached, true);
});

test('createCache refused because the name table is full: no reference taken, no nameless cache left; every name destroys, the last one releases', async () => {
  const a = Arena.create({ bytes: 8 << 20, maxCaches: 16 }); // 32 names, 13 of them kmalloc
  const made = [a.createCache('rf-n0', { size: 200 })];
  let err = '';
  for (let i = 1; i < 64 && err === ''; i++) {
    try {
      made.push(a.createCache(`rf-n${i}`, { size: 200 })); // merges into rf-n0
    } catch (e) {
      err = (e as Error).message;
    }
  }
  assert.match(err, /too many cache names/);
  assert.ok(made.every((c) => c.idx === made[0]!.idx), 'all merged into one descriptor');
  assert.equal(made[0]!.stats().aliases, made.length - 1);
  // The refused unmergeable create left no live nameless descriptor behind either.
  const live = a.slabinfo().split('\n').filter((l) => l.startsWith('rf-')).length;
  assert.throws(() => a.createCache('rf-own', { size: 200, flags: SLAB_NO_MERGE }), /too many cache names/);
  assert.equal(a.slabinfo().split('\n').filter((l) => l.startsWith('rf-')).length, live);
  const reps = [];
  for (const c of made) reps.push(await c.destroy());
  assert.deepEqual(reps.map((r) => r.status), [...made.slice(1).map(() => 'alias'), 'released']);
  // The names are free again: a new cache can be made.
  const d = a.createCache('rf-own', { size: 200, flags: SLAB_NO_MERGE });
  assert.equal((await d.destroy()).status, 'released');
});
