/**
 * Worker for the watch() tests (test/slab-workers.test.ts): allocate `n` objects (its cpu
 * slab stays cached), free `f` of them on the fast path, report, then either idle until
 * terminate()d ('terminate'), or return without detaching ('return': the event loop
 * empties and the thread exits; the arena's pump must not keep it alive).
 * (Does nothing when run as a main module, e.g. by `node --test dist/test/`.)
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';

if (!isMainThread && parentPort) {
  const port = parentPort;
  const { sab, cache, n, f, mode } = workerData as { sab: SharedArrayBuffer; cache: string; n: number; f: number; mode: 'terminate' | 'return' };
  const a = Arena.attach(sab);
  const c = a.findCache(cache)!;
  const ptrs: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = c.alloc();
    a.dv.setUint32(p, 0xabcd0000 + i, true);
    ptrs.push(p);
  }
  const freed = ptrs.splice(0, f);
  for (const p of freed) c.free(p);
  port.postMessage({ slot: a.threadId, ptrs, freed });
  if (mode === 'terminate') setInterval(() => {}, 1 << 30);
  else port.unref();
}
