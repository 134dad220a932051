// Worker for the SLUB debug tests. workerData: { sab, mode, cache, ptr? }.
// (node --test also runs this file directly: without workerData it does nothing.)
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';
import { objectTracks } from '../../src/debug/index.js';

interface Data {
  sab: SharedArrayBuffer;
  mode: 'alloc' | 'read-tracks' | 'free' | 'churn';
  cache: string;
  ptr?: number;
  n?: number;
  seed?: number;
}

/**
 * Random alloc/free on a shared cache; each live object carries a fill byte that is
 * checked before it is freed. Returns the number of bad objects and of reports seen here.
 */
function churn(arena: Arena, cache: string, n: number, seed: number): { bad: number; reports: number } {
  const c = arena.findCache(cache)!;
  const live: number[] = [];
  const tag = new Map<number, number>();
  let x = seed >>> 0 || 1;
  const rnd = (): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8);
  let bad = 0;
  for (let k = 0; k < n; k++) {
    if (live.length < 200 && (live.length === 0 || rnd() % 3 !== 0)) {
      const p = c.alloc();
      if (p === 0) throw new Error('exhausted');
      const t = rnd() & 0xff;
      arena.u8.fill(t, p, p + c.objectSize);
      live.push(p);
      tag.set(p, t);
    } else {
      const i = rnd() % live.length;
      const p = live[i]!;
      live[i] = live[live.length - 1]!;
      live.pop();
      const t = tag.get(p)!;
      for (let b = 0; b < c.objectSize; b++) if (arena.u8[p + b] !== t) { bad++; break; }
      tag.delete(p);
      c.free(p);
    }
  }
  for (const p of live) c.free(p);
  return { bad, reports: arena.reports.length };
}

function allocInWorker(arena: Arena, cache: string): number {
  const c = arena.findCache(cache)!;
  return c.alloc();
}

if (!isMainThread && workerData) {
  const { sab, mode, cache, ptr, n = 0, seed = 1 } = workerData as Data;
  const arena = Arena.attach(sab);
  const port = parentPort!;
  try {
    if (mode === 'alloc') {
      const p = allocInWorker(arena, cache);
      port.postMessage({ type: 'done', ptr: p, slot: arena.threadId });
    } else if (mode === 'churn') {
      port.postMessage({ type: 'done', ...churn(arena, cache, n, seed) });
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
