/**
 * Cache flags, with the kernel's names (include/linux/slab.h). The bit values are ours.
 */
/** slab_debug `F`: sanity checks on every alloc and free (check_object, freelist checks). */
export const SLAB_CONSISTENCY_CHECKS = 1 << 0; // slab_debug letter F
/** slab_debug `Z`: red zones around each object, checked on free and by validate(). */
export const SLAB_RED_ZONE = 1 << 1; // Z
/** slab_debug `P`: poison free objects (0x6b, ending 0xa5) to catch use after free. */
export const SLAB_POISON = 1 << 2; // P
/** slab_debug `U`: record the alloc and free stack of each object (see objectTracks, cacheTraces). */
export const SLAB_STORE_USER = 1 << 3; // U
/** Align objects on cache lines (64 bytes, or the smallest power of two the object fits in). */
export const SLAB_HWCACHE_ALIGN = 1 << 4;
/** Slab pages go back to the page allocator only after a grace period: a freed object may be reused for another object of the same cache, but its memory stays of this type while readers may see it. */
export const SLAB_TYPESAFE_BY_RCU = 1 << 5;
/** Never merge this cache with another one of compatible geometry. */
export const SLAB_NO_MERGE = 1 << 6;
/** Throw instead of returning 0 when createCache fails (the kernel panics). */
export const SLAB_PANIC = 1 << 7;
/** Mark the cache reclaimable (sysfs reclaim_account); only caches that agree on it merge. */
export const SLAB_RECLAIM_ACCOUNT = 1 << 8;
/** Memory-cgroup accounting in the kernel; here only a merge key (caches that agree on it merge). */
export const SLAB_ACCOUNT = 1 << 9;
/** slab_debug `T`: report every alloc and free of the cache as a `trace` warning. */
export const SLAB_TRACE = 1 << 10; // T
/** Internal: the cache is one of the kmalloc caches. */
export const SLAB_KMALLOC = 1 << 16;

export const SLAB_DEBUG_FLAGS = SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER | SLAB_TRACE;
/** Flags that make a cache unmergeable, on either side (kernel: SLAB_NEVER_MERGE). */
export const SLAB_NEVER_MERGE = SLAB_DEBUG_FLAGS | SLAB_TYPESAFE_BY_RCU | SLAB_NO_MERGE;
/** Flags two caches must agree on to merge (kernel: SLAB_MERGE_SAME). */
export const SLAB_MERGE_SAME = SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT;
/** Flags a user may pass to createCache. */
export const SLAB_FLAGS_PERMITTED =
  SLAB_DEBUG_FLAGS | SLAB_HWCACHE_ALIGN | SLAB_TYPESAFE_BY_RCU | SLAB_NO_MERGE | SLAB_PANIC | SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT;
