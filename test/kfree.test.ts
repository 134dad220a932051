// kfreeRcu batching, barriers, memory pressure, fallback (issue 5 items 1-3).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE } from '../src/index.js';
import { B_COUNT, G_NR_CLOSED, G_WORDS, KVFREE_BULK_MAX_ENTR, S_CUR, SLOT_WORDS as KSLOT_WORDS } from '../src/kfree/layout.js';
import { DRAINED_BLOCK_ENTR } from '../src/kfree/insert.js';
import { G_FUTEX, MEMB_WAITER, S_CTR, SLOT_BASE, SLOT_WORDS } from '../src/rcu/layout.js';
import { exited, nextMessage, startWorker } from './helpers/workers.js';

test('kfreeRcu(0) is a no-op; a pointer that is not an object is refused and never queued', () => {
  const a = Arena.create({ bytes: 4 << 20 });
  const warnings: string[] = [];
  a.onWarning((w) => warnings.push(w.kind));
  const c = a.createCache('kf-bad', { size: 64, flags: SLAB_NO_MERGE });
  a.kfreeRcu(0);
  assert.equal(a.kfreeRcuPending(), 0);
  const p = c.alloc();
  a.kfreeRcu(p + 8); // interior pointer
  a.kfreeRcu(a.sab.byteLength + 4096); // outside the arena
  a.kfreeRcu(4096); // a metadata page
  assert.equal(a.kfreeRcuPending(), 0);
  assert.deepEqual(warnings, ['invalid-free', 'invalid-free', 'invalid-free']);
  assert.equal(c.stats().objects, 1);
  c.free(p);
  assert.equal(c.stats().objects, 0);
});

test('objects stay allocated until a grace period has passed while a reader holds a read section', async (t) => {
  const a = Arena.create({ bytes: 8 << 20, kfreeRcuDrainMs: 1 });
  const c = a.createCache('kf-gp', { size: 64, flags: SLAB_NO_MERGE });
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'reader-hold', cache: 'kf-gp' });
  t.after(() => w.terminate());
  a.watch(w);
  await nextMessage(w, 'locked');
  for (let i = 0; i < 10; i++) a.kfreeRcu(c.alloc());
  assert.equal(c.stats().kfree_rcu_pending, 10);
  // The drain timer (1 ms) closes the batch: wait for that (a condition, with a hang
  // guard), then for a grace-period attempt, which gives up naming the reader.
  const g = a.layout.kfreeBase >> 2;
  for (let i = 0; i < 2000 && Atomics.load(a.i32, g + G_NR_CLOSED) === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(Atomics.load(a.i32, g + G_NR_CLOSED), 1, 'the drain timer did not close the batch');
  assert.deepEqual(await a.rcu.synchronizeAsyncBounded(50), [a.threads.findByTid(w.threadId)]);
  assert.equal(c.stats().objects, 10, 'freed while a pre-existing reader was still inside its read section');
  w.postMessage({ type: 'unlock' });
  await nextMessage(w, 'unlocked');
  await a.kvfreeRcuBarrierAsync();
  assert.equal(c.stats().objects, 0);
  assert.equal(c.stats().kfree_rcu_pending, 0);
  const gone = exited(w);
  w.postMessage({ type: 'exit' });
  await gone;
});

test('a full block is drained at its close when no reader is in the way', () => {
  // No read section anywhere: the GP of the full block is driven at its close (one
  // attempt, never waiting: kfree/pump.ts fullClosed) and the block is drained there, in
  // the inserting thread. Only the 5 objects of the open block stay queued.
  const a = Arena.create({ bytes: 16 << 20, kfreeRcuDrainMs: 600_000 });
  const c = a.createCache('kf-close', { size: 32, flags: SLAB_NO_MERGE });
  const gp0 = a.rcu.getState();
  for (let i = 0; i < KVFREE_BULK_MAX_ENTR + 5; i++) a.kfreeRcu(c.alloc());
  assert.equal(a.kfreeRcuPending(), 5);
  assert.equal(c.stats().objects, 5);
  assert.ok(a.rcu.pollState(gp0), 'a grace period ran at the close');
  // Twice the objects of a block again: each block goes back as it closes (closed at
  // DRAINED_BLOCK_ENTR records while closes find their GP complete: insert.ts blkLimit),
  // so only the open block's objects are ever pending.
  for (let i = 0; i < 2 * KVFREE_BULK_MAX_ENTR; i++) {
    a.kfreeRcu(c.alloc());
    assert.ok(a.kfreeRcuPending() <= DRAINED_BLOCK_ENTR, `${a.kfreeRcuPending()} pending after ${i + 1}`);
  }
  assert.equal(a.kfreeRcuPending(), (5 + 2 * KVFREE_BULK_MAX_ENTR) % DRAINED_BLOCK_ENTR);
  assert.equal(c.stats().objects, a.kfreeRcuPending());
  a.kvfreeRcuBarrier();
  assert.equal(c.stats().objects, 0);
  a.detach();
});

test('a full block closed while another thread reads waits for that reader: the close gives up its GP attempt without arming a wake-up', async (t) => {
  const a = Arena.create({ bytes: 16 << 20, kfreeRcuDrainMs: 600_000 });
  const c = a.createCache('kf-close-reader', { size: 32, flags: SLAB_NO_MERGE });
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'reader-hold', cache: 'kf-close-reader' });
  t.after(() => w.terminate());
  a.watch(w);
  await nextMessage(w, 'locked');
  const slot = a.threads.findByTid(w.threadId);
  const ctrW = (a.layout.rcuBase >> 2) + SLOT_BASE + slot * SLOT_WORDS + S_CTR;
  const gp0 = a.rcu.getState();
  for (let i = 0; i < 3 * KVFREE_BULK_MAX_ENTR; i++) a.kfreeRcu(c.alloc());
  // Every close tried the GP and gave up at the reader: nothing freed, blocks stay full
  // pages (blkLimit), no MEMB_WAITER in the reader's word and no G_FUTEX = -1 (a try
  // arms no wake-up), and the GP it began is still in progress.
  assert.equal(a.kfreeRcuPending(), 3 * KVFREE_BULK_MAX_ENTR);
  assert.equal(c.stats().objects, 3 * KVFREE_BULK_MAX_ENTR);
  assert.equal(Atomics.load(a.i32, ctrW) & MEMB_WAITER, 0, 'the reader was flagged for a wake-up');
  assert.equal(Atomics.load(a.i32, (a.layout.rcuBase >> 2) + G_FUTEX), 0);
  assert.equal(a.rcu.pollState(gp0), false, 'a GP completed while the reader was inside its section');
  w.postMessage({ type: 'unlock' });
  await nextMessage(w, 'unlocked');
  await a.kvfreeRcuBarrierAsync();
  assert.equal(c.stats().objects, 0);
  assert.equal(a.kfreeRcuPending(), 0);
  const gone = exited(w);
  w.postMessage({ type: 'exit' });
  await gone;
  a.detach();
});

test('a full block closed inside a read section is drained on the next tick; an old block after kfreeRcuDrainMs', async () => {
  // Part 1, with a drain delay that never elapses during the test: the full block is
  // drained without waiting for it, and the 5 objects of the open block stay queued.
  // (With a short delay, a loaded machine could also drain the open block before the first
  // look, so the two would not be told apart.) The loop runs inside a read section, which
  // blocks the GP the close attempts (fullClosed): the drain is left to the pump.
  const a = Arena.create({ bytes: 16 << 20, kfreeRcuDrainMs: 600_000 });
  const c = a.createCache('kf-full', { size: 32, flags: SLAB_NO_MERGE });
  a.rcu.readLock();
  for (let i = 0; i < KVFREE_BULK_MAX_ENTR + 5; i++) a.kfreeRcu(c.alloc());
  a.rcu.readUnlock();
  assert.equal(a.kfreeRcuPending(), KVFREE_BULK_MAX_ENTR + 5);
  // Wait until the pump has freed the full block (it needs a GP, driven asynchronously).
  for (let i = 0; i < 2000 && c.stats().objects > 5; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(c.stats().objects, 5, 'the full block was not drained');
  assert.equal(a.kfreeRcuPending(), 5, 'the open block waits for its drain delay');
  a.detach();
  // Part 2, a short delay: the open block is closed and freed once it is that old.
  const b = Arena.create({ bytes: 16 << 20, kfreeRcuDrainMs: 20 });
  const d = b.createCache('kf-old', { size: 32, flags: SLAB_NO_MERGE });
  for (let i = 0; i < 5; i++) b.kfreeRcu(d.alloc());
  assert.equal(b.kfreeRcuPending(), 5);
  for (let i = 0; i < 2000 && d.stats().objects > 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(d.stats().objects, 0, 'the open block was not drained after kfreeRcuDrainMs');
  assert.equal(b.kfreeRcuPending(), 0);
});

test('kvfreeRcuBarrier frees what other threads queued before the call', async (t) => {
  const a = Arena.create({ bytes: 16 << 20 }); // 5 s drain: only the barrier frees them in time
  const c = a.createCache('kf-bar', { size: 128, flags: SLAB_NO_MERGE });
  const workers = [0, 1].map(() => startWorker('kfree-worker', { sab: a.sab, mode: 'queue-and-idle', cache: 'kf-bar', n: 3000 }));
  for (const w of workers) a.watch(w);
  t.after(() => Promise.all(workers.map((w) => w.terminate())));
  await Promise.all(workers.map((w) => nextMessage<{ pending: number }>(w, 'queued')));
  // Objects still in the workers' open blocks (not full, 5 s drain) cannot have been freed
  // (the full ones may have been, at their close: kfree/pump.ts fullClosed). Each worker's
  // open block: its slot line's S_CUR page, that block's B_COUNT.
  const kg = a.layout.kfreeBase >> 2;
  let open = 0;
  for (const w of workers) {
    const pfn = a.i32[kg + G_WORDS + a.threads.findByTid(w.threadId) * KSLOT_WORDS + S_CUR]!;
    if (pfn !== 0) open += a.i32[(pfn << 10) + B_COUNT]!;
  }
  assert.ok(open > 0, 'the workers have objects in their open blocks');
  assert.ok(c.stats().objects >= open && c.stats().objects <= 6000, `objects ${c.stats().objects}, ${open} in open blocks`);
  await a.kvfreeRcuBarrierAsync();
  assert.equal(c.stats().objects, 0);
  assert.equal(a.kfreeRcuPending(), 0);
  const gone = workers.map(exited);
  for (const w of workers) w.postMessage({ type: 'exit' });
  await Promise.all(gone);
  // the synchronous barrier with nothing pending returns at once
  a.kvfreeRcuBarrier();
  assert.equal(a.kfreeRcuPending(), 0);
});

test('memory pressure: alloc reclaims completed kfree_rcu batches before returning 0', () => {
  const a = Arena.create({ bytes: 2 << 20 });
  const c = a.createCache('kf-press', { size: 256, flags: SLAB_NO_MERGE });
  let total = 0;
  // Far more objects than fit: each is kfreeRcu'd at once; alloc must never fail.
  for (let i = 0; i < 40000; i++) {
    const p = c.alloc();
    assert.notEqual(p, 0, `alloc failed after ${i} objects although all were passed to kfreeRcu`);
    a.kfreeRcu(p);
    total++;
  }
  assert.equal(total, 40000);
  a.kvfreeRcuBarrier();
  assert.equal(c.stats().objects, 0);
});

test('no page for a block: objects are chained through their own memory, never lost', () => {
  const a = Arena.create({ bytes: 1 << 20 });
  const c = a.createCache('kf-chain', { size: 64, flags: SLAB_NO_MERGE });
  const held: number[] = [];
  for (;;) {
    const p = c.alloc();
    if (p === 0) break;
    held.push(p);
  }
  // Arena exhausted (no kfree_rcu batch pending, so nothing to reclaim).
  assert.equal(a.pageStats().free, 0);
  for (const p of held) a.kfreeRcu(p);
  assert.equal(c.stats().kfree_rcu_pending, held.length);
  a.kvfreeRcuBarrier();
  assert.equal(c.stats().objects, 0);
  assert.equal(c.stats().kfree_rcu_pending, 0);
  c.shrink();
  assert.ok(a.pageStats().free > 0);
});

test('the RCU worker frees closed kfree_rcu batches while the thread that queued them is busy', async () => {
  const { startRcuWorker } = await import('../src/node.js');
  const a = Arena.create({ bytes: 16 << 20 });
  const keep = setInterval(() => {}, 1000); // the RCU worker is unref'd: keep this test alive
  const h = await startRcuWorker(a);
  try {
    const c = a.createCache('kf-driver', { size: 64, flags: SLAB_NO_MERGE });
    // Two full blocks (closed at once) and a few in the open one, inside a read section so
    // that no close can complete their GP itself (kfree/pump.ts fullClosed).
    a.rcu.readLock();
    for (let i = 0; i < 2 * KVFREE_BULK_MAX_ENTR + 10; i++) a.kfreeRcu(c.alloc());
    a.rcu.readUnlock();
    assert.equal(a.kfreeRcuPending(), 2 * KVFREE_BULK_MAX_ENTR + 10);
    // Block this thread (no event-loop turn): only another thread can free them now.
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 2000 && c.stats().objects > 10; i++) Atomics.wait(nap, 0, 0, 2);
    assert.equal(c.stats().objects, 10, 'the RCU worker did not free the closed batches');
  } finally {
    await h.stop();
    clearInterval(keep);
  }
  a.kvfreeRcuBarrier();
});
