/**
 * A worker that attaches to an arena sent to it later, kfreeRcu's a few objects, and
 * exits without detach(): its kfree_rcu batch stays open in its slot. Used with a worker
 * created before any arena existed in the parent (so nobody watches it).
 */
import { parentPort } from 'node:worker_threads';
import { Arena } from '../../src/index.js';

parentPort!.once('message', (m: { sab: SharedArrayBuffer; cache: string }) => {
  const a = Arena.attach(m.sab);
  const c = a.findCache(m.cache);
  if (!c) throw new Error(`no cache ${m.cache}`);
  for (let i = 0; i < 10; i++) a.kfreeRcu(c.alloc());
  parentPort!.postMessage({ type: 'done', slot: a.threadId });
  parentPort!.close(); // nothing else keeps this thread alive: it exits, still attached
});
