/**
 * Worker for test/arena-grow.test.ts: attach while the arena is still small, report the
 * view lengths, wait for 'go', then allocate objects (which land beyond the length the
 * arena had when this thread attached), write a pattern into each and report.
 * (Does nothing when run as a main module, e.g. by `node --test dist/test/`.)
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';

if (!isMainThread && parentPort) {
  const port = parentPort;
  const { sab, cache } = workerData as { sab: SharedArrayBuffer; cache: string };
  const a = Arena.attach(sab);
  port.postMessage({ phase: 'attached', u8: a.u8.length, i32: a.i32.length, byteLength: a.sab.byteLength });
  port.once('message', (msg: { count: number }) => {
    const seenBefore = { u8: a.u8.length, byteLength: a.sab.byteLength };
    const c = a.findCache(cache)!;
    const ptrs: number[] = [];
    for (let i = 0; i < msg.count; i++) {
      const p = c.alloc();
      if (p === 0) break;
      // Write through every view kind: u8 fill, then i32 and f64 words.
      a.u8.fill(0x5c, p, p + c.objectSize);
      a.i32[p >> 2] = i + 1;
      a.f64[(p >> 3) + 1] = i + 0.5;
      ptrs.push(p);
    }
    const maxEnd = Math.max(...ptrs) + c.objectSize;
    port.postMessage({ phase: 'done', seenBefore, ptrs, maxEnd, u8: a.u8.length, byteLength: a.sab.byteLength });
    a.detach();
  });
}
