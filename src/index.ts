/**
 * slabrcu: the Linux SLUB slab allocator, RCU, batched kfree_rcu() and asynchronous
 * kmem_cache_destroy() over one SharedArrayBuffer shared by worker threads.
 *
 * This is the core entry: it imports no `node:` module and runs in browsers (with
 * cross-origin isolation, for SharedArrayBuffer). Node helpers live in `slabrcu/node`,
 * which re-exports everything here too. The package is ESM-only.
 *
 * Start with {@link Arena.create} (one per program), {@link Arena.attach} in each worker,
 * {@link Arena.createCache} / {@link Arena.findCache} for caches, {@link Arena.rcu} for RCU
 * and {@link Arena.kfreeRcu} for batched frees after a grace period.
 *
 * @module slabrcu
 */
export { Arena } from './arena.js';
export type { ArenaOptions, PageStats, ThreadOptions, SlabWarning, WorkerLike, Ctor, CacheOptions, FindOptions } from './arena.js';
export type { SlabWarningKind } from './warnings.js';
export { SLAB_WARNING_KINDS } from './warnings.js';
export { Cache } from './slab/cache.js';
export type { DestroyReport, LeakedObject } from './slab/destroy.js';
export type { CacheStats } from './slab/stats.js';
export type { ValidateResult } from './debug/hooks.js';
export { Rcu } from './rcu/index.js';
export type { RcuFlavour, UnlockPath } from './rcu/index.js';
export {
  SLAB_ACCOUNT, SLAB_CONSISTENCY_CHECKS, SLAB_HWCACHE_ALIGN, SLAB_NO_MERGE, SLAB_PANIC, SLAB_POISON,
  SLAB_RECLAIM_ACCOUNT, SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TRACE, SLAB_TYPESAFE_BY_RCU,
} from './flags.js';
export { KMALLOC_SIZES, kmallocName } from './slab/kmalloc.js';
export { PAGE_SIZE } from './layout.js';
export { calculateAlignment, calculateSizes, calculateOrder } from './slab/sizes.js';
export type { ObjectLayout } from './slab/sizes.js';
export { defineStruct } from './struct.js';
export type { Struct, StructSpec, StructView, FieldType, FieldAccessor, AtomicFieldAccessor, ArenaViews, Int32FieldOf } from './struct.js';
export { RcuHashTable } from './rht/index.js';
export type { RhtArena, RhtOptions, RhtHandleOptions, RhtStats } from './rht/index.js';
// SLUB debugging helpers (src/debug): tracks, debugfs-style traces, quarantine, stack depot.
export {
  cacheTraces, objectTracks, quarantineFlush, quarantineStats, stackDepotStats,
  POISON_END, POISON_FREE, POISON_INUSE, SLUB_RED_ACTIVE, SLUB_RED_INACTIVE,
} from './debug/index.js';
export type { CacheTraces, ObjectTracks, QuarantineStats, StackDepotStats, TraceLocation, TrackInfo } from './debug/index.js';
