/**
 * Thread hotplug (kernel: CPU hotplug, slub_cpu_dead + rcutree_dead_cpu): a thread leaving
 * the arena (detach), a dead thread's slot detached for it (detachDead, from a watcher's
 * workerExited), the locks a dead holder left taken over, and what each lock protects
 * repaired (repairLocked, also the broken-lease handler of sync/mutex.ts).
 *
 * Shared words and ordering:
 * - T_STATE of the slot: CAS LIVE -> DETACHING by beginDetach (threads.ts), so exactly one
 *   thread (the owner, or one detacher of a dead owner) runs the steps below for a given
 *   slot generation; store FREE by endDetach, in a finally, after the last step.
 * - T_DEAD: Atomics.store 1 by markDead (workerExited) *before* the detach, so a cleanup
 *   that needs a lock another dead thread held releases that thread's locks first.
 * - T_TOKEN: the dead owner's LOCK_TOKEN; takeOverIfOwner CASes each lock word from that
 *   token to ours, so a lock word is repaired and released by exactly one thread.
 * - The slot's cpu records (R_*): owner-only while LIVE; after beginDetach only the
 *   detacher writes them (flushAndFold), folding the counters into the descriptor's
 *   C_FOLD_* words with Atomics.add under the cache's list_lock (stats() adds the records
 *   and the folded totals under the same lock, so no reader counts an event twice).
 * Locks, in the order of the table in src/layout.ts: a dead holder's slab_mutex, zone lock,
 * list_locks, barn locks and kfree_rcu lock are taken over and released first, one at a
 * time (each repair takes nothing above it); then its kfree_rcu drain lock, whose repair
 * (finishing the drain in hand) takes barn, list and zone locks, hence last.
 * Death at each step: a detacher dying mid-way leaves the slot DETACHING (threads.ts says
 * what becomes of it); the locks it held are its own, taken over by whoever detaches the
 * detacher in turn (its T_DEAD set, its token in each lock word). Each lock a dead holder
 * left is repaired before it is released, so no other thread sees the half-done state.
 */
import type { PageAllocator } from '../heap/buddy.js';
import { KfreeRcu } from '../kfree/index.js';
import { G_DRAIN_LOCK as KG_DRAIN_LOCK, G_LOCK as KG_LOCK } from '../kfree/layout.js';
import {
  C_BARN_LOCK, C_FOLD_ALLOCS, C_FOLD_EVENTS, C_FOLD_FREES, C_LOCK, C_STATE, CACHE_BYTES, CS_FREE, H_BUDDY_LOCK, H_SLAB_MUTEX,
  R_ALLOC_FAST, R_ALLOC_SLOW, R_FLUSH, R_FREE_FAST, R_FREE_REMOTE, R_FREE_SLOW, type ArenaLayout,
} from '../layout.js';
import type { ThreadReports } from '../report.js';
import type { Cache } from '../slab/cache.js';
import type { SlabCore } from '../slab/core.js';
import { rebuildCacheLists } from '../slab/repair.js';
import { LOCK_TOKEN, lock, takeOverIfOwner, unlock } from '../sync/mutex.js';
import type { ThreadTable } from '../threads.js';

/** What hotplug needs of the thread's arena (the Arena passes itself). */
export interface HotplugHost {
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  readonly metaW: number;
  readonly layout: ArenaLayout;
  readonly slot: number;
  readonly slotGen: number;
  readonly threads: ThreadTable;
  readonly pages: PageAllocator;
  readonly slab: Pick<SlabCore, 'recordHolds' | 'flushRecord'>;
  readonly rcu: { readonly inReadSection: boolean; readonly inCallback: boolean; detach(): void; detachDeadSlot(slot: number, gen: number): number };
  readonly kfreeRcuImpl: { detach(): void; adoptDead(slot: number, gen: number): void; finishDrainOf(slot: number): number; repairLists(deadSlot: number | undefined): string };
  readonly reporter: ThreadReports;
  readonly isDetached: boolean;
  /** Record that this thread has left the arena (Arena.isDetached from now on). */
  markDetached(): void;
  descW(idx: number): number;
  recW(slot: number, idx: number): number;
  internalHandle(idx: number): Cache;
}

/** What repairLocked did, for the dead-lock-holder report. */
export interface Repair {
  name: string;
  done: string;
}

/** Leave the arena: flush cached slabs, go offline for RCU, hand over kfree_rcu batches. */
export function detachSelf(a: HotplugHost): void {
  if (a.isDetached) return;
  // Both refusals of rcu.detach() are checked here, before anything is handed over.
  if (a.rcu.inReadSection) throw new Error('slabrcu: detach() inside an RCU read-side critical section');
  if (a.rcu.inCallback) throw new Error('slabrcu: detach() inside an RCU callback');
  if (!a.threads.beginDetach(a.slot, a.slotGen)) {
    // Someone detached this slot for us (it was taken for dead): nothing is ours any more.
    a.markDetached();
    return;
  }
  try {
    a.kfreeRcuImpl.detach();
    flushAndFold(a, a.slot);
    a.rcu.detach();
  } finally {
    a.markDetached();
    a.threads.endDetach(a.slot);
  }
}

/**
 * Flush every cpu slab held in `slot`'s records and fold its counters into the caches
 * (kernel: slub_cpu_dead). For our own slot, or a dead thread's (nobody else writes it).
 */
function flushAndFold(a: HotplugHost, slot: number): void {
  const i32 = a.i32;
  for (let idx = 0; idx < a.layout.maxCaches; idx++) {
    const d = a.descW(idx);
    if (i32[d + C_STATE] === CS_FREE) continue;
    const r = a.recW(slot, idx);
    // Sheaves first (kernel: __pcs_flush_all_cpu in slub_cpu_dead); a sheaf's storage
    // is a kmalloc object, given back through the kmalloc cache's locked path.
    if (a.slab.recordHolds(r)) a.slab.flushRecord(a.internalHandle(idx), r);
    // Under the cache lock, which stats() also holds while it adds the records and the
    // folded totals: otherwise a reader between the Atomics.add below and the zeroing
    // counts these events twice, or the allocs once and the frees twice (a negative
    // objects count was seen under load).
    lock(i32, d + C_LOCK);
    foldCounters(i32, d, r);
    unlock(i32, d + C_LOCK);
  }
}

/** Fold record r's event counters into descriptor d and zero them (the caller holds d's list_lock). */
function foldCounters(i32: Int32Array, d: number, r: number): void {
  const allocs = (i32[r + R_ALLOC_FAST]! + i32[r + R_ALLOC_SLOW]!) | 0;
  const frees = (i32[r + R_FREE_FAST]! + i32[r + R_FREE_REMOTE]! + i32[r + R_FREE_SLOW]!) | 0;
  if (allocs !== 0) Atomics.add(i32, d + C_FOLD_ALLOCS, allocs);
  if (frees !== 0) Atomics.add(i32, d + C_FOLD_FREES, frees);
  for (let k = R_ALLOC_FAST; k <= R_FREE_SLOW; k++) {
    if (i32[r + k] !== 0) Atomics.add(i32, d + C_FOLD_EVENTS + (k - R_ALLOC_FAST), i32[r + k]!);
    i32[r + k] = 0;
  }
  i32[r + R_FLUSH] = 0;
  KfreeRcu.foldInto(i32, d, r);
}

/**
 * Detach a thread that died (kernel: CPU hotplug, slub_cpu_dead + rcutree_dead_cpu):
 * its cpu slabs are flushed, its kfree_rcu batches adopted, its read section stops
 * blocking grace periods. Safe to call more than once; only the first call acts.
 */
export function detachDead(a: HotplugHost, slot: number, gen: number): boolean {
  if (slot === a.slot) return false;
  if (!a.threads.beginDetach(slot, gen)) return false;
  releaseDeadLocks(a, slot);
  try {
    a.kfreeRcuImpl.adoptDead(slot, gen);
    flushAndFold(a, slot);
    const lost = a.rcu.detachDeadSlot(slot, gen);
    if (lost > 0) {
      const msg = `rcu: thread slot ${slot} (gen ${gen}) died with ${lost} callbacks queued; they are lost (closures cannot cross threads)`;
      a.reporter.warn('rcu-callbacks-lost', undefined, msg, `${msg}\nCall arena.rcu.barrier() in a worker before it exits to run its callbacks.`);
    }
  } finally {
    a.threads.endDetach(slot);
  }
  return true;
}

/**
 * Every thread known to be dead (several may die at once, each maybe holding a lock the
 * other's cleanup needs) loses its locks before we take any; then their kfree_rcu drain
 * locks, each repaired (its drain in hand finished, which takes cache and zone locks:
 * hence after the others) before it is released.
 */
function releaseDeadLocks(a: HotplugHost, slot: number): void {
  for (const drainLock of [false, true]) {
    releaseLocksOf(a, slot, drainLock);
    for (let s = 0; s < a.layout.maxThreads; s++) if (s !== slot && a.threads.isMarkedDead(s)) releaseLocksOf(a, s, drainLock);
  }
}

/**
 * A thread can die inside a critical section (terminate() interrupts JS anywhere):
 * release every allocator lock it held, and say so (the protected list may be
 * half-updated, as after a kernel oops inside a spinlock).
 */
function releaseLocksOf(a: HotplugHost, slot: number, drainLock: boolean): void {
  const token = a.threads.token(slot);
  if (token === 0 || token === LOCK_TOKEN) return;
  const kg = a.layout.kfreeBase >> 2;
  const words = drainLock ? [kg + KG_DRAIN_LOCK] : [H_SLAB_MUTEX, H_BUDDY_LOCK];
  if (!drainLock) {
    for (let idx = 0; idx < a.layout.maxCaches; idx++) words.push(a.descW(idx) + C_LOCK, a.descW(idx) + C_BARN_LOCK);
    words.push(kg + KG_LOCK);
  }
  for (const w of words) {
    if (!takeOverIfOwner(a.i32, w, token)) continue;
    let what: Repair;
    try {
      what = repairLocked(a, w, slot);
    } finally {
      unlock(a.i32, w);
    }
    const msg = `slabrcu: thread ${slot} died holding ${what.name}; ${what.done}`;
    a.reporter.warn('dead-lock-holder', undefined, msg, `${msg}\nA thread was terminated inside a critical section.`);
  }
}

/**
 * Repair what lock word `w` protects, for a lock this thread took over from a dead holder
 * (it holds it now): the zone lock's free lists and a cache's slab lists are rebuilt from
 * the page kinds and object states (heap/buddy.ts rebuildFreeLists, slab/repair.ts); the
 * barn commits every change with one store and needs nothing; the kfree_rcu drain lock of
 * a dead `slot` (detachDead): its drain in hand is finished (KfreeRcu.finishDrainOf).
 * Without `slot` (a lock broken by its lease: the holder may be alive) the drain is left
 * to it (or to adoptSlot when it is detached).
 */
export function repairLocked(a: HotplugHost, w: number, slot?: number): Repair {
  if (w === H_BUDDY_LOCK) {
    const free = a.pages.rebuildFreeLists();
    return { name: 'zone lock', done: `free lists rebuilt from the page kinds (${free} pages free)` };
  }
  if (w === H_SLAB_MUTEX) return { name: 'slab_mutex', done: 'lock released' };
  const d0 = a.layout.cacheBase >> 2;
  const words = CACHE_BYTES >> 2;
  if (w >= d0 && w < d0 + a.layout.maxCaches * words) {
    const idx = Math.floor((w - d0) / words);
    const off = w - d0 - idx * words;
    if (off === C_BARN_LOCK) return { name: `barn lock of cache ${idx}`, done: 'lock released (the barn commits with one store)' };
    if (off === C_LOCK && a.i32[a.descW(idx) + C_STATE] !== CS_FREE) {
      const h = a.internalHandle(idx);
      const r = rebuildCacheLists({ i32: a.i32, u8: a.u8, metaW: a.metaW, firstPage: a.layout.firstPage, nrPages: a.pages.nrPages }, h);
      return { name: `list_lock of cache ${h.cacheName}`, done: `slab lists rebuilt from the object states (${r.slabs} slabs, ${r.partial} partial, ${r.free} free objects)` };
    }
    return { name: `lock of cache ${idx}`, done: 'lock released' };
  }
  if (slot !== undefined && w === (a.layout.kfreeBase >> 2) + KG_DRAIN_LOCK) {
    const n = a.kfreeRcuImpl.finishDrainOf(slot);
    return { name: 'kfree_rcu drain lock', done: `its drain finished (${n} objects freed), then the lock released` };
  }
  if (w === (a.layout.kfreeBase >> 2) + KG_LOCK) return { name: 'kfree_rcu lock', done: a.kfreeRcuImpl.repairLists(slot) };
  return { name: 'kfree_rcu lock', done: 'lock released' };
}

/** The Node thread `tid` exited: detach its slot if it still holds one. */
export function workerExited(a: HotplugHost, tid: number): void {
  const s = a.threads.findByTid(tid);
  if (s < 0) return;
  // Mark first: if other workers died with it, holding a lock this cleanup needs,
  // the cleanup releases every marked thread's locks before taking any.
  a.threads.markDead(s);
  if (!a.isDetached) detachDead(a, s, a.threads.gen(s));
}
