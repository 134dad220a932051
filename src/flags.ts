/**
 * Cache flags, with the kernel's names (include/linux/slab.h). The bit values are ours.
 */
export const SLAB_CONSISTENCY_CHECKS = 1 << 0; // slab_debug letter F
export const SLAB_RED_ZONE = 1 << 1; // Z
export const SLAB_POISON = 1 << 2; // P
export const SLAB_STORE_USER = 1 << 3; // U
export const SLAB_HWCACHE_ALIGN = 1 << 4;
export const SLAB_TYPESAFE_BY_RCU = 1 << 5;
export const SLAB_NO_MERGE = 1 << 6;
export const SLAB_PANIC = 1 << 7;
export const SLAB_RECLAIM_ACCOUNT = 1 << 8;
export const SLAB_ACCOUNT = 1 << 9;
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
