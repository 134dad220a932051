/**
 * What a user is told when threads do not answer, and when Arena.attach gets the wrong
 * thing (the pools' first-day mistakes):
 * - a thread that exited unwatched is "unknown" to the warning thread, with what to do;
 * - a watched pool worker blocked in Atomics.wait (piscina's default atomics: 'sync') is
 *   "alive", with the pool option that fixes it; once the pool ends it, its slot is
 *   detached for it and nothing leaks;
 * - Arena.attach(x) says what x was (type, keys) and where the arena buffer is in it.
 *
 * Order matters in this file (its own process): the first test creates its worker
 * before any arena exists in this thread, so nobody watches it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import Tinypool from 'tinypool';
import { Arena, type SlabWarning } from '../src/index.js';
import { describeSlots } from '../src/hotplug/autowatch.js';
import { attachArgError } from '../src/hotplug/attach-arg.js';
import { T_DEAD, TS_FREE, TS_LIVE } from '../src/layout.js';
import { nextMessage } from './helpers/workers.js';

const workerUrl = (name: string): URL => new URL(`./workers/${name}.js`, import.meta.url);

test('a worker that exited unwatched: the barrier warning calls its thread "unknown" and says what to do', async () => {
  // Created (and online) before this thread has any arena: not watched.
  const w = new Worker(workerUrl('pool-stray'));
  const tid = w.threadId;
  await once(w, 'online');
  const warnings: SlabWarning[] = [];
  const a = Arena.create({ bytes: 8 << 20, maxThreads: 4, destroyFlushTimeoutMs: 100, onWarning: (x) => warnings.push(x) });
  a.createCache('stray-obj', { size: 64 });
  const exited = once(w, 'exit');
  w.postMessage({ sab: a.sab, cache: 'stray-obj' });
  const { slot } = await nextMessage<{ slot: number }>(w, 'done');
  await exited;
  assert.ok(a.threads.isLive(slot), 'nobody detached the exited worker');
  a.kvfreeRcuBarrier();
  const kw = warnings.filter((x) => x.kind === 'kvfree-rcu-barrier');
  assert.equal(kw.length, 1, JSON.stringify(warnings.map((x) => x.message)));
  assert.equal(kw[0]!.message, `kvfree_rcu_barrier: thread(s) ${slot} (unknown, Node thread ${tid}) did not close their kfree_rcu batch within 100 ms`);
  assert.match(kw[0]!.report, new RegExp(`thread ${slot} \\(Node thread ${tid}\\): unknown: not watched by this thread`));
  assert.match(kw[0]!.report, /arena\.watch\(worker\) in the thread that created it/);
  assert.match(kw[0]!.report, /arena\.detach\(\) in the worker before it exits/);
});

test('a watched piscina worker blocked in Atomics.wait is "alive", with the pool option; when the pool ends it, it is detached and nothing leaks', async () => {
  const warnings: SlabWarning[] = [];
  const a = Arena.create({ bytes: 8 << 20, maxThreads: 4, destroyFlushTimeoutMs: 100, onWarning: (x) => warnings.push(x) });
  const cache = a.createCache('blocked-obj', { size: 64 });
  const pool = new Piscina({ filename: workerUrl('pool-kfree-task').href, workerData: a.sab, minThreads: 1, maxThreads: 1, idleTimeout: Infinity });
  const created: Worker[] = [];
  const onWorker = (w: Worker): void => void created.push(w);
  process.on('worker', onWorker);
  try {
    const slot = (await pool.run({ cache: 'blocked-obj', objects: 50 })) as number;
    const tid = a.threads.tid(slot);
    // The worker now waits for its next task in Atomics.wait (piscina's default): it
    // cannot close its kfree_rcu batch.
    await a.kvfreeRcuBarrierAsync();
    const kw = warnings.filter((x) => x.kind === 'kvfree-rcu-barrier');
    assert.equal(kw.length, 1, JSON.stringify(warnings.map((x) => x.message)));
    assert.equal(kw[0]!.message, `kvfree_rcu_barrier: thread(s) ${slot} (alive, Node thread ${tid}) did not close their kfree_rcu batch within 100 ms`);
    assert.match(kw[0]!.report, /alive \(watched\) but did not yield to its event loop/);
    assert.match(kw[0]!.report, /piscina: atomics: 'async'; tinypool: useAtomics: false/);
    assert.ok(a.threads.isLive(slot));
    await pool.destroy();
    // The pool terminated it: this thread watched it (it created it) and detached it.
    assert.equal(a.threads.isLive(slot), false);
    assert.deepEqual(a.threads.liveSlots(), [a.threadId]);
  } finally {
    process.off('worker', onWorker);
  }
  const rep = await cache.destroy();
  assert.equal(rep.status, 'released');
  assert.equal(rep.leaked, 0);
  a.detach();
});

test('describeSlots: alive, exited, detached and unknown, each with its advice', () => {
  const i32 = new Int32Array(64);
  const states = [TS_LIVE, TS_LIVE, TS_FREE, TS_LIVE];
  const tids = [11, 12, 13, 987_654];
  const table = { state: (s: number) => states[s]!, tid: (s: number) => tids[s]!, w: (s: number, f: number) => s * 16 + f };
  i32[table.w(1, T_DEAD)] = 1;
  const owners = describeSlots(table, i32, [1, 2, 3]);
  assert.deepEqual(owners.map((o) => [o.slot, o.tid, o.state]), [[1, 12, 'exited'], [2, 13, 'detached'], [3, 987_654, 'unknown']]);
  assert.match(owners[0]!.advice, /being handled/);
  assert.match(owners[1]!.advice, /nothing to do/);
  assert.match(owners[2]!.advice, /not watched by this thread/);
});

test('Arena.attach(x) says what x was and where the arena buffer is in it', () => {
  const a = Arena.create({ bytes: 4 << 20, maxThreads: 2 });
  const wrapped = [{ workerId: 1, filename: 'x' }, a.sab];
  assert.throws(() => Arena.attach(wrapped as unknown as SharedArrayBuffer), (e: Error) => {
    assert.ok(e instanceof TypeError);
    assert.match(e.message, /got an array of 2 items \[object, SharedArrayBuffer\]/);
    assert.match(e.message, /an arena buffer is at workerData\[1\]: call Arena\.attach\(workerData\[1\]\)/);
    assert.match(e.message, /tinypool passes workerData as \[tinypoolData, yourWorkerData\]/);
    return true;
  });
  assert.match(attachArgError({ sab: a.sab, ctl: new SharedArrayBuffer(8) }), /got an object with keys \{sab, ctl\}\. Fix: an arena buffer is at workerData\.sab: call Arena\.attach\(workerData\.sab\)/);
  assert.match(attachArgError([{}, { data: a.sab }]), /workerData\[1\]\.data/);
  assert.match(attachArgError(undefined), /got undefined\. Fix: workerData is undefined in this thread\?/);
  assert.match(attachArgError(new ArrayBuffer(16)), /got an ArrayBuffer of 16 bytes \(not shared/);
  assert.match(attachArgError(new Int32Array(a.sab)), /got an Int32Array \(a view; the arena is its \.buffer\)/);
  assert.match(attachArgError(new SharedArrayBuffer(8192)), /got a SharedArrayBuffer of 8192 bytes that is not a slabrcu arena/);
  assert.match(attachArgError(42), /got a number \(42\)/);
  a.detach();
});

test('tinypool: Arena.attach(workerData) inside a pool worker says to use workerData[1]', async () => {
  const a = Arena.create({ bytes: 4 << 20, maxThreads: 4 });
  const pool = new Tinypool({ filename: workerUrl('tinypool-raw-attach').href, workerData: a.sab, minThreads: 0, maxThreads: 1 });
  try {
    const msg = (await pool.run({})) as string;
    assert.match(msg, /^TypeError: slabrcu: Arena\.attach\(sab\): sab must be the SharedArrayBuffer of an arena \(arena\.sab\); got an array of 2 items \[object, SharedArrayBuffer\]\./);
    assert.match(msg, /call Arena\.attach\(workerData\[1\]\)/);
  } finally {
    await pool.destroy();
  }
  a.detach();
});
