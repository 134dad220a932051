/**
 * The barn (kernel: struct node_barn; one per cache here, as the kernel has one per node
 * and we have one node): full and empty sheaves that any thread can take, so a thread
 * that frees more than it allocates hands whole sheaves to one that allocates more, at
 * one lock per sheaf instead of one per object.
 *
 * Shared words (descriptor, src/layout.ts): C_BARN_LOCK protects C_NR_FULL, C_NR_EMPTY
 * and the arrays C_BARN_FULL[MAX_FULL_SHEAVES], C_BARN_EMPTY[MAX_EMPTY_SHEAVES] of sheaf
 * header addresses (the first C_NR_* entries are valid). An array rather than a list so
 * that every change commits with one store of a count: a put writes the slot, then the
 * count; a take reads the slot, then lowers the count. A thread stopped inside the lock
 * leaves the barn consistent (the sheaf it was moving is lost with it), so whoever breaks
 * that lock has nothing to repair. Counts are also read without the lock (racily, as the
 * kernel's data_race() reads) only to decide whether to try.
 *
 * Lock order: C_BARN_LOCK is taken with no other allocator lock held (see core.ts).
 * The ST_* counters (sysfs barn_get, barn_put, ...) are Atomics.add on the descriptor.
 */
import { Hot } from '../layout.js';
import { lock, unlock } from '../sync/mutex.js';
import type { Cache } from './cache.js';

export class Barn {
  constructor(private readonly i32: Int32Array) {}

  /** Add `n` to counter ST_* `k` of cache c. */
  stat(c: Cache, k: number, n = 1): void {
    Atomics.add(this.i32, c.d + Hot.C_ST_BASE + k, n);
  }

  /** barn_replace_empty_sheaf's half: a full sheaf, or 0 (BARN_GET / BARN_GET_FAIL when `count`). */
  takeFull(c: Cache, count = true): number {
    const s = this.take(c, Hot.C_NR_FULL, Hot.C_BARN_FULL);
    if (count) this.stat(c, s !== 0 ? Hot.ST_BARN_GET : Hot.ST_BARN_GET_FAIL);
    return s;
  }

  /** An empty sheaf from the barn (its SH_COUNT set to 0), or 0. */
  takeEmpty(c: Cache): number {
    const s = this.take(c, Hot.C_NR_EMPTY, Hot.C_BARN_EMPTY);
    if (s !== 0) this.i32[(s >> 2) + Hot.SH_COUNT] = 0;
    return s;
  }

  /** True when the barn already has MAX_FULL_SHEAVES full sheaves (a racy read). */
  fullListFull(c: Cache): boolean {
    return this.i32[c.d + Hot.C_NR_FULL]! >= Hot.MAX_FULL_SHEAVES;
  }

  /** barn_put_full_sheaf: false (BARN_PUT_FAIL) if the barn has MAX_FULL_SHEAVES already. */
  putFull(c: Cache, s: number): boolean {
    const ok = this.put(c, s, Hot.C_NR_FULL, Hot.C_BARN_FULL, Hot.MAX_FULL_SHEAVES);
    this.stat(c, ok ? Hot.ST_BARN_PUT : Hot.ST_BARN_PUT_FAIL);
    return ok;
  }

  /** Count a put that was not even tried (the barn was seen full). */
  putFailed(c: Cache): void {
    this.stat(c, Hot.ST_BARN_PUT_FAIL);
  }

  /** barn_put_empty_sheaf: false if the barn has MAX_EMPTY_SHEAVES already (the caller frees it). */
  putEmpty(c: Cache, s: number): boolean {
    return this.put(c, s, Hot.C_NR_EMPTY, Hot.C_BARN_EMPTY, Hot.MAX_EMPTY_SHEAVES);
  }

  /**
   * The last sheaf of one of the barn's arrays (count word nrW, slots at arrW), or 0.
   * The slot is read, then the count lowered: that store is the commit.
   */
  private take(c: Cache, nrW: number, arrW: number): number {
    const i32 = this.i32;
    const d = c.d;
    if (i32[d + nrW] === 0) return 0; // racy first look, as the kernel's data_race()
    lock(i32, d + Hot.C_BARN_LOCK);
    const n = i32[d + nrW]!;
    let s = 0;
    if (n > 0) {
      s = i32[d + arrW + n - 1]!;
      i32[d + nrW] = n - 1;
    }
    unlock(i32, d + Hot.C_BARN_LOCK);
    return s;
  }

  /** Append sheaf s to one of the arrays unless it holds `max`: the slot, then the count (the commit). */
  private put(c: Cache, s: number, nrW: number, arrW: number, max: number): boolean {
    const i32 = this.i32;
    const d = c.d;
    if (i32[d + nrW]! >= max) return false;
    lock(i32, d + Hot.C_BARN_LOCK);
    const n = i32[d + nrW]!;
    const ok = n < max;
    if (ok) {
      i32[d + arrW + n] = s;
      i32[d + nrW] = n + 1;
    }
    unlock(i32, d + Hot.C_BARN_LOCK);
    return ok;
  }

  /** Sheaves in the barn, and the objects in its full ones (racy; stats). */
  counts(c: Cache): { full: number; empty: number; objects: number } {
    const i32 = this.i32;
    const d = c.d;
    const full = Math.min(i32[d + Hot.C_NR_FULL]!, Hot.MAX_FULL_SHEAVES);
    let objects = 0;
    for (let k = 0; k < full; k++) {
      const s = i32[d + Hot.C_BARN_FULL + k]!;
      if (s !== 0) objects += i32[(s >> 2) + Hot.SH_COUNT]!;
    }
    return { full, empty: i32[d + Hot.C_NR_EMPTY]!, objects };
  }
}
