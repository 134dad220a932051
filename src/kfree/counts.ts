/**
 * How many objects kfree_rcu holds: per cache (stats' kfree_rcu_pending, the destroy
 * barrier's test) and in total (Arena.kfreeRcuPending), and the fold of a detached slot's
 * per-cache counters.
 *
 * Shared words:
 * - R_KFREE_Q / R_KFREE_D of every slot's cpu record: each written by its owner only
 *   (plain increments: insert.ts, sheaves.ts, drain.ts), read here with plain loads under
 *   the cache's C_LOCK, as stats' counters.
 * - C_FOLD_KQ / C_FOLD_KD of the cache descriptor: Atomics.add by the thread that folds a
 *   detaching slot's record (foldInto, from the arena's flushAndFold under that cache's
 *   C_LOCK, which zeroes the record in the same section), so a sum under C_LOCK never
 *   counts a record twice or misses it.
 * - S_CUR, S_RCU_OPEN, open blocks' B_COUNT (plain reads: a snapshot), and the closed list
 *   walked under G_LOCK.
 *
 * Locks: pendingForCache holds one cache's C_LOCK alone; pending holds G_LOCK alone (global
 * order: src/layout.ts). Nothing here writes kfree state, so a thread killed inside leaves
 * only the lock (taken over and released by its detacher).
 */
import { C_FOLD_KD, C_FOLD_KQ, C_LOCK, Hot, R_RCU_SHEAF, pageWord } from '../layout.js';
import { lock, unlock } from '../sync/mutex.js';
import { B_COUNT, B_NEXT, G_CHAIN_COUNT, G_CHCL_COUNT, G_CLOSED_HEAD, G_LOCK, S_CUR, S_RCU_OPEN } from './layout.js';
import type { KfreeState } from './state.js';

export class KfreeCounts {
  constructor(private readonly s: KfreeState) {}

  /** Objects of cache idx queued and not yet freed, over all threads. */
  pendingForCache(idx: number): number {
    const host = this.s.host;
    const i32 = this.s.i32;
    const d = host.descW(idx);
    // Under the cache lock, as stats' counters: a detaching thread folds its record into
    // C_FOLD_KQ/KD under it (arena flushAndFold), so the sum never sees it twice.
    lock(i32, d + C_LOCK);
    let q = (Atomics.load(i32, d + C_FOLD_KQ) - Atomics.load(i32, d + C_FOLD_KD)) | 0;
    for (let slot = 0; slot < host.maxThreads; slot++) {
      const r = host.recW(slot, idx);
      q = (q + i32[r + Hot.R_KFREE_Q]! - i32[r + Hot.R_KFREE_D]!) | 0;
    }
    unlock(i32, d + C_LOCK);
    return q;
  }

  /** Total objects waiting (all threads, all caches): open and closed blocks and the chain. */
  pending(): number {
    const s = this.s;
    const host = s.host;
    const i32 = s.i32;
    const g = s.g;
    let n = i32[g + G_CHAIN_COUNT]! + i32[g + G_CHCL_COUNT]!;
    for (let slot = 0; slot < host.maxThreads; slot++) {
      const pfn = i32[s.slotW(slot) + S_CUR]!;
      if (pfn) n += i32[pageWord(pfn) + B_COUNT]!;
      if (i32[s.slotW(slot) + S_RCU_OPEN] !== 0) {
        for (let idx = 0; idx < host.maxCaches; idx++) {
          const rp = i32[host.recW(slot, idx) + R_RCU_SHEAF]!;
          if (rp) n += i32[pageWord(rp) + B_COUNT]!;
        }
      }
    }
    lock(i32, g + G_LOCK);
    for (let p = i32[g + G_CLOSED_HEAD]!; p !== 0; p = i32[pageWord(p) + B_NEXT]!) {
      n += i32[pageWord(p) + B_COUNT]!;
    }
    unlock(i32, g + G_LOCK);
    return n;
  }
}

/** Fold a detached slot's per-cache kfree counters (record word `r`) into descriptor `d` (the arena's fold). */
export function foldInto(i32: Int32Array, d: number, r: number): void {
  const q = i32[r + Hot.R_KFREE_Q]!;
  const dd = i32[r + Hot.R_KFREE_D]!;
  if (q) Atomics.add(i32, d + C_FOLD_KQ, q);
  if (dd) Atomics.add(i32, d + C_FOLD_KD, dd);
  i32[r + Hot.R_KFREE_Q] = 0;
  i32[r + Hot.R_KFREE_D] = 0;
}
