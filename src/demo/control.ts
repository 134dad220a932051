/**
 * The demo's control and statistics block: a small SharedArrayBuffer of its own (not in
 * the arena, so the demo's bookkeeping never shows up in slabinfo).
 *
 *   word 0          STOP: 0 while workers run; main Atomics.store's 1 to stop them
 *   per worker w, 8 words from WORKER_BASE + w * 8, written only by worker w with
 *   Atomics.store after each batch, read by main with Atomics.load:
 *     [0] reads      lookups done (wraps at 2^32: main reads it as u32 deltas)
 *     [1] updates    copy-update-publish replacements (and remove + insert)
 *     [2] errors     lookups that found a freed, reused or half-built session (must stay 0)
 *     [3] allocFail  cache.alloc() returned 0 (arena full at that moment): the update was skipped
 *     [4] leaked     sessions this worker deliberately never freed (--leak)
 */
export const STOP = 0;
export const WORKER_BASE = 16;
export const WORKER_WORDS = 8;
export const W_READS = 0;
export const W_UPDATES = 1;
export const W_ERRORS = 2;
export const W_ALLOC_FAIL = 3;
export const W_LEAKED = 4;

export function controlBuffer(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer((WORKER_BASE + workers * WORKER_WORDS) * 4);
}

export function workerWord(w: number, field: number): number {
  return WORKER_BASE + w * WORKER_WORDS + field;
}

export type Role = 'reader' | 'writer';

/** What main passes to each demo worker. */
export interface DemoWorkerData {
  sab: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  table: number;
  role: Role;
  index: number;
  keys: number;
  /** Sessions this worker must leak (only the first writer with --leak). */
  leak: number;
}
