/**
 * kmalloc: the kernel's size classes (mm/slab_common.c kmalloc_info, size_index) over
 * ordinary caches flagged SLAB_KMALLOC, and whole pages above KMALLOC_MAX_CACHE_SIZE
 * (kernel: __kmalloc_large_node). kfree finds the cache from page metadata.
 *
 * Our kmalloc caches are never merge targets (as with CONFIG_RANDOM_KMALLOC_CACHES), so a
 * user cache of 64 bytes keeps its own name in slabinfo.
 */
import type { SlabHost } from './host.js';
import { SLAB_KMALLOC, SLAB_POISON, SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TYPESAFE_BY_RCU } from '../flags.js';
import { flagsOrder, headPfnOf, Hot, P_CACHE, P_FLAGS, PAGE_SHIFT, PAGE_SIZE, pageFlags, PK_LARGE, PK_MASK, PK_SLAB } from '../layout.js';

import type { Cache } from './cache.js';
import { getOrder } from './sizes.js';

/** Object sizes of the kmalloc caches (kmalloc-8 … kmalloc-8k); larger requests take whole pages. */
export const KMALLOC_SIZES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192] as const;
export const KMALLOC_MAX_CACHE_SIZE = 8192;
export const KMALLOC_MAX_SIZE = PAGE_SIZE << 10;

/** Name of the kmalloc cache of object size `size` (`kmalloc-96`, `kmalloc-8k`). */
export function kmallocName(size: number): string {
  return size >= 1024 ? `kmalloc-${size / 1024}k` : `kmalloc-${size}`;
}

/** kmalloc_index: index into KMALLOC_SIZES for a request of `size` bytes. */
export function kmallocIndex(size: number): number {
  if (size <= 8) return 0;
  if (size <= 16) return 1;
  if (size <= 32) return 2;
  if (size <= 64) return 3;
  if (size <= 96) return 4;
  if (size <= 128) return 5;
  if (size <= 192) return 6;
  let i = 7;
  let s = 256;
  while (s < size) {
    s <<= 1;
    i++;
  }
  return i;
}

/**
 * size_index (mm/slab_common.c): the kmalloc class of a request of 1..192 bytes, by
 * (size - 1) >> 3. Above 192 bytes the classes are powers of two: index = fls(size - 1) - 1.
 */
const SIZE_INDEX = ((): Uint8Array => {
  const t = new Uint8Array(24);
  for (let k = 0; k < 24; k++) t[k] = kmallocIndex(k * 8 + 8);
  return t;
})();

export class Kmalloc {
  private handles: Cache[] = [];
  /** Constants of the kfree fast path (fields, not imported bindings: see layout.ts Hot). */
  private readonly i32: Int32Array;
  private readonly metaW: number;
  private readonly maxPages: number;

  constructor(private readonly a: SlabHost) {
    this.i32 = a.i32;
    this.metaW = a.metaW;
    this.maxPages = a.layout.maxPages;
  }

  /** Called once by Arena.create: create_kmalloc_caches. */
  createCaches(): void {
    for (const size of KMALLOC_SIZES) this.a.registry.create(kmallocName(size), { size }, SLAB_KMALLOC);
  }

  /** @internal The kmalloc cache that serves `size` bytes (size <= KMALLOC_MAX_CACHE_SIZE). */
  cacheFor(size: number): Cache {
    return this.handle(kmallocIndex(size));
  }

  private handle(i: number): Cache {
    let h = this.handles[i];
    if (!h) {
      const c = this.a.registry.find(kmallocName(KMALLOC_SIZES[i]!));
      if (!c) throw new Error('slabrcu: kmalloc caches missing from this arena');
      h = this.handles[i] = c;
    }
    return h;
  }

  kmalloc(size: number): number {
    // Fast path: an integer size of a kmalloc class (kernel: kmalloc_index / size_index,
    // then the cache's own alloc). `(size | 0) === size` is the integer test for this range.
    let i: number;
    if ((size | 0) !== size || size <= 0) return this.kmallocChecked(size);
    if (size <= 192) i = SIZE_INDEX[(size - 1) >> 3]!;
    else if (size <= KMALLOC_MAX_CACHE_SIZE) i = 31 - Math.clz32(size - 1);
    else return this.kmallocChecked(size);
    const c = this.handles[i] ?? this.handle(i);
    const p = c.alloc();
    // debug edit: a debug kmalloc cache records the requested size (kmallocOrigSize).
    if (c.debug && p !== 0) this.a.debugHooks?.kmallocOrigSize(c, p, size);
    return p;
  }

  /** kmalloc of what the fast path did not take: bad sizes (thrown), 0, large requests. */
  private kmallocChecked(size: number): number {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`slabrcu: kmalloc(${String(size)}): size must be a non-negative integer`);
    if (size === 0) return 0; // ZERO_SIZE_PTR: nothing to allocate; kfree(0) is a no-op
    if (size > KMALLOC_MAX_SIZE) throw new RangeError(`slabrcu: kmalloc(${size}): larger than KMALLOC_MAX_SIZE (${KMALLOC_MAX_SIZE})`);
    if (size <= KMALLOC_MAX_CACHE_SIZE) {
      const c = this.handle(kmallocIndex(size));
      const p = c.alloc();
      if (p !== 0) this.a.debugHooks?.kmallocOrigSize(c, p, size);
      return p;
    }
    return this.largeAlloc(size);
  }

  private largeAlloc(size: number): number {
    const a = this.a;
    const order = getOrder(size);
    let pfn = a.pages.alloc(order);
    if (pfn === 0) {
      a.reclaim(); // retried whatever it says (another thread's drain may have freed pages): see SlabCore.allocSlow
      pfn = a.pages.alloc(order);
    }
    if (pfn === 0) return 0;
    const m = a.pm(pfn);
    a.i32[m + P_CACHE] = 0;
    a.pages.markTails(pfn, order);
    Atomics.store(a.i32, m + P_FLAGS, pageFlags(PK_LARGE, order));
    return pfn << PAGE_SHIFT;
  }

  /** What ptr is: an object of the slab at head page pfn of cache idx, a large kmalloc block at pfn, or none (and why). */
  classify(ptr: number): { kind: 'slab'; idx: number; pfn: number } | { kind: 'large'; pfn: number; order: number } | { kind: 'none'; why: string } {
    const a = this.a;
    if (!Number.isInteger(ptr) || ptr < 0 || ptr >= a.committedBytes()) return { kind: 'none', why: 'outside the arena' };
    const pfn = headPfnOf(a.i32, a.metaW, ptr);
    const f = a.i32[a.pm(pfn) + P_FLAGS]!;
    if ((f & PK_MASK) === PK_SLAB) return { kind: 'slab', idx: a.i32[a.pm(pfn) + P_CACHE]!, pfn };
    if ((f & PK_MASK) === PK_LARGE) {
      if (ptr !== pfn << PAGE_SHIFT) return { kind: 'none', why: 'interior pointer' };
      return { kind: 'large', pfn, order: flagsOrder(f) };
    }
    return { kind: 'none', why: 'not an allocated object' };
  }

  kfree(ptr: number): void {
    // Fast path: a pointer into a slab's head page goes to its cache's free, which
    // validates it in full (object boundary, state) and reports what it refuses. Tail
    // pages, large blocks, 0 and anything not a slab page take the classified path.
    const i32 = this.i32;
    const pfn = ptr >>> Hot.PAGE_SHIFT; // NaN, fractions and negatives land on page 0 (metadata) or past maxPages
    if (pfn !== 0 && pfn < this.maxPages) {
      let m = this.metaW + pfn * Hot.PAGE_META_WORDS; // layout.ts pageMeta, inline (fast path)
      let kind = i32[m + Hot.P_FLAGS]! & Hot.PK_MASK;
      if (kind === Hot.PK_TAIL) {
        // A tail page of a multi-page slab names its head (layout.ts headOfPage).
        m = this.metaW + i32[m + Hot.P_CACHE]! * Hot.PAGE_META_WORDS;
        kind = i32[m + Hot.P_FLAGS]! & Hot.PK_MASK;
      }
      if (kind === Hot.PK_SLAB) {
        this.a.internalHandle(i32[m + Hot.P_CACHE]!).free(ptr);
        return;
      }
    }
    this.kfreeChecked(ptr);
  }

  private kfreeChecked(ptr: number): void {
    if (ptr === 0) return;
    const a = this.a;
    const k = this.classify(ptr);
    if (k.kind === 'slab') {
      a.internalHandle(k.idx).free(ptr);
    } else if (k.kind === 'large') {
      a.i32[a.pm(k.pfn) + P_FLAGS] = 0;
      a.pages.free(k.pfn, k.order);
    } else {
      a.reporter.reportInvalidFree(undefined, ptr, k.why);
    }
  }

  ksize(ptr: number): number {
    const k = this.classify(ptr);
    if (k.kind === 'slab') {
      // kernel: slab_ksize(): with red zones or poison only object_size bytes are the
      // caller's; TYPESAFE_BY_RCU and STORE_USER keep metadata right after inuse;
      // otherwise the whole stride is usable.
      const g = this.a.cacheGeometry(k.idx);
      if (g.flags & (SLAB_RED_ZONE | SLAB_POISON)) return g.objectSize;
      if (g.flags & (SLAB_TYPESAFE_BY_RCU | SLAB_STORE_USER)) return g.inuse;
      return g.size;
    }
    if (k.kind === 'large') return PAGE_SIZE << k.order;
    throw new RangeError(`slabrcu: ksize(0x${ptr.toString(16)}): ${k.why}`);
  }
}
