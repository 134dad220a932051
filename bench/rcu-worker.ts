/**
 * Worker of the RCU benchmark (bench/rcu.ts): a reader or the writer of one workload,
 * under memb RCU, a CAS spinlock, or an Atomics reader-count rwlock.
 *
 * Shared words (in one kmalloc'd block at word `g`):
 *   g+0  go: 0 until the main thread starts the run (Atomics.store + notify), 2 = stop
 *   g+1  pointer to the current record (byte offset), RCU-published
 *   g+2  spinlock word (0/1)            g+3  rwlock word (readers count; sign bit = writer)
 *   g+4  seqlock sequence (odd while the writer is inside)
 *   g+16.. two records of 16 words each (the writer alternates between them)
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../src/arena.js';

export type LockKind = 'memb' | 'spin' | 'rwlock' | 'seqlock';
/** The writer's schedule (all three locks): one update per period. */
export const WRITER_PERIOD_MS = 1;
const WRITER_BIT = 1 << 31;
export interface BenchWorkerData {
  sab: SharedArrayBuffer;
  g: number;
  role: 'reader' | 'writer';
  kind: LockKind;
}

if (parentPort) {
  const port = parentPort;
  const d = workerData as BenchWorkerData;
  const arena = Arena.attach(d.sab);
  const i32 = arena.i32;
  const rcu = arena.rcu;
  const g = d.g;
  const GO = g, PTR = g + 1, SPIN = g + 2, RW = g + 3, SEQ = g + 4;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  port.postMessage({ type: 'ready' });
  while (Atomics.load(i32, GO) === 0) Atomics.wait(i32, GO, 0, 100);
  let ops = 0;
  let sink = 0;
  if (d.role === 'reader') {
    while (Atomics.load(i32, GO) === 1) {
      if (d.kind === 'memb') {
        for (let k = 0; k < 1024; k++) {
          rcu.readLock();
          const p = Atomics.load(i32, PTR) >> 2;
          sink += Atomics.load(i32, p) + Atomics.load(i32, p + 1);
          rcu.readUnlock();
        }
      } else if (d.kind === 'spin') {
        for (let k = 0; k < 1024; k++) {
          while (Atomics.compareExchange(i32, SPIN, 0, 1) !== 0) { /* spin */ }
          const p = Atomics.load(i32, PTR) >> 2;
          sink += Atomics.load(i32, p) + Atomics.load(i32, p + 1);
          Atomics.store(i32, SPIN, 0);
        }
      } else if (d.kind === 'seqlock') {
        // read_seqbegin / read_seqretry: retry while the writer is inside or moved on.
        for (let k = 0; k < 1024; k++) {
          for (;;) {
            const s0 = Atomics.load(i32, SEQ);
            if (s0 & 1) continue;
            const p = Atomics.load(i32, PTR) >> 2;
            const v = Atomics.load(i32, p) + Atomics.load(i32, p + 1);
            if (Atomics.load(i32, SEQ) === s0) {
              sink += v;
              break;
            }
          }
        }
      } else {
        for (let k = 0; k < 1024; k++) {
          for (;;) {
            const c = Atomics.load(i32, RW);
            if (c >= 0 && Atomics.compareExchange(i32, RW, c, c + 1) === c) break;
          }
          const p = Atomics.load(i32, PTR) >> 2;
          sink += Atomics.load(i32, p) + Atomics.load(i32, p + 1);
          Atomics.sub(i32, RW, 1);
        }
      }
      ops += 1024;
    }
  } else {
    // The writer runs on a fixed schedule, the same for every lock: one update every
    // WRITER_PERIOD_MS of wall time (it sleeps until the next deadline; a writer that
    // falls behind resynchronises instead of bursting). updates/s shows whether it kept pace.
    let v = 0;
    let next = performance.now() + WRITER_PERIOD_MS;
    while (Atomics.load(i32, GO) === 1) {
      v++;
      if (d.kind === 'memb') {
        const cur = Atomics.load(i32, PTR);
        const nrec = cur === (g + 16) * 4 ? (g + 32) * 4 : (g + 16) * 4;
        Atomics.store(i32, (nrec >> 2), v);
        Atomics.store(i32, (nrec >> 2) + 1, -v);
        Atomics.store(i32, PTR, nrec);
        rcu.synchronize(); // after this, `cur` could be freed or reused
      } else if (d.kind === 'spin') {
        while (Atomics.compareExchange(i32, SPIN, 0, 1) !== 0) { /* spin */ }
        const p = Atomics.load(i32, PTR) >> 2;
        Atomics.store(i32, p, v);
        Atomics.store(i32, p + 1, -v);
        Atomics.store(i32, SPIN, 0);
      } else if (d.kind === 'seqlock') {
        // write_seqlock (one writer: no lock beside the sequence) / write_sequnlock.
        Atomics.add(i32, SEQ, 1);
        const p = Atomics.load(i32, PTR) >> 2;
        Atomics.store(i32, p, v);
        Atomics.store(i32, p + 1, -v);
        Atomics.add(i32, SEQ, 1);
      } else {
        // Writer-preferring: the sign bit stops new readers (their `c >= 0` test), then
        // the writer waits for the readers inside to leave. Readers are unchanged.
        while ((Atomics.or(i32, RW, WRITER_BIT) & WRITER_BIT) !== 0) { /* another writer */ }
        while (Atomics.load(i32, RW) !== WRITER_BIT) { /* readers draining */ }
        const p = Atomics.load(i32, PTR) >> 2;
        Atomics.store(i32, p, v);
        Atomics.store(i32, p + 1, -v);
        Atomics.store(i32, RW, 0);
      }
      ops++;
      const now = performance.now();
      if (now < next) {
        Atomics.wait(pause, 0, 0, next - now);
        next += WRITER_PERIOD_MS;
      } else {
        next = now + WRITER_PERIOD_MS;
      }
    }
  }
  arena.detach();
  port.postMessage({ type: 'done', ops, sink });
}
