// formal/sheaves.pml FINDINGS 8: under memory pressure an alloc reclaims completed
// kfree_rcu batches, whose objects the drain puts into this thread's own main sheaf. The
// second attempt must take them from there: it returned 0 ("arena exhausted") with free
// objects in its own sheaf (and could stash that sheaf as empty, losing them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Arena } from '../src/index.js';

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.entry).then(({ Arena }) => {
  const a = Arena.attach(workerData.sab);
  const c = a.findCache('rm-64');
  const held = [];
  for (;;) { const p = c.alloc(); if (p === 0) break; held.push(p); }
  // The arena is exhausted and this thread's main sheaf is empty. Queue fewer objects
  // than a sheaf holds (the drain then leaves them all in the main sheaf, none in the
  // spare): the batches stay open (the drain delay never elapses).
  const queued = held.splice(0, 20);
  for (const p of queued) a.kfreeRcu(p);
  a.rcu.synchronize(); // their grace period has passed; nothing drained them yet
  const q = new Set(queued);
  const got = [];
  for (let i = 0; i < 10; i++) got.push(c.alloc());
  parentPort.postMessage({ got, fromQueued: got.filter((p) => q.has(p)).length, queued: queued.length });
  for (const p of got) if (p !== 0) c.free(p);
  for (const p of held) c.free(p);
  a.kvfreeRcuBarrier();
  a.detach();
});
`;

test('an exhausted arena: alloc reclaims completed kfree_rcu batches and hands out their objects (FINDINGS 8)', async () => {
  const a = Arena.create({ bytes: 2 << 20, maxThreads: 4, maxCaches: 32, kfreeRcuDrainMs: 600_000 });
  const c = a.createCache('rm-64', { size: 64 });
  const entry = new URL('../src/index.js', import.meta.url).href;
  const w = new Worker(WORKER, { eval: true, workerData: { sab: a.sab, entry } });
  const exited = new Promise((r) => w.once('exit', r)); // before the message: 'exit' may come in its turn
  const msg = await new Promise<{ got: number[]; fromQueued: number; queued: number }>((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  });
  await exited;
  assert.equal(msg.queued, 20);
  assert.equal(msg.got.filter((p) => p === 0).length, 0, 'no alloc returned 0 while reclaimed objects sat in its own sheaf');
  assert.equal(msg.fromQueued, 10, 'the objects came from the reclaimed batches');
  assert.equal(c.stats().objects, 0);
  assert.equal((await c.destroy()).status, 'released');
});

const READER = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.entry).then(({ Arena }) => {
  const a = Arena.attach(workerData.sab);
  const flag = new Int32Array(workerData.flag);
  a.rcu.readLock();
  parentPort.postMessage({ slot: a.threadId });
  Atomics.wait(flag, 0, 0); // stalled inside its read section until the main thread says
  a.rcu.readUnlock();
  a.detach();
  parentPort.postMessage('out');
});
`;

const PRESSURED = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.entry).then(({ Arena }) => {
  const a = Arena.attach(workerData.sab);
  const c = a.findCache('rm-stall');
  const kinds = [];
  a.onWarning((w) => kinds.push(w.kind + ': ' + w.message));
  const held = [];
  for (;;) { const p = c.alloc(); if (p === 0) break; held.push(p); }
  const queued = held.splice(0, 20);
  for (const p of queued) a.kfreeRcu(p);
  const q = new Set(queued);
  // The arena is exhausted, the only free objects wait for a grace period a stalled
  // reader blocks: the alloc's reclaim waits for it at most the stall timeout + 250 ms.
  const first = c.alloc();
  parentPort.postMessage({ first, firstQueued: q.has(first), stallNamed: kinds.some((k) => k.startsWith('rcu-stall') && k.includes('{ ' + workerData.readerSlot + ' }')) });
  parentPort.once('message', () => {
    const second = c.alloc(); // the reader has left: the reclaim's grace period completes
    parentPort.postMessage({ second, secondQueued: q.has(second) });
    if (second !== 0) c.free(second);
    for (const p of held) c.free(p);
    a.kvfreeRcuBarrier();
    a.detach();
  });
});
`;

test('an exhausted arena with a stalled reader: alloc returns 0 after the stall timeout instead of waiting for the reader forever; once it leaves, alloc reclaims the queued objects', async () => {
  const a = Arena.create({ bytes: 2 << 20, maxThreads: 4, maxCaches: 32, kfreeRcuDrainMs: 600_000, rcuStallTimeoutMs: 200 });
  const warnings: string[] = [];
  a.onWarning((w) => warnings.push(w.kind));
  const c = a.createCache('rm-stall', { size: 64 });
  const entry = new URL('../src/index.js', import.meta.url).href;
  const flag = new SharedArrayBuffer(4);
  const r = new Worker(READER, { eval: true, workerData: { sab: a.sab, entry, flag } });
  const rExit = new Promise((res) => r.once('exit', res));
  const rOut = new Promise<void>((res) => r.on('message', (m: unknown) => { if (m === 'out') res(); }));
  const readerSlot = await new Promise<number>((res, rej) => { r.once('message', (m: { slot: number }) => res(m.slot)); r.once('error', rej); });
  const w = new Worker(PRESSURED, { eval: true, workerData: { sab: a.sab, entry, readerSlot } });
  const wExit = new Promise((res) => w.once('exit', res));
  const next = (): Promise<Record<string, number | boolean>> => new Promise((res, rej) => { w.once('message', res); w.once('error', rej); });
  const m1 = await next();
  assert.equal(m1.first, 0, 'the alloc failed (the grace period could not complete) and returned');
  assert.equal(m1.firstQueued, false);
  assert.equal(m1.stallNamed, true, 'the stall warning (raised before the alloc gave up) named the stalled reader');
  Atomics.store(new Int32Array(flag), 0, 1);
  Atomics.notify(new Int32Array(flag), 0);
  await rOut;
  w.postMessage('again');
  const m2 = await next();
  await wExit;
  await rExit;
  assert.ok(warnings.length === 0 || warnings.every((k) => k === 'rcu-stall'), `only stall warnings here: ${warnings.join(', ')}`);
  assert.notEqual(m2.second, 0, 'with the reader gone the reclaim frees the queued objects');
  assert.equal(m2.secondQueued, true, 'and the alloc hands out one of them');
  assert.equal(c.stats().objects, 0);
  assert.equal((await c.destroy()).status, 'released');
});

const RACED = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.entry).then(({ Arena }) => {
  const a = Arena.attach(workerData.sab);
  const ctl = new Int32Array(workerData.ctl);
  const c = a.findCache('rm-race');
  const held = [];
  for (;;) { const p = c.alloc(); if (p === 0) break; held.push(p); }
  const queued = held.splice(0, 20);
  for (const p of queued) a.kfreeRcu(p);
  // Close this thread's kfree_rcu sheaf (what a barrier's request does): another thread
  // may drain it once its grace period is over.
  a.kfreeRcuImpl.serviceRequests();
  // The next alloc finds nothing and reclaims: it stops at the start of that reclaim
  // until the main thread has drained the batch itself.
  a.kfreeRcuImpl.testingMark = (m) => {
    if (m !== 'reclaim:start' || Atomics.load(ctl, 0) !== 0) return;
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    while (Atomics.load(ctl, 1) === 0) Atomics.wait(ctl, 1, 0);
  };
  const p = c.alloc();
  const q = new Set(queued);
  parentPort.postMessage({ p, fromQueued: q.has(p) });
  if (p !== 0) c.free(p);
  for (const o of held) c.free(o);
  a.detach();
});
`;

test('an exhausted arena: objects another thread drained while this alloc reclaimed are handed out (reclaim found nothing left to drain; the alloc returned 0 in CI)', async () => {
  const a = Arena.create({ bytes: 2 << 20, maxThreads: 4, maxCaches: 32, kfreeRcuDrainMs: 600_000 });
  const c = a.createCache('rm-race', { size: 64 });
  const entry = new URL('../src/index.js', import.meta.url).href;
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  const w = new Worker(RACED, { eval: true, workerData: { sab: a.sab, entry, ctl: ctl.buffer } });
  const done = new Promise<{ p: number; fromQueued: boolean }>((res, rej) => { w.once('message', res); w.once('error', rej); });
  const exited = new Promise((r) => w.once('exit', r));
  // The worker is stopped at the start of its reclaim, its batch closed.
  for (;;) {
    const r = Atomics.waitAsync(ctl, 0, 0, 10_000);
    if (r.async) await r.value;
    if (Atomics.load(ctl, 0) === 1) break;
  }
  assert.equal(c.stats().kfree_rcu_pending, 20);
  a.rcu.synchronize();
  a.kfreeRcuImpl.driverTick(); // this thread drains the batch: its GP is over
  assert.equal(c.stats().kfree_rcu_pending, 0, 'the main thread drained the worker\'s batch');
  Atomics.store(ctl, 1, 1);
  Atomics.notify(ctl, 1);
  const m = await done;
  await exited;
  assert.notEqual(m.p, 0, 'the alloc tried again after its reclaim and found the objects the other thread freed');
  assert.equal(m.fromQueued, true);
  assert.equal(c.stats().objects, 0);
  assert.equal((await c.destroy()).status, 'released');
});
