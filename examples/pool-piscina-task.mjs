// A piscina task file (see pool-piscina.mjs). Runs once per pool worker, then one call
// per task. No wiring: the worker attaches once and never detaches by hand. When piscina
// retires it (idleTimeout, pool.destroy(), a crash), the thread that created the pool
// detaches its slot for it, adopts its kfreeRcu batches and flushes its cached objects.
import { workerData, threadId } from 'node:worker_threads';
import { Arena } from 'slabrcu';

const arena = Arena.attach(workerData); // piscina passes workerData as given: arena.sab
const found = arena.findCache('item');
if (!found) throw new Error("cache 'item' not found: create it before starting the pool");
const cache = found;

/** Allocate `objects` items, fill them, and free each one after a grace period. */
export default function task({ objects }) {
  for (let i = 0; i < objects; i++) {
    const p = cache.alloc();
    if (p === 0) throw new Error('arena exhausted');
    arena.u32[p >> 2] = i;
    arena.kfreeRcu(p);
  }
  return { slot: arena.threadId, threadId };
}
