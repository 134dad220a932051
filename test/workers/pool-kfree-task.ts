/** A piscina task file for test/pool-warnings.test.ts: attach once, kfreeRcu per task. */
import { workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';

const arena = Arena.attach(workerData as SharedArrayBuffer);

export default function task({ cache, objects }: { cache: string; objects: number }): number {
  const c = arena.findCache(cache);
  if (!c) throw new Error(`no cache ${cache}`);
  for (let i = 0; i < objects; i++) arena.kfreeRcu(c.alloc());
  return arena.threadId;
}
