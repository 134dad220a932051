/**
 * Worker for test/slab-ctor.test.ts: attach, try to allocate from a ctor cache without
 * registering the ctor (must fail with a clear error, since this thread would have to
 * construct a new slab), then with findCache(name, { ctor }).
 * (Does nothing when run as a main module, e.g. by `node --test dist/test/`.)
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';

export const CTOR_MAGIC = 0x0c70c70c;

if (!isMainThread && parentPort) {
  const port = parentPort;
  const { sab, name, n } = workerData as { sab: SharedArrayBuffer; name: string; n: number };
  const a = Arena.attach(sab);
  let error = '';
  try {
    const c = a.findCache(name)!;
    c.alloc();
  } catch (e) {
    error = (e as Error).message;
  }
  let calls = 0;
  const ctor = (ptr: number, arena: Arena): void => {
    calls++;
    arena.dv.setUint32(ptr, CTOR_MAGIC, true);
    arena.dv.setUint32(ptr + 4, arena.threadId, true);
  };
  const c = a.findCache(name, { ctor })!;
  const ptrs: number[] = [];
  for (let i = 0; i < n; i++) ptrs.push(c.alloc());
  const values = ptrs.map((p) => [a.dv.getUint32(p, true), a.dv.getUint32(p + 4, true)]);
  a.detach();
  port.postMessage({ error, calls, ptrs, values, slot: a.threadId });
}
