/**
 * What the slab room (src/slab/: core, cache, sheaf, barn, kmalloc, registry, stats,
 * destroy, repair) gets from the rest of the arena: the model is rcu/host.ts. No file under
 * src/slab/ imports the Arena; each takes a SlabHost, which the thread's Arena satisfies
 * structurally (it passes itself, so the fast paths read the very same fields as before:
 * a Cache copies i32, u8, metaW and its record word at construction, and the sheaf paths
 * keep `this.a.i32` on one object of one hidden class).
 *
 * The members fall in four groups:
 * - the shared buffer and its map: the views, `layout`, `metaW`, `descW/recW/pm`,
 *   `committedBytes` (no lock: constants, or H_NR_PAGES read with Atomics.load);
 * - this thread: `slot`, `options`, `debugSpec`, `checkAttached`, `serviceRequests`
 *   (serve requests posted to this slot, src/arena/pump.ts), `reclaim` (memory pressure:
 *   kfree_rcu, TYPESAFE_BY_RCU slabs, the quarantine);
 * - the other rooms, each through its own narrow view: `pages` (heap/buddy.ts, zone lock),
 *   `threads` (threads.ts), `rcu` (SlabRcu), `kfreeRcuImpl` (SlabKfree), `debugHooks`
 *   (debug/hooks.ts), `reporter` (report.ts ThreadReports: every report the slab room
 *   raises goes there directly);
 * - the slab room's own parts, which the Arena constructs and wires together (they call
 *   each other through the host): `registry`, `slab`, `destroyer`, `kmallocs`, and the
 *   per-thread handle maps `internalHandle/forgetInternalHandle/cacheGeometry`.
 * Locks: none is taken by the host itself; the lock order of every member's callee is the
 * table in src/layout.ts.
 */
import type { ArenaLayout } from '../layout.js';
import type { SlabDebugSpec } from '../debug/options.js';
import type { DebugHooks, ValidateResult } from '../debug/hooks.js';
import type { PageAllocator } from '../heap/buddy.js';
import type { ThreadTable } from '../threads.js';
import type { ThreadReports } from '../report.js';
import type { Cache, CacheGeometry } from './cache.js';
import type { SlabCore } from './core.js';
import type { Destroyer } from './destroy.js';
import type { Kmalloc } from './kmalloc.js';
import type { Registry } from './registry.js';
import type { CacheStats } from './stats.js';

/**
 * The RCU calls the slab room makes (destroy's bounded waits, TYPESAFE_BY_RCU slab
 * reaping): a subset of rcu/index.ts Rcu, spelled out (several are internal to it, so a Pick of Rcu would not survive stripInternal).
 */
export interface SlabRcu {
  pollState(cookie: number): boolean;
  startPoll(): number;
  synchronize(): void;
  synchronizeBounded(timeoutMs: number): number[];
  synchronizeAsyncBounded(timeoutMs: number): Promise<number[]>;
  readonly inReadSection: boolean;
  readonly mayWaitImplicitly: boolean;
  /** The GP engine, for the slots blocking a grace period (destroy's stalled report). */
  readonly core: { blockingSlots(): number[] };
}

/** What slab asks of kfree_rcu (src/kfree/): its ready objects, its per-cache counts and barrier. */
export interface SlabKfree {
  /** An allocation served from this thread's completed kfree_rcu objects of `c` (0 if none). */
  allocFromReady(c: Cache): number;
  /** Give back the completed kfree_rcu objects held in record `rec` for `c`; how many. */
  dropReady(c: Cache, rec: number): number;
  /** Objects of cache idx passed to kfreeRcu and not yet freed. */
  pendingForCache(idx: number): number;
  /** "slot s (Node threadId t), ..." for messages. */
  describeThreads(slots: number[]): string;
  /** kvfree_rcu_barrier_on_cache, bounded (destroy). */
  barrierOnCacheSync(idx: number, flushDeadline: number, gpWaitMs: number): { unresponsive: number[]; stalled: number[] };
  barrierOnCacheAsync(idx: number, flushDeadline: number, gpWaitMs: number): Promise<{ unresponsive: number[]; stalled: number[] }>;
}

/** Per-thread options the slab room reads. */
export interface SlabOptions {
  readonly destroyFlushTimeoutMs: number;
  readonly rcuStallTimeoutMs: number;
  readonly quarantineBytes: number;
}

/** The arena as the slab room sees it (see the header). */
export interface SlabHost {
  readonly sab: SharedArrayBuffer;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly layout: ArenaLayout;
  readonly metaW: number;
  readonly slot: number;
  readonly options: SlabOptions;
  readonly debugSpec: SlabDebugSpec;
  readonly threads: ThreadTable;
  readonly pages: PageAllocator;
  readonly rcu: SlabRcu;
  readonly kfreeRcuImpl: SlabKfree;
  readonly debugHooks: DebugHooks | undefined;
  readonly reporter: ThreadReports;
  readonly registry: Registry;
  readonly slab: SlabCore;
  readonly destroyer: Destroyer;
  readonly kmallocs: Kmalloc;
  /** Word index of cache descriptor idx. */
  descW(idx: number): number;
  /** Word index of slot's cpu record for cache idx. */
  recW(slot: number, idx: number): number;
  /** Word index of page pfn's metadata. */
  pm(pfn: number): number;
  /** Bytes of the arena usable now. */
  committedBytes(): number;
  /** A handle without a name for cache idx (frees and flushes by index); one per thread and generation. */
  internalHandle(idx: number): Cache;
  forgetInternalHandle(idx: number): void;
  /** Geometry of cache idx (current generation). */
  cacheGeometry(idx: number): CacheGeometry;
  /** /sys/kernel/slab/<name>/* of cache idx (slab/stats.ts cacheStats). */
  cacheStats(idx: number): CacheStats;
  /** validate_slab_cache (the debug layer's, or slab/stats.ts validateWithoutDebug). */
  validateCache(c: Cache): ValidateResult;
  /** Throw if this thread already detached. */
  checkAttached(): void;
  /** Serve requests posted to this thread (src/arena/pump.ts). */
  serviceRequests(): void;
  /** Memory pressure: free what can be freed; true if anything was. */
  reclaim(): boolean;
  /** kfree_rcu of `ptr` (Cache.kfreeRcu forwards here). */
  kfreeRcu(ptr: number): void;
}
