/**
 * Worker for the RCU hash table tests.
 *   hold:   look key 1 up inside a read section, report the pointer, wait for the go
 *           word, check the entry is still whole, leave the section.
 *   reader: `ops` lookups of random keys in read sections of 32; count hits and errors.
 *   writer: `ops` updates (copy, update, publish; old one kfreeRcu'd), with some
 *           remove + re-insert of the same key.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { setImmediate as tick } from 'node:timers/promises';
import { Arena, RcuHashTable } from '../../src/index.js';
import { SESSION_CACHE, Session, initSession, sessionValid, touchSession } from '../../src/demo/session.js';

interface Data {
  sab: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  table: number;
  mode: 'hold' | 'reader' | 'writer';
  ops: number;
  keys: number;
  id: number;
}
// `node --test dist/test/` also loads this file as a test: only act inside a worker.
if (!isMainThread) await main();

async function main(): Promise<void> {
  const d = workerData as Data;
  const arena = Arena.attach(d.sab);
  const table = RcuHashTable.attach(arena, d.table);
  const ctl = new Int32Array(d.ctl);

  // A tiny deterministic PRNG per worker (xorshift32): runs are reproducible per seed.
  let seed = (d.id * 2654435761) >>> 0 || 1;
  const rand = (n: number): number => {
    seed ^= seed << 13; seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5; seed >>>= 0;
    return seed % n;
  };

  async function hold(): Promise<void> {
    arena.rcu.readLock();
    const p = table.lookup(1);
    const before = p !== 0 && sessionValid(arena, p, 1);
    parentPort!.postMessage({ kind: 'holding', p, before });
    Atomics.wait(ctl, 0, 0); // main removed the entry (and kfreeRcu'd it) before setting this
    const after = sessionValid(arena, p, 1);
    arena.rcu.readUnlock();
    parentPort!.postMessage({ kind: 'done', after });
  }

  async function reader(): Promise<void> {
    let hits = 0, misses = 0, errors = 0;
    for (let done = 0; done < d.ops; ) {
      arena.rcu.read(() => {
        for (let i = 0; i < 32; i++) {
          const k = 1 + rand(d.keys);
          const p = table.lookup(k);
          if (p === 0) misses++;
          else if (sessionValid(arena, p, k)) hits++;
          else errors++;
        }
      });
      done += 32;
      if ((done & 1023) === 0) await tick();
    }
    parentPort!.postMessage({ kind: 'done', hits, misses, errors });
  }

  async function writer(): Promise<void> {
    const cache = arena.findCache(SESSION_CACHE)!;
    let updates = 0, reinserts = 0, allocFail = 0;
    for (let done = 0; done < d.ops; done++) {
      const k = 1 + rand(d.keys);
      if (rand(16) === 0) {
        // Remove and insert a fresh session under the same key (the old one goes through kfreeRcu).
        if (table.remove(k)) {
          const p = cache.alloc();
          if (p === 0) { allocFail++; continue; }
          initSession(arena, p, k, d.id);
          if (!table.insert(p)) cache.free(p); // another writer re-inserted it first: never published
          else reinserts++;
        }
      } else if (table.update(k, () => cache.alloc(), (nw) => touchSession(arena, nw, d.id)) !== 0) {
        updates++;
      }
      if ((done & 255) === 0) await tick(); // let kfreeRcu batches drain, serve flush requests
    }
    parentPort!.postMessage({ kind: 'done', updates, reinserts, allocFail });
  }

  await (d.mode === 'hold' ? hold() : d.mode === 'reader' ? reader() : writer());
  arena.detach();
}
