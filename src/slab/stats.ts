/**
 * /sys/kernel/slab/<cache>/ attributes (mm/slub.c SLAB_ATTR_RO/RW) and SLUB_STATS
 * counters, plus /proc/slabinfo (mm/slab_common.c cache_show, version 2.1).
 *
 * Counters are summed from every thread's cpu record: each thread increments its own
 * with plain stores (no Atomics on the fast paths); readers sum them racily. A 32-bit
 * aligned load is never torn, so a snapshot is exact whenever the threads are quiet and
 * off by at most the operations in flight otherwise. Threads that detached folded their
 * counts into C_FOLD_ALLOCS / C_FOLD_FREES, and their event counters into C_FOLD_EVENTS.
 */
import type { SlabHost } from './host.js';
import {
  SLAB_CONSISTENCY_CHECKS, SLAB_HWCACHE_ALIGN, SLAB_POISON, SLAB_RECLAIM_ACCOUNT, SLAB_RED_ZONE, SLAB_STORE_USER,
  SLAB_TRACE, SLAB_TYPESAFE_BY_RCU,
} from '../flags.js';
import {
  C_ALLOC_SLAB, C_FLAGS, C_FOLD_ALLOCS, C_FOLD_EVENTS, C_FOLD_FREES, C_FREE_SLAB, C_LOCK, C_NR_PARTIAL, C_NR_SLABS,
  C_PARTIAL_HEAD, C_REFCOUNT, C_STATE, P_INUSE, P_NEXT, R_ALLOC_FAST, R_ALLOC_SLOW, R_FREE_FAST, R_FREE_REMOTE,
  R_FREE_SLOW, C_ST_BASE, ST_BARN_GET, ST_BARN_GET_FAIL, ST_BARN_PUT, ST_BARN_PUT_FAIL, ST_SHEAF_ALLOC, ST_SHEAF_FLUSH,
  ST_SHEAF_FREE, ST_SHEAF_REFILL, C_NR_FULL, C_NR_EMPTY,
} from '../layout.js';
import { lock, unlock } from '../sync/mutex.js';
import { CACHE_STATE_NAMES, type Cache } from './cache.js';
import type { ValidateResult } from '../debug/hooks.js';

/** Per-cache counters and attributes, named as in /sys/kernel/slab/<cache>/ (see {@link Cache.stats}). */
export interface CacheStats {
  /** Cache name. */
  name: string;
  /** Descriptor state: 'live', 'dying' (destroy in progress), 'leaked' (destroyed with objects left) or 'free'. */
  state: 'free' | 'live' | 'dying' | 'leaked';
  /** Object size requested (sysfs object_size). */
  object_size: number;
  /** Stride between objects (sysfs slab_size). */
  slab_size: number;
  /** Objects per slab (sysfs objs_per_slab). */
  objs_per_slab: number;
  /** Pages per slab as a power of two (sysfs order). */
  order: number;
  /** Objects allocated and not freed (exact). */
  objects: number;
  /** Objects in use on partial slabs. */
  objects_partial: number;
  /** Object capacity of all slabs (sysfs total_objects). */
  total_objects: number;
  /** Slabs of the cache (sysfs slabs). */
  slabs: number;
  /** Slabs on the partial list (sysfs partial). */
  partial: number;
  /** Always 0: Linux 7.0 has no cpu slabs (sysfs cpu_slabs reads 0, kept for ABI). */
  cpu_slabs: number;
  /** Other names merged into this cache (sysfs aliases). */
  aliases: number;
  /** Object alignment (sysfs align). */
  align: number;
  /** Partial slabs kept before empty ones go back (sysfs min_partial). */
  min_partial: number;
  /** 1 with SLAB_TYPESAFE_BY_RCU (sysfs destroy_by_rcu). */
  destroy_by_rcu: 0 | 1;
  /** 1 with SLAB_HWCACHE_ALIGN (sysfs hwcache_align). */
  hwcache_align: 0 | 1;
  /** 1 with SLAB_RECLAIM_ACCOUNT (sysfs reclaim_account). */
  reclaim_account: 0 | 1;
  /** 1 with SLAB_CONSISTENCY_CHECKS (sysfs sanity_checks). */
  sanity_checks: 0 | 1;
  /** 1 with SLAB_RED_ZONE (sysfs red_zone). */
  red_zone: 0 | 1;
  /** 1 with SLAB_POISON (sysfs poison). */
  poison: 0 | 1;
  /** 1 with SLAB_STORE_USER (sysfs store_user). */
  store_user: 0 | 1;
  /** 1 with SLAB_TRACE (sysfs trace). */
  trace: 0 | 1;
  /** Name of the constructor function, empty without one (sysfs ctor). */
  ctor: string;
  /** Allocations from the thread's main sheaf (SLUB_STATS alloc_fastpath). */
  alloc_fastpath: number;
  /** Allocations that took the slow path (alloc_slowpath). */
  alloc_slowpath: number;
  /** Frees onto the thread's own main sheaf (free_fastpath). */
  free_fastpath: number;
  /** Lock-free frees to another thread's slab (cross-thread frees). */
  free_remote: number;
  /** Frees that took the slow path (free_slowpath). */
  free_slowpath: number;
  /** Slabs allocated from the page allocator (alloc_slab). */
  alloc_slab: number;
  /** Slabs given back to the page allocator (free_slab). */
  free_slab: number;
  /**
   * Objects of this cache queued in kfree_rcu batches, not yet freed. Read apart from
   * `objects` (which counts them too): while another thread drains a batch, the two may
   * disagree by the objects it has in hand (each is counted drained, then freed).
   */
  kfree_rcu_pending: number;
  /** Objects per percpu sheaf (sysfs sheaf_capacity); 0 = no sheaves. */
  sheaf_capacity: number;
  /** Objects moved from slabs into sheaves (sysfs sheaf_refill). */
  sheaf_refill: number;
  /** Objects moved from sheaves back to slabs (sysfs sheaf_flush). */
  sheaf_flush: number;
  /** Sheaves allocated (sysfs sheaf_alloc). */
  sheaf_alloc: number;
  /** Sheaves freed (sysfs sheaf_free). */
  sheaf_free: number;
  /** Full sheaves taken from the barn (sysfs barn_get). */
  barn_get: number;
  /** Times the barn had no full sheaf to give (sysfs barn_get_fail). */
  barn_get_fail: number;
  /** Full sheaves put into the barn (sysfs barn_put). */
  barn_put: number;
  /** Full sheaves the barn could not take (MAX_FULL_SHEAVES; sysfs barn_put_fail). */
  barn_put_fail: number;
  /** Full sheaves in the barn now. */
  barn_full: number;
  /** Empty sheaves in the barn now. */
  barn_empty: number;
}

export interface CacheCounts {
  active: number;
  total: number;
  slabs: number;
  partial: number;
  objectsPartial: number;
  cpuSlabs: number;
  allocFast: number;
  allocSlow: number;
  freeFast: number;
  freeRemote: number;
  freeSlow: number;
}

export function cacheCounts(a: SlabHost, idx: number, objectsPerSlab: number): CacheCounts {
  const i32 = a.i32;
  const d = a.descW(idx);
  let allocFast = 0, allocSlow = 0, freeFast = 0, freeRemote = 0, freeSlow = 0, cpuSlabs = 0;
  // The cache lock keeps a detaching thread's fold (arena flushAndFold: records -> C_FOLD_*)
  // out of the middle of this sum. The owners' own increments are plain and unlocked: a
  // racy but never double-counted read.
  lock(i32, d + C_LOCK);
  for (let s = 0; s < a.layout.maxThreads; s++) {
    const r = a.recW(s, idx);
    allocFast += i32[r + R_ALLOC_FAST]! >>> 0;
    allocSlow += i32[r + R_ALLOC_SLOW]! >>> 0;
    freeFast += i32[r + R_FREE_FAST]! >>> 0;
    freeRemote += i32[r + R_FREE_REMOTE]! >>> 0;
    freeSlow += i32[r + R_FREE_SLOW]! >>> 0;
  }
  const active = allocFast + allocSlow + (Atomics.load(i32, d + C_FOLD_ALLOCS) >>> 0) -
    (freeFast + freeRemote + freeSlow + (Atomics.load(i32, d + C_FOLD_FREES) >>> 0));
  // Event counters of threads that detached (the active count above already has them).
  const ev = (k: number): number => Atomics.load(i32, d + C_FOLD_EVENTS + (k - R_ALLOC_FAST)) >>> 0;
  allocFast += ev(R_ALLOC_FAST);
  allocSlow += ev(R_ALLOC_SLOW);
  freeFast += ev(R_FREE_FAST);
  freeRemote += ev(R_FREE_REMOTE);
  freeSlow += ev(R_FREE_SLOW);
  const slabs = i32[d + C_NR_SLABS]!;
  const partial = i32[d + C_NR_PARTIAL]!;
  let objectsPartial = 0;
  for (let p = i32[d + C_PARTIAL_HEAD]!; p !== 0; p = i32[a.pm(p) + P_NEXT]!) objectsPartial += i32[a.pm(p) + P_INUSE]!;
  unlock(i32, d + C_LOCK);
  return {
    active, total: slabs * objectsPerSlab, slabs, partial, objectsPartial, cpuSlabs,
    allocFast, allocSlow, freeFast, freeRemote, freeSlow,
  };
}

export function cacheStats(a: SlabHost, idx: number): CacheStats {
  const i32 = a.i32;
  const d = a.descW(idx);
  const g = a.registry.readGeometry(idx);
  const n = cacheCounts(a, idx, g.objects);
  const f = i32[d + C_FLAGS]!;
  const bit = (x: number): 0 | 1 => ((f & x) !== 0 ? 1 : 0);
  const refcount = i32[d + C_REFCOUNT]!;
  const st = (k: number): number => Atomics.load(i32, d + C_ST_BASE + k) >>> 0;
  return {
    name: g.name,
    state: CACHE_STATE_NAMES[i32[d + C_STATE]!] ?? 'live',
    object_size: g.objectSize,
    slab_size: g.size,
    objs_per_slab: g.objects,
    order: g.order,
    objects: n.active,
    objects_partial: n.objectsPartial,
    total_objects: n.total,
    slabs: n.slabs,
    partial: n.partial,
    cpu_slabs: n.cpuSlabs,
    aliases: refcount < 0 ? 0 : Math.max(0, refcount - 1),
    align: g.align,
    min_partial: g.minPartial,
    destroy_by_rcu: bit(SLAB_TYPESAFE_BY_RCU),
    hwcache_align: bit(SLAB_HWCACHE_ALIGN),
    reclaim_account: bit(SLAB_RECLAIM_ACCOUNT),
    sanity_checks: bit(SLAB_CONSISTENCY_CHECKS),
    red_zone: bit(SLAB_RED_ZONE),
    poison: bit(SLAB_POISON),
    store_user: bit(SLAB_STORE_USER),
    trace: bit(SLAB_TRACE),
    ctor: a.registry.ctorName(idx),
    alloc_fastpath: n.allocFast,
    alloc_slowpath: n.allocSlow,
    free_fastpath: n.freeFast,
    free_remote: n.freeRemote,
    free_slowpath: n.freeSlow,
    alloc_slab: i32[d + C_ALLOC_SLAB]!,
    free_slab: i32[d + C_FREE_SLAB]!,
    kfree_rcu_pending: Math.max(0, a.kfreeRcuImpl.pendingForCache(idx)),
    sheaf_capacity: g.sheafCapacity,
    sheaf_refill: st(ST_SHEAF_REFILL),
    sheaf_flush: st(ST_SHEAF_FLUSH),
    sheaf_alloc: st(ST_SHEAF_ALLOC),
    sheaf_free: st(ST_SHEAF_FREE),
    barn_get: st(ST_BARN_GET),
    barn_get_fail: st(ST_BARN_GET_FAIL),
    barn_put: st(ST_BARN_PUT),
    barn_put_fail: st(ST_BARN_PUT_FAIL),
    barn_full: Math.max(0, Atomics.load(i32, d + C_NR_FULL)),
    barn_empty: Math.max(0, Atomics.load(i32, d + C_NR_EMPTY)),
  };
}

export const SLABINFO_HEADER =
  'slabinfo - version: 2.1\n' +
  '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n';

const pad = (s: string | number, w: number, left = false): string => {
  const t = String(s);
  return t.length >= w ? t : left ? t + ' '.repeat(w - t.length) : ' '.repeat(w - t.length) + t;
};

/** One /proc/slabinfo row: "%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u : slabdata %6lu %6lu %6lu". */
export function slabinfoRow(name: string, active: number, num: number, objsize: number, perSlab: number, pages: number, slabs: number): string {
  return (
    `${pad(name, 17, true)} ${pad(active, 6)} ${pad(num, 6)} ${pad(objsize, 6)} ${pad(perSlab, 4)} ${pad(pages, 4)}` +
    ` : tunables ${pad(0, 4)} ${pad(0, 4)} ${pad(0, 4)} : slabdata ${pad(slabs, 6)} ${pad(slabs, 6)} ${pad(0, 6)}\n`
  );
}

/** /proc/slabinfo: every cache that holds memory, newest first, kmalloc caches included. */
export function slabinfo(a: SlabHost): string {
  let out = SLABINFO_HEADER;
  for (const idx of a.registry.listedCaches()) {
    const g = a.registry.readGeometry(idx);
    const n = cacheCounts(a, idx, g.objects);
    out += slabinfoRow(g.name, n.active, n.total, g.size, g.objects, 1 << g.order, n.slabs);
  }
  return out;
}

/**
 * validate_slab_cache for an arena without the debug layer (Arena.validateCache uses the
 * layer's when there is one): flush, then check list counts only.
 */
export function validateWithoutDebug(a: SlabHost, c: Cache): ValidateResult {
  a.slab.flushCpu(c);
  const s = c.stats();
  return { errors: 0, objects: s.total_objects, slabs: s.slabs, reports: [] };
}
