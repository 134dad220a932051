/**
 * The seam between the slab allocator and SLUB debugging (src/debug). The allocator calls
 * these only for caches with debug flags (they never use cpu slabs, kernel-style), and
 * for kmalloc orig_size / quarantine / alloc traces where noted.
 */
import type { Cache } from '../slab/cache.js';

/** What {@link Cache.validate} found. */
export interface ValidateResult {
  /** Reports counted like the kernel's kunit slab_errors (a BUG report and each FIX count 1). */
  errors: number;
  /** Objects counted over every slab. */
  objects: number;
  /** Slabs walked. */
  slabs: number;
  /** The texts of the reports raised by the walk. */
  reports: string[];
}

export interface DebugHooks {
  /** A new slab of a debug cache, before its objects are set up (poison it with 0x5a). */
  setupSlab(c: Cache, pfn: number): void;
  /** Each object of a new debug slab (init_object with SLUB_RED_INACTIVE), before the ctor. */
  setupObject(c: Cache, obj: number): void;
  /** alloc_debug_processing, under the cache lock. false = slab unusable, already reported. */
  allocCheck(c: Cache, pfn: number, obj: number): boolean;
  /** After a debug alloc: red zones active, alloc track stored (under the cache lock). */
  afterAlloc(c: Cache, obj: number): void;
  /** free_debug_processing, under the cache lock. false = free refused, already reported. */
  freeCheck(c: Cache, pfn: number, obj: number): boolean;
  /** After the checks passed, before the object is linked: poison, free track. */
  beforeFree(c: Cache, obj: number): void;
  /** The stored alloc track of obj as text, if the cache stores tracks. */
  allocTrace(c: Cache, obj: number): string | undefined;
  /**
   * destroy's quarantine step: `final` evicts (checks and frees) this cache's quarantined
   * objects (kasan_cache_shutdown); not final (the silent first shutdown) only looks, as
   * the RFC flushes only in its workfn. Returns true if any were held.
   */
  quarantineFlushCache(c: Cache, final: boolean): boolean;
  /** kmalloc of `size` bytes returned obj from cache c (orig_size, kmalloc red zone). */
  kmallocOrigSize(c: Cache, obj: number, size: number): void;
  /** ksize() handed out all of obj's bytes: orig_size becomes object_size (skip_orig_size_check). */
  skipOrigSizeCheck?(obj: number): void;
  /** Free every quarantined object (memory pressure). Returns how many there were. */
  quarantineFlushAll?(): number;
  /** Deliver reports raised under a cache lock (the caller holds no allocator lock now). */
  flushReports?(): void;
  /** validate_slab_cache. */
  validate(c: Cache): ValidateResult;
  /**
   * A free (of a validated object boundary `obj` in slab `pfn`) the quarantine wants to
   * hold instead of freeing now. Returns true if it took the object or refused the free
   * with a report; false means "free it now".
   */
  quarantinePut?(c: Cache, pfn: number, obj: number): boolean;
}
