// An awaited kvfreeRcuBarrierAsync() or destroy() keeps its worker alive while it waits
// for the kfree_rcu drain lock. Its wait was an Atomics.waitAsync, which Node does not
// count as pending work: a worker whose script ended in `await c.destroy()` exited in the
// middle of the destroy (the kill fuzz saw a worker vanish inside destroy()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Arena } from '../src/index.js';
import { lock, unlock } from '../src/sync/mutex.js';
import { G_DRAIN_LOCK } from '../src/kfree/layout.js';

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.entry).then(async ({ Arena }) => {
  const a = Arena.attach(workerData.sab);
  const ctl = new Int32Array(workerData.ctl);
  const c = a.findCache(workerData.cache);
  // The barrier reaches its drain, where it waits for the drain lock the main thread holds.
  a.kfreeRcuImpl.testingMark = (m) => {
    if (m === 'barrier:drain') { Atomics.store(ctl, 0, 1); Atomics.notify(ctl, 0); }
  };
  a.kfreeRcu(c.alloc());
  if (workerData.op === 'barrier') await a.kvfreeRcuBarrierAsync();
  else await c.destroy();
  parentPort.postMessage('done');
  a.detach();
});
`;

for (const op of ['barrier', 'destroy'] as const) {
  test(`a worker awaiting ${op === 'barrier' ? 'kvfreeRcuBarrierAsync()' : 'destroy()'} while the drain lock is held elsewhere stays alive until it completes`, async () => {
    const a = Arena.create({ bytes: 4 << 20, maxThreads: 4, maxCaches: 16 });
    const name = `ka-${op}`;
    a.createCache(name, { size: 64 });
    const ctl = new Int32Array(new SharedArrayBuffer(8));
    const dl = (a.layout.kfreeBase >> 2) + G_DRAIN_LOCK;
    lock(a.i32, dl); // held by this thread until the worker has been seen waiting
    let released = false;
    const w = new Worker(WORKER, { eval: true, workerData: { sab: a.sab, entry: new URL('../src/index.js', import.meta.url).href, ctl: ctl.buffer, cache: name, op } });
    const events: string[] = [];
    const exited = new Promise<void>((r) => w.once('exit', () => { events.push(released ? 'exit' : 'exit while waiting'); r(); }));
    w.on('message', (m: string) => events.push(m));
    w.on('error', (e) => events.push(`error: ${String(e)}`));
    try {
      for (;;) {
        const r = Atomics.waitAsync(ctl, 0, 0, 10_000);
        if (r.async) await r.value;
        if (Atomics.load(ctl, 0) === 1) break;
      }
      // The worker waits for the lock. Without a keep-alive its event loop is empty and it
      // exits at once; give it the chance (an exit within this bound is the failure, its
      // absence is not timed: the test passes on the events below).
      await Promise.race([exited, new Promise((r) => setTimeout(r, 300))]);
    } finally {
      released = true;
      unlock(a.i32, dl);
    }
    await exited;
    assert.deepEqual(events, ['done', 'exit'], `the worker finished its ${op} (events: ${events.join(', ')})`);
    assert.equal(a.kfreeRcuPending(), 0);
  });
}
