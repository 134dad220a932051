// slabrcu inside a tinypool pool with isolateWorkers: every task runs on a new worker
// thread, the old one is terminated; slots are reused and destroy() finds nothing
// leaked. Run: node examples/pool-tinypool.mjs [tasks]
import Tinypool from 'tinypool';
import { Arena } from 'slabrcu';

const tasks = Number(process.argv[2] ?? 200);

// Attach (here: create) the arena before the pool starts its workers: from then on this
// thread watches every Worker it creates, tinypool's included.
const arena = Arena.create({ bytes: 16 << 20, maxThreads: 8 });
const cache = arena.createCache('item', { size: 64 });

const pool = new Tinypool({
  filename: new URL('./pool-tinypool-task.mjs', import.meta.url).href,
  workerData: arena.sab,
  minThreads: 0,
  maxThreads: 2,
  isolateWorkers: true, // a fresh worker for every task: the old one is terminated
  useAtomics: false, // idle workers keep their event loop running, so they answer the arena's requests
});

const threads = new Set();
const slots = new Set();
for (let i = 0; i < tasks; i += 2) {
  const results = await Promise.all([pool.run({ objects: 100 }), pool.run({ objects: 100 })]);
  for (const r of results) {
    threads.add(r.threadId);
    slots.add(r.slot);
  }
}
await pool.destroy();

const report = await cache.destroy();
console.log(`${tasks} tasks on ${threads.size} worker threads in ${slots.size} thread slots; destroy: ${report.status}, leaked ${report.leaked}`);
arena.detach();
