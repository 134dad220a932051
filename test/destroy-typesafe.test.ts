// destroy() of a SLAB_TYPESAFE_BY_RCU cache waits for the grace period of its freed slabs
// without blocking its thread (issue 11 item 7).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_TYPESAFE_BY_RCU } from '../src/index.js';
import { nextMessage, startWorker } from './helpers/workers.js';

test('SLAB_TYPESAFE_BY_RCU destroy(): the main thread keeps serving its event loop while the slabs wait for their grace period', async (t) => {
  const a = Arena.create({ bytes: 8 << 20 });
  const c = a.createCache('ts-async', { size: 256, flags: SLAB_TYPESAFE_BY_RCU });
  // In flight through kfreeRcu: the destroy's barrier frees them, so the final shutdown
  // is what empties (and frees) the slabs, and their grace period comes after it.
  for (let i = 0; i < 300; i++) a.kfreeRcu(c.alloc());
  // A reader in back-to-back sections, each held until this thread's event loop answers.
  const log = new Int32Array(new SharedArrayBuffer(16));
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'reader-ack', cache: '', log: log.buffer });
  t.after(() => w.terminate());
  a.watch(w);
  w.on('message', (m: { type: string }) => {
    if (m.type === 'locked') {
      Atomics.add(log, 1, 1);
      Atomics.notify(log, 1);
    }
  });
  await nextMessage(w, 'locked');
  const used = a.pageStats().used;
  assert.equal(c.stats().kfree_rcu_pending, 300);
  const rep = await c.destroy();
  assert.equal(rep.status, 'released', JSON.stringify({ ...rep, report: undefined }));
  assert.equal(rep.deferred, true);
  assert.ok(rep.waitedFor?.includes('rcu_barrier (SLAB_TYPESAFE_BY_RCU slabs)'));
  // The slabs went back once their grace period was over, and not before the destroy.
  assert.ok(a.pageStats().used < used, 'the slab pages were given back');
  Atomics.store(log, 0, 1);
  const done = await nextMessage<{ rounds: number; misses: number }>(w, 'done');
  // Every section was acknowledged while it was held: this thread never blocked in a
  // synchronize() waiting for that reader (a blocked thread cannot answer; the reader's
  // 5 s guard then counts a miss).
  assert.equal(done.misses, 0, `${done.misses} of ${done.rounds} read sections found this thread blocked`);
  assert.ok(done.rounds >= 2);
});
