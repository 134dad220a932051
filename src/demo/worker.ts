/**
 * A demo worker: a reader or a writer of the shared session table, until main sets STOP.
 *
 * Readers look random keys up inside RCU read sections and check every session they
 * find (sessionValid): a freed or half-built session would be counted as an error.
 * Writers replace sessions by copy, update, publish (the old version goes to kfreeRcu);
 * one update in 32 is a logout + login instead (remove, then insert a new session).
 * Both yield to the event loop after each batch, which is where the arena serves
 * requests from other threads and drains this thread's kfreeRcu batches.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setImmediate as tick } from 'node:timers/promises';
import { Arena } from '../arena.js';
import { RcuHashTable } from '../rht/index.js';
import { STOP, W_ALLOC_FAIL, W_ERRORS, W_LEAKED, W_READS, W_UPDATES, workerWord, type DemoWorkerData } from './control.js';
import { SESSION_CACHE, initSession, sessionValid, touchSession } from './session.js';

const d = workerData as DemoWorkerData;
const arena = Arena.attach(d.sab);
const table = RcuHashTable.attach(arena, d.table);
const ctl = new Int32Array(d.ctl);
const word = (f: number): number => workerWord(d.index, f);

let seed = (0x9e3779b9 ^ Math.imul(d.index + 1, 0x85ebca6b)) >>> 0 || 1;
function rand(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

let reads = 0, updates = 0, errors = 0, allocFail = 0, leaked = 0;
const publish = (): void => {
  Atomics.store(ctl, word(W_READS), reads | 0);
  Atomics.store(ctl, word(W_UPDATES), updates | 0);
  Atomics.store(ctl, word(W_ERRORS), errors);
  Atomics.store(ctl, word(W_ALLOC_FAIL), allocFail);
  Atomics.store(ctl, word(W_LEAKED), leaked);
};

function readBatch(): void {
  for (let s = 0; s < 64; s++) {
    arena.rcu.read(() => {
      for (let i = 0; i < 16; i++) {
        const k = 1 + rand(d.keys);
        const p = table.lookup(k);
        if (p !== 0 && !sessionValid(arena, p, k)) errors++;
      }
    });
  }
  reads += 64 * 16;
}

const found = arena.findCache(SESSION_CACHE);
if (!found) throw new Error(`demo worker: cache '${SESSION_CACHE}' not found`);
const cache = found;

function writeBatch(): void {
  const alloc = (): number => {
    const p = cache.alloc();
    if (p === 0) allocFail++;
    return p;
  };
  const touch = (nw: number): void => touchSession(arena, nw, d.index);
  for (let i = 0; i < 128; i++) {
    const k = 1 + rand(d.keys);
    // --leak: the first logins of the batch leak until d.leak drafts are lost.
    if (rand(32) === 0 || leaked < d.leak) {
      // Logout + login: the old session is unlinked and kfreeRcu'd, a new one inserted.
      if (leaked < d.leak) {
        // --leak: the bug the demo shows. A login draft is allocated, then abandoned:
        // never published and never freed (the leak report points at this line).
        const draft = cache.alloc();
        if (draft !== 0) {
          initSession(arena, draft, k, d.index);
          leaked++;
        }
      }
      if (!table.remove(k)) continue;
      const p = cache.alloc();
      if (p === 0) { allocFail++; continue; }
      initSession(arena, p, k, d.index);
      if (!table.insert(p)) cache.free(p); // never published: a plain free is fine
      updates++;
    } else {
      // 0: the key was gone (another writer's logout + login in between) or alloc() failed.
      if (table.update(k, alloc, touch) !== 0) updates++;
    }
  }
}

// At least one batch, even if the main thread said stop before this worker got going (a
// loaded machine may start a worker after a short --duration ran out): a --leak writer
// leaks in its first batches, and every role's totals count something real.
do {
  if (d.role === 'reader') readBatch();
  else writeBatch();
  publish();
  await tick();
} while (Atomics.load(ctl, STOP) === 0);
publish();
parentPort!.postMessage({ done: true });
arena.detach();
