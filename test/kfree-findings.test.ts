// The kfree_rcu interleavings of formal/FINDINGS.md (findings 1-6), each reproduced over real
// worker threads and one SharedArrayBuffer. Each thread is stopped at a chosen step by the
// progress marks KfreeRcu publishes (testingMark): a stopped worker waits on a control word
// (or is terminated there); no sleeps order anything.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE, SLAB_RED_ZONE, type SlabWarning } from '../src/index.js';
import { B_NEXT, G_CLOSED_HEAD, G_NR_CLOSED } from '../src/kfree/layout.js';
import { exited, nextMessage, startWorker } from './helpers/workers.js';
import { CTL_WORDS, markWord } from './helpers/kfix-marks.js';

const HANG_MS = 8000; // a hang guard only: every wait below ends on a shared word

function newCtl(): { sab: SharedArrayBuffer; i32: Int32Array } {
  const sab = new SharedArrayBuffer(CTL_WORDS * 4);
  return { sab, i32: new Int32Array(sab) };
}

/** Block this thread until pred() holds; re-checked each time word `idx` of i32 changes. */
function waitSync(i32: Int32Array, idx: number, pred: () => boolean, what: string): void {
  for (;;) {
    const v = Atomics.load(i32, idx);
    if (pred()) return;
    if (Atomics.wait(i32, idx, v, HANG_MS) === 'timed-out' && !pred()) throw new Error(`hang guard: ${what}`);
  }
}

/** Wait (event loop running) until pred() holds; re-checked each time word `idx` changes. */
async function waitAsync(i32: Int32Array, idx: number, pred: () => boolean, what: string): Promise<void> {
  for (;;) {
    const v = Atomics.load(i32, idx);
    if (pred()) return;
    const r = Atomics.waitAsync(i32, idx, v, HANG_MS);
    if ((r.async ? await r.value : r.value) === 'timed-out' && !pred()) throw new Error(`hang guard: ${what}`);
  }
}

function go(i32: Int32Array, word: number): void {
  Atomics.store(i32, word, 1);
  Atomics.notify(i32, word);
}

function exhaust(c: { alloc(): number }): number[] {
  const held: number[] = [];
  for (let p = c.alloc(); p !== 0; p = c.alloc()) held.push(p);
  return held;
}

test('finding 1: an rcu_head chained during a barrier\'s grace period does not keep an object chained before it queued', async () => {
  const a = Arena.create({ bytes: 1 << 20 });
  const c = a.createCache('kf1-64', { size: 64, flags: SLAB_NO_MERGE });
  const C = newCtl();
  const w = startWorker('kfix-worker', { sab: a.sab, mode: 'barrier', cache: 'kf1-64', ctl: C.sab, stopAt: 'drain:locked' });
  await nextMessage(w, 'ready');
  const held = exhaust(c);
  assert.equal(a.pageStats().free, 0);
  // From here to the barrier's return this thread does not yield (its drain timer would
  // free the chain itself).
  a.kfreeRcu(held[0]!); // no page: chained through the object
  assert.equal(a.kfreeRcuPending(), 1);
  go(C.i32, 0); // the worker's kvfreeRcuBarrier()
  // Stopped in its drain: its grace period is over, it holds the drain lock.
  waitSync(C.i32, 5, () => Atomics.load(C.i32, 5) === 1, 'barrier reached its drain');
  a.kfreeRcu(held[1]!); // chained after the barrier's GP (this drain attempt finds the lock held)
  assert.equal(a.kfreeRcuPending(), 2);
  go(C.i32, 2);
  waitSync(C.i32, 3, () => Atomics.load(C.i32, 3) === 1, 'barrier returned');
  assert.equal(Atomics.load(C.i32, 4), held.length - 1, 'the object chained before kvfreeRcuBarrier() is still allocated at its return');
  assert.equal(a.kfreeRcuPending(), 1, 'only the object chained during the barrier may still be queued');
  await nextMessage(w, 'done');
  await a.kvfreeRcuBarrierAsync();
  assert.equal(a.kfreeRcuPending(), 0);
  assert.equal(c.stats().objects, held.length - 2);
});

test('finding 2: a barrier that starts while a dead thread\'s block is being adopted waits for that block', async () => {
  const a = Arena.create({ bytes: 8 << 20 });
  a.createCache('kf2-64', { size: 64, flags: SLAB_NO_MERGE });
  const C = newCtl();
  const cw = startWorker('kfix-worker', { sab: a.sab, mode: 'barrier', cache: 'kf2-64', ctl: C.sab });
  await nextMessage(cw, 'ready');
  let stops = 0;
  a.kfreeRcuImpl.testingMark = (m) => {
    if (m !== 'adopt:cleared') return;
    stops++;
    // The detacher (this thread, in the dead worker's exit event) is between the two steps
    // of the adoption of its open block: the barrier starts now, and runs until it waits
    // for the slot or returns.
    go(C.i32, 0);
    waitSync(C.i32, 1, () => Atomics.load(C.i32, markWord('barrier:poll')) > 0 || Atomics.load(C.i32, 3) === 1, 'barrier polled or returned');
  };
  const cDone = nextMessage(cw, 'done');
  const b = startWorker('kfix-worker', { sab: a.sab, mode: 'kfree-exit', cache: 'kf2-64', n: 1, ctl: newCtl().sab });
  await exited(b);
  await cDone;
  assert.equal(stops, 1, 'the detacher adopted one open block');
  assert.equal(Atomics.load(C.i32, 4), 0, 'the object the dead thread queued before the barrier is still allocated at its return');
});

test('finding 3: a barrier never adopts a thread its detacher is adopting: the block is queued once', async () => {
  const a = Arena.create({ bytes: 8 << 20 });
  a.createCache('kf3-64', { size: 64, flags: SLAB_NO_MERGE });
  const M = newCtl(); // this thread's (the detacher's) marks
  const C = newCtl();
  // The barrier caller, if it adopts: it reads S_CUR and waits until the detacher has
  // checked the block's owner; after it queued the block, until the detacher did too.
  const cw = startWorker('kfix-worker', {
    sab: a.sab, mode: 'barrier', cache: 'kf3-64', ctl: C.sab, peer: M.sab,
    waitAt: { 'adopt:read': [markWord('adopt:checked'), 1], 'adopt:queued': [markWord('adopt:queued'), 1] },
  });
  await nextMessage(cw, 'ready');
  const polls = (): number => Atomics.load(C.i32, markWord('barrier:poll'));
  a.kfreeRcuImpl.testingMark = (m) => {
    const p0 = polls();
    Atomics.add(M.i32, markWord(m), 1);
    Atomics.notify(M.i32, markWord(m));
    // Let the barrier caller run: to its own adoption step, or two more polls of the slot.
    if (m === 'adopt:read') {
      waitSync(C.i32, 1, () => Atomics.load(C.i32, markWord('adopt:read')) > 0 || polls() >= p0 + 2, 'barrier adopted or polled');
    } else if (m === 'adopt:checked') {
      waitSync(C.i32, 1, () => Atomics.load(C.i32, markWord('adopt:queued')) > 0 || polls() >= p0 + 2 || Atomics.load(C.i32, 3) === 1, 'barrier queued or polled');
    }
  };
  const b = startWorker('kfix-worker', { sab: a.sab, mode: 'kfree-block', cache: 'kf3-64', n: 1, ctl: newCtl().sab });
  await nextMessage(b, 'queued');
  go(C.i32, 0);
  // The barrier has seen the open block and waits for the thread (which never serves it).
  await waitAsync(C.i32, 1, () => polls() > 0, 'barrier waits for the blocked thread');
  const cDone = nextMessage(cw, 'done');
  await b.terminate();
  try {
    // The closed list: every block on it once.
    const i32 = a.i32;
    const g = a.layout.kfreeBase >> 2;
    const seen: number[] = [];
    for (let p = i32[g + G_CLOSED_HEAD]!; p !== 0 && seen.length < 8; p = i32[(p << 10) + B_NEXT]!) seen.push(p);
    assert.equal(new Set(seen).size, seen.length, `a block is on the closed list twice (list ${seen.join(' -> ')})`);
    assert.equal(seen.length, i32[g + G_NR_CLOSED], 'G_NR_CLOSED counts the list');
    assert.equal(Atomics.load(C.i32, markWord('adopt:read')), 0, 'the barrier caller adopted the slot being detached');
    await cDone;
    assert.equal(Atomics.load(C.i32, 4), 0, 'the dead thread\'s object is still allocated at the barrier\'s return');
  } finally {
    await cw.terminate();
  }
});

test('finding 4: a killed drainer\'s blocks are freed before its drain lock is released: a barrier waiting for it finds them freed', async () => {
  const a = Arena.create({ bytes: 8 << 20 });
  a.createCache('kf4-64', { size: 64, flags: SLAB_NO_MERGE });
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  const B = newCtl();
  const b = startWorker('kfix-worker', { sab: a.sab, mode: 'kfree-barrier', cache: 'kf4-64', n: 2, ctl: B.sab, stopAt: 'drain:block' });
  await nextMessage(b, 'ready');
  b.postMessage({});
  // Its own barrier's drain took its block (GP over) and stops before freeing it.
  await waitAsync(B.i32, 5, () => Atomics.load(B.i32, 5) === 1, 'drainer stopped with its block in hand');
  const C = newCtl();
  const cw = startWorker('kfix-worker', { sab: a.sab, mode: 'barrier', cache: 'kf4-64', ctl: C.sab });
  await nextMessage(cw, 'ready');
  const cDone = nextMessage(cw, 'done');
  go(C.i32, 0);
  // The barrier's GP is over; it goes for the drain lock the stopped drainer holds.
  await waitAsync(C.i32, 1, () => Atomics.load(C.i32, markWord('barrier:drain')) > 0, 'barrier at its drain');
  await b.terminate();
  await cDone;
  assert.equal(Atomics.load(C.i32, 4), 0, 'objects queued before the barrier (in the dead drainer\'s hand) are still allocated at its return');
  assert.deepEqual(warnings.filter((w) => w.kind === 'kfree-rcu-dead-drain'), [], 'no object was in doubt (stopped between blocks)');
  assert.ok(warnings.some((w) => w.kind === 'dead-lock-holder' && /kfree_rcu drain lock; its drain finished \(2 objects freed\)/.test(w.message)),
    `the drain lock's repair is reported: ${warnings.map((w) => w.message).join(' | ')}`);
});

test('finding 5: a drainer killed in the middle of an rcu_head chain: the rest of the chain is freed by its detacher', async () => {
  const a = Arena.create({ bytes: 1 << 20 });
  const c = a.createCache('kf5-64', { size: 64, flags: SLAB_NO_MERGE });
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  const B = newCtl();
  const b = startWorker('kfix-worker', { sab: a.sab, mode: 'kfree-barrier', cache: '', ctl: B.sab, stopAt: 'free:one' });
  await nextMessage(b, 'ready');
  const held = exhaust(c);
  b.postMessage({ ptrs: [held[0], held[1]] }); // both chained (no page), then its barrier
  await waitAsync(B.i32, 5, () => Atomics.load(B.i32, 5) === 1, 'drainer stopped inside the free of its first chained object');
  await b.terminate();
  await a.kvfreeRcuBarrierAsync();
  // The object in hand (the newest, first on the chain) is in doubt and reported; the other is freed.
  const doubt = warnings.filter((w) => w.kind === 'kfree-rcu-dead-drain');
  assert.equal(doubt.length, 1, `one object in doubt reported: ${warnings.map((w) => w.message).join(' | ')}`);
  assert.match(doubt[0]!.message, new RegExp(`died while freeing object 0x${held[1]!.toString(16)}; it may still be allocated`));
  assert.equal(c.stats().objects, held.length - 1, 'the rest of the chain the dead drainer took was lost');
  assert.equal(a.kfreeRcuPending(), 0);
});

test('finding 6: destroy() does not report a leak for an object a drainer counted freed and is freeing now', async () => {
  const a = Arena.create({ bytes: 8 << 20 });
  const c = a.createCache('kf6-64', { size: 64, flags: SLAB_NO_MERGE | SLAB_RED_ZONE }); // a debug cache: one free at a time (freeOne)
  const T = newCtl();
  const t = startWorker('kfix-worker', { sab: a.sab, mode: 'kfree-barrier', cache: 'kf6-64', n: 1, ctl: T.sab, stopAt: 'free:one' });
  await nextMessage(t, 'ready');
  const tDone = nextMessage(t, 'done');
  t.postMessage({});
  await waitAsync(T.i32, 5, () => Atomics.load(T.i32, 5) === 1, 'drainer stopped between its count and its free');
  // The drainer goes on once destroy's barrier is under way (it waits for the drainer's lock).
  a.kfreeRcuImpl.testingMark = (m) => {
    if (m === 'barrier:start') go(T.i32, 2);
  };
  const rep = await c.destroy();
  go(T.i32, 2);
  await tDone;
  assert.equal(rep.status, 'released', `destroy reported ${rep.status}: ${rep.warning ?? ''}`);
  assert.equal(rep.leaked, 0);
});

test('a drainer killed inside its G_LOCK section, after naming its blocks in hand but before unlinking them: the detacher leaves them queued, and they are freed once', async () => {
  const a = Arena.create({ bytes: 8 << 20 });
  const c = a.createCache('kf-glock-64', { size: 64, flags: SLAB_NO_MERGE });
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  const B = newCtl();
  const b = startWorker('kfix-worker', { sab: a.sab, mode: 'kfree-barrier', cache: 'kf-glock-64', n: 3, ctl: B.sab, stopAt: 'drain:unlinking' });
  await nextMessage(b, 'ready');
  b.postMessage({});
  // Its barrier's drain published S_DRAINING (its block, GP over) and stopped holding
  // G_LOCK and the drain lock, the block still first on the closed list.
  await waitAsync(B.i32, 5, () => Atomics.load(B.i32, 5) === 1, 'drainer stopped inside its G_LOCK section');
  assert.equal(c.stats().objects, 3);
  await b.terminate();
  // The exit is handled on this thread's event loop (detachDead): wait for its reports.
  const deadline = Date.now() + HANG_MS;
  while (!warnings.some((w) => /kfree_rcu drain lock/.test(w.message)) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  const lockMsg = warnings.find((w) => w.kind === 'dead-lock-holder' && /kfree_rcu lock;/.test(w.message))?.message ?? '';
  assert.match(lockMsg, /its drain had unlinked nothing \(left queued\)/, `the list lock's repair: ${warnings.map((w) => w.message).join(' | ')}`);
  assert.match(lockMsg, /closed list rebuilt \(1 blocks\)/);
  assert.ok(warnings.some((w) => /kfree_rcu drain lock; its drain finished \(0 objects freed\)/.test(w.message)),
    `the drain lock's repair frees nothing it no longer has in hand: ${warnings.map((w) => w.message).join(' | ')}`);
  await a.kvfreeRcuBarrierAsync(); // the block is drained once, here
  assert.equal(a.kfreeRcuPending(), 0);
  assert.equal(c.stats().objects, 0, 'each of the 3 objects freed exactly once');
  assert.deepEqual(warnings.filter((w) => w.kind === 'double-free').map((w) => w.message), [], 'no second free of any of them');
  assert.equal(c.validate().errors, 0);
  assert.equal((await c.destroy()).status, 'released');
});
