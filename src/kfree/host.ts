import type { Cache } from '../slab/cache.js';
import type { SlotTable } from '../hotplug/autowatch.js';
import type { SlabWarningKind } from '../warnings.js';

/**
 * What the kfree_rcu subsystem gets from the rest of the system (src/arena.ts builds it).
 * The kfree code owns the bytes [baseWord*4, baseWord*4 + kfreeRegionBytes(maxThreads)) of
 * the arena and its block pages (kind PK_PAGES); it reads page metadata, cache descriptors
 * and this thread's cpu records, and writes only the R_KFREE_* / R_RCU_* words of cpu
 * records (src/layout.ts says who else writes them). Everything else goes through the
 * members below. Only the kfreeRcu fast path reads the views and word bases directly; it
 * copies them into its closure at construction (insert.ts).
 */
export interface KfreeHost {
  /** Length-tracking views over the whole arena SharedArrayBuffer. */
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  /** Float64 view (index = pointer >> 3): the reciprocal of a cache's object size. */
  readonly f64: Float64Array;
  /** Int32 index where the kfree region starts (layout.ts kfreeBase >> 2). */
  readonly baseWord: number;
  /** Int32 index of page 0's metadata (layout.ts metaBase >> 2). */
  readonly metaW: number;
  readonly maxPages: number;
  readonly maxThreads: number;
  readonly maxCaches: number;
  /** This thread's slot, 0..maxThreads-1. */
  readonly slot: number;
  /** Word index of cache descriptor idx. */
  descW(idx: number): number;
  /** Word index of `slot`'s cpu record for cache idx. */
  recW(slot: number, idx: number): number;
  /** Word index of page pfn's metadata. */
  pm(pfn: number): number;
  /** The arena's options object (read at each use: kfreeRcuDrainMs, destroyFlushTimeoutMs, rcuStallTimeoutMs). */
  readonly options: KfreeOptions;
  /** This thread's RCU handle. */
  readonly rcu: KfreeRcuOps;
  /** The shared thread-slot table. */
  readonly threads: KfreeThreads;
  /** The page allocator (block pages are order 0). */
  readonly pages: KfreePages;
  /** The slab free paths a drain and the ready kfree_rcu sheaves use. */
  readonly slab: KfreeSlab;
  /** What a pointer is: a slab object (cache index), a large kmalloc block, or nothing. */
  classify(ptr: number): PtrClass;
  /** A handle for cache idx without a name (frees and flushes by cache index). */
  internalHandle(idx: number): Cache;
  /** kfree of a large kmalloc block (or any pointer, checked). */
  kfree(ptr: number): void;
  /** Throws if this thread has detached. */
  checkAttached(): void;
  /** True once this thread's detach ran. */
  isDetached(): boolean;
  /** Serve the requests other threads posted to this thread (a blocking barrier's poll). */
  serviceRequests(): void;
  /** Emit a warning event (src/warnings.ts kinds), with its one-line message and report. */
  warn(kind: SlabWarningKind, cache: string | undefined, message: string, report: string): void;
  /** Kernel taint string for BUG headers. */
  taint(): string;
  /** Count report lines as kunit's slab_errors does. */
  countSlabError(n: number): void;
  reportDoubleFree(c: Cache, ptr: number): void;
  reportInvalidFree(c: Cache | undefined, ptr: number, why: string): void;
  reportStateMisuse(c: Cache, ptr: number, op: 'free' | 'kfreeRcu', state: number): void;
}

export interface KfreeOptions {
  readonly kfreeRcuDrainMs: number;
  readonly destroyFlushTimeoutMs: number;
  readonly rcuStallTimeoutMs: number;
}

/** The RCU calls kfree_rcu makes (src/rcu/index.ts Rcu, structurally). */
export interface KfreeRcuOps {
  readonly inReadSection: boolean;
  readonly mayWaitImplicitly: boolean;
  getState(): number;
  pollState(cookie: number): boolean;
  startPoll(): number;
  tryGp(cookie: number): boolean;
  synchronize(): void;
  synchronizeAsync(): Promise<void>;
  synchronizeBounded(timeoutMs: number): number[];
  synchronizeAsyncBounded(timeoutMs: number): Promise<number[]>;
}

/** The thread table calls kfree_rcu makes (src/threads.ts ThreadTable, structurally). */
export interface KfreeThreads extends SlotTable {
  gen(slot: number): number;
  post(slot: number, flags: number): void;
  liveSlots(): number[];
}

export interface KfreePages {
  alloc(order: number): number;
  free(pfn: number, order: number): void;
}

/** The slab paths kfree_rcu frees through (src/slab/core.ts SlabCore, structurally). */
export interface KfreeSlab {
  ensureSheaf(c: Cache): boolean;
  freeGroup(c: Cache, pfn: number, head: number, tail: number, n: number, commitW: number, commitV: number, countW: number): boolean;
  freeRcuToSheaf(c: Cache, ptr: number): boolean;
  drainRunToBarn(c: Cache, recW: number, n: number, commitW: number, commitV: number, countW: number): number;
  freeUncounted(c: Cache, rec: number, obj: number): void;
  freeToSlab(c: Cache, ptr: number, expect: number, report: boolean, count?: boolean): boolean;
}

/** src/slab/kmalloc.ts Kmalloc.classify. */
export type PtrClass = { kind: 'slab'; idx: number; pfn: number } | { kind: 'large'; pfn: number; order: number } | { kind: 'none'; why: string };
