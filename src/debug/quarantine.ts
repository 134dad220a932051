/**
 * The quarantine (kernel: mm/kasan/quarantine.c, quarantine_put / quarantine_reduce /
 * quarantine_remove_cache): freed objects are held, poisoned, in FIFO order before the
 * allocator may reuse them, so a use after free writes into memory nobody owns yet and
 * is found when the object leaves the quarantine (src/debug/index.ts evictOne).
 *
 * Unlike KASAN's per-CPU queues feeding a global list of batches, we keep one global
 * ring in shared memory under one lock: frees with the quarantine on are already a slow
 * path, and a single FIFO gives the strict oldest-first order users reason about.
 *
 * The ring (2 Int32 words per entry: object, stride) lives in buddy pages taken at the
 * first put (PK_PAGES, tagged QUARANTINE_PAGE_TAG). Its capacity bounds the number of
 * objects held as KASAN's batch limits do: an object leaves when the bytes held exceed
 * `quarantineBytes` or the ring is full. A removed entry (destroy flushing one cache)
 * becomes a hole (object 0) skipped when it reaches the head.
 *
 * Lock order: a cache's C_LOCK -> D_Q_LOCK -> H_BUDDY_LOCK. Nothing here takes C_LOCK:
 * evicted objects are returned to the caller, which frees them after unlocking.
 * Shared words: see src/debug/layout.ts (D_Q_*).
 */
import type { DebugHost } from './host.js';
import { headPfnOf, P_CACHE, P_FLAGS, PAGE_SHIFT, PK_PAGES, pageFlags } from '../layout.js';
import { getOrder } from '../slab/sizes.js';
import { lock, unlock } from '../sync/mutex.js';
import {
  D_Q_BYTES, D_Q_CAP, D_Q_COUNT, D_Q_DOUBLE, D_Q_EVICTED, D_Q_HEAD, D_Q_LOCK, D_Q_OBJECTS, D_Q_RING, D_Q_UAF,
  QUARANTINE_PAGE_TAG,
} from './layout.js';

/** Counters of the KASAN-style quarantine, as {@link quarantineStats} returns them. */
export interface QuarantineStats {
  /** Budget in bytes (the arena's quarantineBytes). */
  budget: number;
  /** Objects held now. */
  objects: number;
  /** Bytes held now (sum of strides). */
  bytes: number;
  /** Ring capacity (objects). */
  capacity: number;
  /** Objects that left the quarantine so far. */
  evicted: number;
  /** Use-after-free writes found when objects left. */
  useAfterFree: number;
  /** Frees of an object that was already in the quarantine. */
  doubleFree: number;
}

/** Ring capacity for a budget: one entry per 32 bytes, between 1 Ki and 64 Ki entries. */
export function ringCapacity(budget: number): number {
  let cap = 1024;
  while (cap < 65536 && cap * 32 < budget) cap *= 2;
  return cap;
}

export class Quarantine {
  private readonly i32: Int32Array;
  private readonly b: number; // word index of the debug region
  readonly budget: number;

  constructor(private readonly a: DebugHost) {
    this.i32 = a.i32;
    this.b = a.layout.debugBase >> 2;
    this.budget = a.options.quarantineBytes;
  }

  /** The ring, allocated on first use (under D_Q_LOCK). Returns its word index, 0 if no memory. */
  private ring(): number {
    const i32 = this.i32;
    const b = this.b;
    let r = i32[b + D_Q_RING]!;
    if (r !== 0) return r >> 2;
    const cap = ringCapacity(this.budget);
    const order = getOrder(cap * 8);
    const pfn = this.a.pages.alloc(order);
    if (pfn === 0) return 0;
    const m = this.a.pm(pfn);
    i32[m + P_CACHE] = QUARANTINE_PAGE_TAG;
    this.a.pages.markTails(pfn, order);
    Atomics.store(i32, m + P_FLAGS, pageFlags(PK_PAGES, order));
    r = pfn << PAGE_SHIFT;
    i32[b + D_Q_CAP] = cap;
    i32[b + D_Q_HEAD] = 0;
    i32[b + D_Q_COUNT] = 0;
    i32[b + D_Q_RING] = r;
    return r >> 2;
  }

  /**
   * quarantine_put: append obj (stride `size`). Returns the objects that must leave to
   * keep within budget (oldest first), or null if the ring could not be allocated (the
   * caller frees obj at once).
   */
  put(obj: number, size: number): number[] | null {
    const i32 = this.i32;
    const b = this.b;
    lock(i32, b + D_Q_LOCK);
    try {
      const rw = this.ring();
      if (rw === 0) return null;
      const cap = i32[b + D_Q_CAP]!;
      const out: number[] = [];
      while (i32[b + D_Q_COUNT]! > 0 && (i32[b + D_Q_COUNT]! >= cap || i32[b + D_Q_BYTES]! + size > this.budget)) {
        const o = this.popLocked(rw, cap);
        if (o !== 0) out.push(o);
      }
      const slot = (i32[b + D_Q_HEAD]! + i32[b + D_Q_COUNT]!) % cap;
      i32[rw + 2 * slot] = obj;
      i32[rw + 2 * slot + 1] = size;
      i32[b + D_Q_COUNT]!++;
      Atomics.store(i32, b + D_Q_BYTES, i32[b + D_Q_BYTES]! + size);
      Atomics.store(i32, b + D_Q_OBJECTS, i32[b + D_Q_OBJECTS]! + 1);
      return out;
    } finally {
      unlock(i32, b + D_Q_LOCK);
    }
  }

  /** Take the oldest entry (under D_Q_LOCK). Returns the object, 0 for a hole. */
  private popLocked(rw: number, cap: number): number {
    const i32 = this.i32;
    const b = this.b;
    const h = i32[b + D_Q_HEAD]!;
    const o = i32[rw + 2 * h]!;
    const sz = i32[rw + 2 * h + 1]!;
    i32[rw + 2 * h] = 0;
    i32[b + D_Q_HEAD] = (h + 1) % cap;
    i32[b + D_Q_COUNT]!--;
    if (o !== 0) {
      Atomics.store(i32, b + D_Q_BYTES, i32[b + D_Q_BYTES]! - sz);
      Atomics.store(i32, b + D_Q_OBJECTS, i32[b + D_Q_OBJECTS]! - 1);
    }
    return o;
  }

  /**
   * quarantine_remove_cache: take out every object of cache `idx` (or all objects when
   * idx < 0), oldest first. The caller frees them.
   */
  take(idx: number): number[] {
    const i32 = this.i32;
    const b = this.b;
    const out: number[] = [];
    lock(i32, b + D_Q_LOCK);
    try {
      const rw = i32[b + D_Q_RING]! >> 2;
      if (rw === 0) return out;
      const cap = i32[b + D_Q_CAP]!;
      if (idx < 0) {
        while (i32[b + D_Q_COUNT]! > 0) {
          const o = this.popLocked(rw, cap);
          if (o !== 0) out.push(o);
        }
        return out;
      }
      const head = i32[b + D_Q_HEAD]!;
      const n = i32[b + D_Q_COUNT]!;
      for (let k = 0; k < n; k++) {
        const s = (head + k) % cap;
        const o = i32[rw + 2 * s]!;
        if (o === 0 || this.cacheOf(o) !== idx) continue;
        out.push(o);
        i32[rw + 2 * s] = 0;
        Atomics.store(i32, b + D_Q_BYTES, i32[b + D_Q_BYTES]! - i32[rw + 2 * s + 1]!);
        Atomics.store(i32, b + D_Q_OBJECTS, i32[b + D_Q_OBJECTS]! - 1);
      }
      // Holes at the head go at once, so an emptied ring reads as empty.
      while (i32[b + D_Q_COUNT]! > 0 && i32[rw + 2 * i32[b + D_Q_HEAD]!] === 0) this.popLocked(rw, cap);
      return out;
    } finally {
      unlock(i32, b + D_Q_LOCK);
    }
  }

  /** Objects of cache `idx` held now (a scan under D_Q_LOCK; destroy's silent pass). */
  countCache(idx: number): number {
    const i32 = this.i32;
    const b = this.b;
    lock(i32, b + D_Q_LOCK);
    try {
      const rw = i32[b + D_Q_RING]! >> 2;
      if (rw === 0) return 0;
      const cap = i32[b + D_Q_CAP]!;
      const head = i32[b + D_Q_HEAD]!;
      let n = 0;
      for (let k = 0; k < i32[b + D_Q_COUNT]!; k++) {
        const o = i32[rw + 2 * ((head + k) % cap)]!;
        if (o !== 0 && this.cacheOf(o) === idx) n++;
      }
      return n;
    } finally {
      unlock(i32, b + D_Q_LOCK);
    }
  }

  /** Cache index of the slab holding obj (its slab cannot go away while obj is held). */
  cacheOf(obj: number): number {
    const a = this.a;
    return a.i32[a.pm(headPfnOf(a.i32, a.metaW, obj)) + P_CACHE]!;
  }

  /** Is obj held now? (Linear scan: used only to confirm rare cases and by tests.) */
  holds(obj: number): boolean {
    const i32 = this.i32;
    const b = this.b;
    lock(i32, b + D_Q_LOCK);
    try {
      const rw = i32[b + D_Q_RING]! >> 2;
      if (rw === 0) return false;
      const cap = i32[b + D_Q_CAP]!;
      const head = i32[b + D_Q_HEAD]!;
      for (let k = 0; k < i32[b + D_Q_COUNT]!; k++) if (i32[rw + 2 * ((head + k) % cap)] === obj) return true;
      return false;
    } finally {
      unlock(i32, b + D_Q_LOCK);
    }
  }

  countEvicted(n: number): void {
    if (n) Atomics.add(this.i32, this.b + D_Q_EVICTED, n);
  }

  countUaf(): void {
    Atomics.add(this.i32, this.b + D_Q_UAF, 1);
  }

  countDouble(): void {
    Atomics.add(this.i32, this.b + D_Q_DOUBLE, 1);
  }

  stats(): QuarantineStats {
    const i32 = this.i32;
    const b = this.b;
    return {
      budget: this.budget,
      objects: Atomics.load(i32, b + D_Q_OBJECTS),
      bytes: Atomics.load(i32, b + D_Q_BYTES),
      capacity: Atomics.load(i32, b + D_Q_CAP) || ringCapacity(this.budget),
      evicted: Atomics.load(i32, b + D_Q_EVICTED),
      useAfterFree: Atomics.load(i32, b + D_Q_UAF),
      doubleFree: Atomics.load(i32, b + D_Q_DOUBLE),
    };
  }
}
