// A tinypool task file (see pool-tinypool.mjs). tinypool wraps workerData
// ([tinypoolData, yourWorkerData]): Tinypool.workerData is yours, here arena.sab.
// No wiring: the worker attaches once and never detaches by hand; when tinypool retires
// it (isolateWorkers, recycleWorkers(), destroy()), the thread that created the pool
// detaches its slot for it.
import { threadId } from 'node:worker_threads';
import Tinypool from 'tinypool';
import { Arena } from 'slabrcu';

const arena = Arena.attach(Tinypool.workerData);
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
