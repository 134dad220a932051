/**
 * kfree_rcu() / kvfree_rcu() batching (kernel: mm/slab_common.c kvfree_call_rcu,
 * kfree_rcu_monitor, kfree_rcu_work, kvfree_rcu_barrier, the kfree_rcu shrinker).
 *
 * Per thread, one open block page in shared memory collects pointers, or, for a cache
 * with sheaves, one kfree_rcu sheaf per cache. Closed blocks go onto one shared list
 * (G_LOCK); whichever thread gets there first frees a block whose grace period has
 * completed. Because blocks live in the arena, a dead thread's batches are adopted by
 * whoever detaches it, and nothing is lost.
 *
 * The rooms (each opens with its own concurrency reasoning):
 *   host.ts     KfreeHost: all kfree gets from the rest of the system (src/arena.ts builds it)
 *   state.ts    this thread's context: word indices, shared JS fields, links between modules
 *   layout.ts   the shared words (region header, slot lines, block pages)
 *   insert.ts   the kfreeRcu fast path, the checked slow path, the open block, the rcu_head chain
 *   sheaves.ts  kfree_rcu sheaves: insert, close, the ready list and its reuse by alloc
 *   blocks.ts   block page storage (spares), the closed list, closing the rcu_head chain
 *   drain.ts    freeing what is past its grace period; a dead drainer's drain
 *   pump.ts     when draining happens: the timer, the RCU worker, requests, memory pressure
 *   barrier.ts  kvfree_rcu_barrier and the per-cache barrier (one body, sync and async)
 *   wait.ts     the two drivers of the sync/async bodies
 *   adopt.ts    this thread's detach, adoption of a dead thread's batches
 *   counts.ts   pending counts, the fold of a detached slot's counters
 *   reports.ts  the kfree_rcu warnings
 * Locks: G_DRAIN_LOCK -> G_LOCK -> (nothing); G_DRAIN_LOCK -> barn / list_lock -> zone lock
 * (the global order table: src/layout.ts).
 *
 * KfreeRcu is the composition: one per thread per arena, with the public and internal
 * entry points the rest of the system calls.
 */
import type { Cache } from '../slab/cache.js';
import { KfreeAdopt } from './adopt.js';
import { KfreeBarrier, type BarrierOutcome } from './barrier.js';
import { KfreeBlocks } from './blocks.js';
import { KfreeCounts, foldInto } from './counts.js';
import { KfreeDrain } from './drain.js';
import type { KfreeHost } from './host.js';
import { KfreeInsert } from './insert.js';
import { KfreePump } from './pump.js';
import { KfreeReports } from './reports.js';
import { KfreeSheaves } from './sheaves.js';
import { KfreeState } from './state.js';

export { initKfreeRegion } from './layout.js';
export type { KfreeHost } from './host.js';

export class KfreeRcu {
  private readonly s: KfreeState;
  /**
   * kvfree_call_rcu, one argument (a per-instance closure: insert.ts makeFastPath); the
   * 2-argument form is kfreeRcuWithHead.
   */
  readonly kfreeRcu: (ptr: number) => void;

  constructor(host: KfreeHost) {
    const s = new KfreeState(host);
    this.s = s;
    s.blocks = new KfreeBlocks(s);
    s.reports = new KfreeReports(host);
    s.counts = new KfreeCounts(s);
    s.sheaves = new KfreeSheaves(s);
    s.drain = new KfreeDrain(s);
    s.pump = new KfreePump(s);
    s.barrier = new KfreeBarrier(s);
    s.adopt = new KfreeAdopt(s);
    s.insert = new KfreeInsert(s);
    this.kfreeRcu = s.insert.kfreeRcu;
  }

  /**
   * @internal Test hook: called with a progress mark at chosen steps of the slow paths
   * (drain, barrier, adoption; never the insert fast path). A test worker uses it to stop
   * at a known step (Atomics.wait on a shared word) and be terminated there, or to let
   * another thread run to a known step first. Undefined in normal use.
   */
  get testingMark(): ((mark: string) => void) | undefined {
    return this.s.testingMark;
  }

  set testingMark(fn: ((mark: string) => void) | undefined) {
    this.s.testingMark = fn;
  }

  /** kfree_rcu with the 2-argument form's rcu_head word: validated, then the usual insert. */
  kfreeRcuWithHead(ptr: number, rcuHeadOffset: number): void {
    this.s.insert.kfreeRcuSlow(ptr, rcuHeadOffset);
  }

  /** @internal SlabCore.allocSlow of a sheaf cache with ready kfree_rcu sheaves (sheaves.ts). */
  allocFromReady(c: Cache): number {
    return this.s.sheaves.allocFromReady(c);
  }

  /** @internal flushRecord: record `rec`'s ready kfree_rcu sheaves back to the slabs (sheaves.ts). */
  dropReady(c: Cache, rec: number): number {
    return this.s.sheaves.dropReady(c, rec);
  }

  /** @internal A dead thread's drain in hand, by whoever took over its drain lock (drain.ts). */
  /** @internal G_LOCK taken over from a dead holder: repair the shared lists (blocks.ts repairLists). */
  repairLists(deadSlot: number | undefined): string {
    return this.s.blocks.repairLists(deadSlot, this.s.host.maxPages);
  }

    finishDrainOf(slot: number): number {
    return this.s.drain.finishDrainOf(slot);
  }

  /** Called periodically by the RCU worker thread (pump.ts). */
  driverTick(): void {
    this.s.pump.driverTick();
  }

  /** REQ_KFREE from another thread: close our open block, take part in draining. */
  serviceRequests(): void {
    this.s.pump.serviceRequests();
  }

  /** The kfree_rcu shrinker (pump.ts). True if anything was freed. */
  reclaim(): boolean {
    return this.s.pump.reclaim();
  }

  /** "slot 3 (Node threadId 7)" for each slot: what stall reports name. */
  describeThreads(slots: number[]): string {
    return this.s.reports.describeThreads(slots);
  }

  /** kvfree_rcu_barrier, bounded, blocking (barrier.ts). Reports nothing itself. */
  barrierBounded(flushDeadline: number, gpWaitMs: number): BarrierOutcome {
    return this.s.barrier.barrierBounded(flushDeadline, gpWaitMs);
  }

  /**
   * kvfree_rcu_barrier: every object passed to kfreeRcu before the call is freed on return.
   * Returns within destroyFlushTimeoutMs + rcuStallTimeoutMs + 250 ms; a thread that kept
   * its batch or stalled the grace period is named in a `kvfree_rcu_barrier` warning.
   */
  barrier(): void {
    this.s.barrier.barrier();
  }

  barrierAsync(): Promise<void> {
    return this.s.barrier.barrierAsync();
  }

  /** kvfree_rcu_barrier_on_cache (destroy): nothing to wait for if no object of it is pending. */
  barrierOnCacheSync(idx: number, flushDeadline: number, gpWaitMs: number): BarrierOutcome {
    return this.s.barrier.barrierOnCacheSync(idx, flushDeadline, gpWaitMs);
  }

  barrierOnCacheAsync(idx: number, flushDeadline: number, gpWaitMs: number): Promise<BarrierOutcome> {
    return this.s.barrier.barrierOnCacheAsync(idx, flushDeadline, gpWaitMs);
  }

  /** Objects of cache idx queued and not yet freed, over all threads. */
  pendingForCache(idx: number): number {
    return this.s.counts.pendingForCache(idx);
  }

  /** Total objects waiting (all threads, all caches): open and closed blocks and the chain. */
  pending(): number {
    return this.s.counts.pending();
  }

  /** This thread leaves: close its block, give back spare pages, ask live threads to drain. */
  detach(): void {
    this.s.adopt.detach();
  }

  /** Called by whoever detaches a dead thread (`_gen`: the arena passes it; unused). */
  adoptDead(slot: number, _gen: number): void {
    this.s.adopt.adoptDead(slot);
  }

  /** @internal fold a detached slot's per-cache kfree counters (called from the arena's fold). */
  static foldInto(i32: Int32Array, d: number, r: number): void {
    foldInto(i32, d, r);
  }
}
