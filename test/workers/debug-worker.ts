// Worker for the SLUB debug tests. workerData: { sab, mode, cache, ptr? }.
// (node --test also runs this file directly: without workerData it does nothing.)
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';
import { objectTracks } from '../../src/debug/index.js';

interface Data {
  sab: SharedArrayBuffer;
  mode: 'alloc' | 'read-tracks' | 'free';
  cache: string;
  ptr?: number;
}

function allocInWorker(arena: Arena, cache: string): number {
  const c = arena.findCache(cache)!;
  return c.alloc();
}

if (!isMainThread && workerData) {
  const { sab, mode, cache, ptr } = workerData as Data;
  const arena = Arena.attach(sab);
  const port = parentPort!;
  try {
    if (mode === 'alloc') {
      const p = allocInWorker(arena, cache);
      port.postMessage({ type: 'done', ptr: p, slot: arena.threadId });
    } else if (mode === 'free') {
      arena.findCache(cache)!.free(ptr!);
      port.postMessage({ type: 'done', slot: arena.threadId });
    } else {
      port.postMessage({ type: 'done', tracks: objectTracks(arena, ptr!) });
    }
  } catch (e) {
    port.postMessage({ type: 'error', message: String((e as Error).stack ?? e) });
  }
  arena.detach();
}
