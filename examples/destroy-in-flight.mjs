// The seed: destroy a cache while kfreeRcu() frees of its objects are still in flight.
// Workers allocate objects and hand each one to kfreeRcu: they are freed only after a grace
// period, in batches. A reader worker holds an RCU read section open meanwhile, so no grace
// period can end and every object is certainly still in flight when the main thread
// destroys the cache. destroy() frees the name at once (a new cache of that name can be
// created immediately) and returns before the batches have drained; once the reader leaves
// its section, the batches drain and the promise resolves with 'released'.
// Run from a clone after `npm run build`: node examples/destroy-in-flight.mjs
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena } from 'slabrcu';

const WORKERS = 2;
const PER_WORKER = 5000;

if (isMainThread) {
  const arena = Arena.create({ bytes: 32 << 20 });
  const cache = arena.createCache('module-objects', { size: 128 });
  const go = new Int32Array(new SharedArrayBuffer(4));
  const start = (role) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { sab: arena.sab, go: go.buffer, role } });
    arena.watch(w);
    return new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  };
  await start('reader'); // it is inside rcu.readLock() now, and stays there until `go`
  const done = [];
  for (let i = 0; i < WORKERS; i++) done.push(start('freer'));
  const queued = (await Promise.all(done)).reduce((n, m) => n + m.queued, 0);
  console.log(`workers: ${queued} objects handed to kfreeRcu`);
  console.log(`main: in flight before destroy: ${arena.kfreeRcuPending()}`);
  const pending = cache.destroy(); // the "module unload"
  const again = arena.createCache('module-objects', { size: 128 }); // the name is free at once
  console.log(`main: a new cache named ${again.name} exists while the old one is torn down`);
  Atomics.store(go, 0, 1); // the reader leaves its read section: grace periods can end
  Atomics.notify(go, 0);
  const report = await pending;
  console.log(`main: destroy -> ${report.status}, ${report.leaked} leaked, deferred: ${report.deferred}`);
  console.log(`main: new cache destroy -> ${(await again.destroy()).status}`);
} else {
  const arena = Arena.attach(workerData.sab);
  if (workerData.role === 'reader') {
    const go = new Int32Array(workerData.go);
    arena.rcu.readLock();
    parentPort.postMessage({ holding: true });
    Atomics.wait(go, 0, 0);
    arena.rcu.readUnlock();
    arena.detach();
  } else {
    const cache = arena.findCache('module-objects');
    if (cache === undefined) throw new Error('no cache named module-objects');
    for (let i = 0; i < PER_WORKER; i++) {
      const p = cache.alloc();
      if (p === 0) throw new Error('arena exhausted');
      arena.dv.setUint32(p, i, true);
      arena.kfreeRcu(p); // not freed yet: batched until a grace period has passed
    }
    arena.detach(); // hands this thread's open batch over, still in flight
    parentPort.postMessage({ queued: PER_WORKER });
  }
}
