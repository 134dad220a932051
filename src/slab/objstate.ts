/**
 * Object states: one byte per slab object saying who holds it (layout.ts OS_*). This is
 * what makes every double free, double kfreeRcu, kfreeRcu of a freed object and free of
 * an object pending in kfreeRcu a report on *every* cache, not only debug caches (the
 * kernel's freelist hardening only catches a free of the freelist head), and it is the
 * authoritative record a lock breaker rebuilds a dead holder's slab lists from
 * (src/slab/repair.ts).
 *
 * Where the byte lives (C_ST_SHIFTS, C_ST_C, written at create):
 * - strides below STATE_IN_META_MIN: an array of `objects` bytes at the very end of the
 *   slab (slabs hold floor(slabBytes / (stride + 1)) objects so it always fits; the old
 *   SLAB allocator kept its freelist index array at the same place);
 * - larger strides: bytes 24..31 (P_ST) of the metadata of the slab's pages, 8 objects a
 *   page (a slab of such a cache never holds more than 8 objects a page).
 * Both are one formula, so the fast paths have no branch on it:
 *   addr = (headPfn << pshift) + C + ((k >> 3) << sh) + (k & 7).
 *
 * Transitions, and who makes them (plain byte loads and stores: a byte store never tears
 * its neighbours, which belong to objects other threads may be changing at the same time):
 *   FREE -> CACHED    refill of a sheaf, under the cache's C_LOCK (bulk.ts)
 *   FREE -> ALLOC     alloc of a cache without sheaves, under C_LOCK
 *   CACHED -> ALLOC   alloc from the thread's own sheaf (fast path), by that thread
 *   ALLOC -> CACHED   free into the freeing thread's sheaf (fast path), by that thread
 *   ALLOC -> FREE     free of a cache without sheaves, under C_LOCK
 *   ALLOC -> RCU      kfreeRcu, by the calling thread
 *   RCU -> CACHED/FREE  the kfree_rcu drain after the grace period (src/kfree)
 *   CACHED -> FREE    flush of a sheaf to its slabs, under C_LOCK
 *   ALLOC -> QUAR -> FREE  the debug quarantine
 * A free checks ALLOC before it changes anything, kfreeRcu checks ALLOC, so each misuse is
 * refused with a report and nothing moves. Two threads freeing the *same* object at the
 * *same* instant can both see ALLOC (a plain byte, no atomic read-modify-write: that would
 * cost an Atomics operation on every free); any free that happens-after the first one
 * (program order, a message, any Atomics synchronisation) sees its store and is refused.
 *
 * If a thread dies between the state store and the push or pop that goes with it, the
 * object is in no list and no sheaf: lost with the thread, never handed out twice.
 */
import { C_ST_C, C_ST_SHIFTS, P_ST, PAGE_SHIFT } from '../layout.js';
import { STATE_IN_META_MIN } from './sizes.js';

/** Per-cache constants of the state formula (a Cache handle copies them). */
export interface StateGeometry {
  pshift: number;
  c: number;
  sh: number;
}

export function stateGeometry(metaW: number, size: number, order: number, objects: number): StateGeometry {
  if (size >= STATE_IN_META_MIN) {
    return { pshift: 5, c: metaW * 4 + P_ST * 4, sh: 5 };
  }
  return { pshift: PAGE_SHIFT, c: (PAGE_SIZE_OF(order)) - objects, sh: 3 };
}

const PAGE_SIZE_OF = (order: number): number => (1 << PAGE_SHIFT) << order;

/** At create: the descriptor's C_ST_* words. */
export function writeStateGeometry(i32: Int32Array, d: number, metaW: number, size: number, order: number, objects: number): void {
  const g = stateGeometry(metaW, size, order, objects);
  i32[d + C_ST_C] = g.c;
  i32[d + C_ST_SHIFTS] = g.pshift | (g.sh << 8);
}

export function readStateGeometry(i32: Int32Array, d: number): StateGeometry {
  const s = i32[d + C_ST_SHIFTS]!;
  return { pshift: s & 255, c: i32[d + C_ST_C]!, sh: s >> 8 };
}

/** Byte address of the state of object `k` of the slab whose head page is `hp`. */
export function stateAddr(g: StateGeometry, hp: number, k: number): number {
  return (hp << g.pshift) + g.c + ((k >> 3) << g.sh) + (k & 7);
}

/** Set every object of a new slab to `state` (new_slab, under C_LOCK before it is published). */
export function initSlabStates(u8: Uint8Array, g: StateGeometry, hp: number, objects: number, state: number): void {
  if (g.sh === 3) {
    // One array at the slab's end.
    // (A loop: fill() on a shared buffer's view goes through the runtime.)
    const a = stateAddr(g, hp, 0);
    for (let k = 0; k < objects; k++) u8[a + k] = state;
    return;
  }
  for (let k = 0; k < objects; k += 8) {
    const a = stateAddr(g, hp, k);
    u8.fill(state, a, a + Math.min(8, objects - k));
  }
}

