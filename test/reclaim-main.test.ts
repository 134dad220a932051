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
  const msg = await new Promise<{ got: number[]; fromQueued: number; queued: number }>((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  });
  await new Promise((r) => w.once('exit', r));
  assert.equal(msg.queued, 20);
  assert.equal(msg.got.filter((p) => p === 0).length, 0, 'no alloc returned 0 while reclaimed objects sat in its own sheaf');
  assert.equal(msg.fromQueued, 10, 'the objects came from the reclaimed batches');
  assert.equal(c.stats().objects, 0);
  assert.equal((await c.destroy()).status, 'released');
});
