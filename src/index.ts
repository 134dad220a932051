/**
 * slabrcu: the Linux SLUB slab allocator, RCU, batched kfree_rcu() and asynchronous
 * kmem_cache_destroy() over one SharedArrayBuffer shared by worker threads.
 *
 * This is the core entry: it imports no `node:` module and runs in browsers (with
 * cross-origin isolation, for SharedArrayBuffer). Node helpers live in `slabrcu/node`.
 */
export { Arena } from './arena.js';
export type { ArenaOptions, ThreadOptions, SlabWarning } from './arena.js';
export { Cache } from './slab/cache.js';
export type { Ctor } from './slab/cache.js';
export type { CacheOptions, FindOptions } from './slab/registry.js';
export type { DestroyReport } from './slab/destroy.js';
export type { CacheStats } from './slab/stats.js';
export type { ValidateResult } from './debug/hooks.js';
export { Rcu } from './rcu/index.js';
export {
  SLAB_ACCOUNT, SLAB_CONSISTENCY_CHECKS, SLAB_HWCACHE_ALIGN, SLAB_NO_MERGE, SLAB_PANIC, SLAB_POISON,
  SLAB_RECLAIM_ACCOUNT, SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TRACE, SLAB_TYPESAFE_BY_RCU,
} from './flags.js';
export { KMALLOC_SIZES, kmallocName } from './slab/kmalloc.js';
export { PAGE_SIZE } from './layout.js';
export { calculateAlignment, calculateSizes, calculateOrder } from './slab/sizes.js';
export { defineStruct } from './struct.js';
export type { Struct, StructSpec, StructView, FieldType, FieldAccessor, AtomicFieldAccessor, ArenaViews, Int32FieldOf } from './struct.js';
export { RcuHashTable } from './rht/index.js';
export type { RhtArena, RhtOptions, RhtHandleOptions, RhtStats } from './rht/index.js';
