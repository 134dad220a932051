/**
 * Repair after a thread died holding a cache's list_lock (C_LOCK): the lock breaker, which
 * now holds the lock, rebuilds everything C_LOCK protects from what is authoritative in
 * shared memory, so the cache validates clean afterwards:
 * - which pages are this cache's slabs: the kind word of each head page (PK_SLAB, or
 *   PK_RCU_FREE for a TYPESAFE_BY_RCU slab waiting for its grace period) with P_CACHE =
 *   the cache index. Slab kinds change only under C_LOCK (core.ts growCache publishes a
 *   new slab's kind and lists it in one section; discard changes it in the same section
 *   it unlists), so no live thread is changing them while we hold it;
 * - which objects of a slab are free: their state bytes (objstate.ts). FREE objects make
 *   the freelist, every other state counts as in use (ALLOC, RCU, QUAR, and CACHED ones,
 *   which sit in some sheaf).
 * The partial and full lists, P_FREELIST, P_INUSE, C_NR_SLABS, C_NR_PARTIAL and the
 * TYPESAFE_BY_RCU pending list are rewritten from those. What the dead thread was moving
 * at that instant (objects marked CACHED but not yet in its sheaf, a slab built but not
 * yet published) is lost with it; nothing is ever on two lists or handed out twice.
 */
import {
  C_FULL_HEAD, C_FULL_TAIL, C_NR_PARTIAL, C_NR_SLABS, C_PARTIAL_HEAD, C_PARTIAL_TAIL, C_RCU_PENDING, OS_CACHED, OS_FREE, OS_RCU, P_CACHE,
  P_FLAGS, P_FREELIST, P_INUSE, P_NEXT, P_PREV, PAGE_SHIFT, PK_MASK, PK_RCU_FREE, PK_SLAB, pageMeta,
} from '../layout.js';
import type { Cache } from './cache.js';
import { listAdd, ON_FULL, ON_PARTIAL } from './lists.js';
import { stateAddr } from './objstate.js';

export interface RepairHost {
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  readonly metaW: number;
  readonly firstPage: number;
  readonly nrPages: number;
}

/** Rebuild cache c's slab lists and counts (the caller holds C_LOCK). Returns the slabs found. */
export function rebuildCacheLists(h: RepairHost, c: Cache): { slabs: number; partial: number; free: number } {
  const { i32, u8, metaW } = h;
  const d = c.d;
  for (const w of [C_PARTIAL_HEAD, C_PARTIAL_TAIL, C_FULL_HEAD, C_FULL_TAIL, C_NR_PARTIAL, C_RCU_PENDING]) i32[d + w] = 0;
  let slabs = 0;
  let free = 0;
  const step = 1 << c.order;
  for (let pfn = h.firstPage; pfn < h.nrPages; pfn++) {
    const m = pageMeta(metaW, pfn);
    const f = i32[m + P_FLAGS]!;
    const kind = f & PK_MASK;
    if ((kind !== PK_SLAB && kind !== PK_RCU_FREE) || i32[m + P_CACHE] !== c.idx) continue;
    i32[m + P_FLAGS] = f & ~(ON_PARTIAL | ON_FULL);
    i32[m + P_NEXT] = 0;
    i32[m + P_PREV] = 0;
    if (kind === PK_RCU_FREE) {
      i32[m + P_NEXT] = i32[d + C_RCU_PENDING]!;
      i32[d + C_RCU_PENDING] = pfn;
    } else {
      const first = (pfn << PAGE_SHIFT) + c.redLeftPad;
      let head = 0;
      let nfree = 0;
      for (let k = c.objects - 1; k >= 0; k--) {
        if (u8[stateAddr(c.stGeo, pfn, k)] !== OS_FREE) continue;
        const obj = first + k * c.size;
        i32[(obj + c.fp) >> 2] = head;
        head = obj;
        nfree++;
      }
      i32[m + P_FREELIST] = head;
      i32[m + P_INUSE] = c.objects - nfree;
      listAdd(i32, metaW, d, nfree === 0, pfn, true);
      slabs++;
      free += nfree;
    }
    pfn += step - 1;
  }
  i32[d + C_NR_SLABS] = slabs;
  return { slabs, partial: i32[d + C_NR_PARTIAL]!, free };
}

/**
 * At the final shutdown of a cache being destroyed, once every thread's sheaves of it have
 * been flushed, the barn emptied and the kfree_rcu barrier passed: an object still in
 * state CACHED is in no sheaf (a thread died between marking it and pushing it, or while
 * it held a detached sheaf), and one still in state RCU was queued by a thread that died
 * before its batch became visible (the barrier freed every batch that was). Both were
 * given back by their user, so they are free: mark them FREE and rebuild the lists (the
 * caller holds C_LOCK). Returns the objects reclaimed.
 */
export function reclaimOrphans(h: RepairHost, c: Cache): number {
  const { i32, u8, metaW } = h;
  let n = 0;
  const step = 1 << c.order;
  for (let pfn = h.firstPage; pfn < h.nrPages; pfn++) {
    const m = pageMeta(metaW, pfn);
    if ((i32[m + P_FLAGS]! & PK_MASK) !== PK_SLAB || i32[m + P_CACHE] !== c.idx) continue;
    for (let k = 0; k < c.objects; k++) {
      const a = stateAddr(c.stGeo, pfn, k);
      if (u8[a] === OS_CACHED || u8[a] === OS_RCU) {
        u8[a] = OS_FREE;
        n++;
      }
    }
    pfn += step - 1;
  }
  if (n > 0) rebuildCacheLists(h, c);
  return n;
}
