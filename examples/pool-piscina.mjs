// slabrcu inside a piscina pool: workers come and go (idleTimeout recycles them), slots
// are reused, and destroy() finds nothing leaked. Run: node examples/pool-piscina.mjs [workers]
import { Piscina } from 'piscina';
import { Arena } from 'slabrcu';

const workers = Number(process.argv[2] ?? 200);

// Attach (here: create) the arena before the pool starts its workers: from then on this
// thread watches every Worker it creates, piscina's included.
const arena = Arena.create({ bytes: 16 << 20, maxThreads: 8 });
const cache = arena.createCache('item', { size: 64 });

const pool = new Piscina({
  filename: new URL('./pool-piscina-task.mjs', import.meta.url).href,
  workerData: arena.sab,
  minThreads: 0,
  maxThreads: 2,
  idleTimeout: 1, // retire a worker as soon as it is idle: each one is a new thread
  atomics: 'async', // idle workers keep their event loop running, so they answer the arena's requests
});

// To show recycling, every round waits until piscina has retired the round's workers,
// so that the next round runs on new threads (a pool does not need this: it is the demo).
const exits = [];
process.on('worker', (w) => exits.push(new Promise((resolve) => w.once('exit', resolve))));
const keepAlive = setInterval(() => {}, 1 << 30); // piscina's idle workers and timers are unref'd
const threads = new Set();
const slots = new Set();
while (threads.size < workers) {
  const results = await Promise.all([pool.run({ objects: 100 }), pool.run({ objects: 100 })]);
  for (const r of results) {
    threads.add(r.threadId);
    slots.add(r.slot);
  }
  await Promise.all(exits);
}
clearInterval(keepAlive);
await pool.destroy();

const report = await cache.destroy();
console.log(`${threads.size} pool workers (recycled) in ${slots.size} thread slots; destroy: ${report.status}, leaked ${report.leaked}`);
arena.detach();
