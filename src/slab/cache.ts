/**
 * A thread's handle to a kmem cache, and the allocator fast paths
 * (kernel: slab_alloc_node / do_slab_free with the this_cpu_cmpxchg on kmem_cache_cpu).
 *
 * The fast paths touch only this thread's cpu record (R_FREELIST, counters: plain loads
 * and stores, no Atomics: the record is owner-only) plus one read of the descriptor's
 * C_ALLOC_OK word, which destroy() changes, so a thread that keeps allocating from a
 * dying cache falls into the slow path and gets its error there.
 */
import type { Arena } from '../arena.js';
import {
  C_ALLOC_OK, C_GEN, C_STATE, CS_DYING, CS_FREE, CS_LEAKED, P_CACHE, P_FLAGS, PAGE_SHIFT, PK_SLAB, PK_TAIL,
  R_FREE_FAST, R_FREELIST, R_SLAB, R_ALLOC_FAST,
} from '../layout.js';
import { SLAB_DEBUG_FLAGS, SLAB_TYPESAFE_BY_RCU } from '../flags.js';
import type { DestroyReport } from './destroy.js';
import type { CacheStats } from './stats.js';

export type Ctor = (ptr: number, arena: Arena) => void;

/** Descriptor constants a handle copies once (they never change while the cache lives). */
export interface CacheGeometry {
  idx: number;
  gen: number;
  name: string;
  flags: number;
  objectSize: number;
  size: number;
  align: number;
  offset: number;
  inuse: number;
  order: number;
  objects: number;
  minPartial: number;
  redLeftPad: number;
  trackOffset: number;
  origSizeOffset: number;
  hasCtor: boolean;
  kmalloc: boolean;
}

export class Cache {
  /** Cache index in the arena's cache table. */
  readonly idx: number;
  /** Descriptor generation this handle belongs to. */
  readonly gen: number;
  /** The name this handle was created or found under (an alias name for a merged cache). */
  readonly name: string;
  readonly objectSize: number;
  /** Stride between objects (slabinfo objsize, sysfs slab_size). */
  readonly size: number;
  readonly align: number;
  readonly objects: number;
  readonly order: number;
  readonly flags: number;
  /** @internal */ readonly d: number;
  /** @internal */ readonly rec: number;
  /** @internal */ readonly fp: number;
  /** @internal */ readonly redLeftPad: number;
  /** @internal */ readonly inuse: number;
  /** @internal */ readonly minPartial: number;
  /** @internal */ readonly trackOffset: number;
  /** @internal */ readonly origSizeOffset: number;
  /** @internal */ readonly debug: boolean;
  /** @internal */ readonly typesafeByRcu: boolean;
  /** @internal */ readonly hasCtor: boolean;
  /** @internal */ readonly kmalloc: boolean;
  /** @internal frees go through the quarantine (src/debug/quarantine.ts): arena quarantineBytes > 0, not TYPESAFE_BY_RCU */
  readonly quarantine: boolean;
  /** @internal */ ctor: Ctor | undefined;
  /** @internal name-table entry this handle owns (-1 for internal handles) */
  nameIdx = -1;
  /** @internal */ nameGen = 0;
  private readonly i32: Int32Array;
  private readonly okW: number;
  /** @internal 1 / size, for objectIndex */
  readonly invSize: number;
  /** Bytes covered by the slab's objects (objects * stride); the tail padding after them is not an object. */
  private readonly objBytes: number;

  /** @internal use arena.createCache / arena.findCache */
  constructor(
    private readonly arena: Arena,
    g: CacheGeometry,
    handleName: string,
    ctor: Ctor | undefined,
  ) {
    this.idx = g.idx;
    this.gen = g.gen;
    this.name = handleName;
    this.objectSize = g.objectSize;
    this.size = g.size;
    this.align = g.align;
    this.objects = g.objects;
    this.order = g.order;
    this.flags = g.flags;
    this.d = arena.descW(g.idx);
    this.rec = arena.recW(arena.slot, g.idx);
    this.fp = g.offset;
    this.redLeftPad = g.redLeftPad;
    this.inuse = g.inuse;
    this.minPartial = g.minPartial;
    this.trackOffset = g.trackOffset;
    this.origSizeOffset = g.origSizeOffset;
    this.debug = (g.flags & SLAB_DEBUG_FLAGS) !== 0;
    this.typesafeByRcu = (g.flags & SLAB_TYPESAFE_BY_RCU) !== 0;
    this.hasCtor = g.hasCtor;
    this.kmalloc = g.kmalloc;
    this.quarantine = arena.options.quarantineBytes > 0 && !this.typesafeByRcu;
    this.ctor = ctor;
    this.i32 = arena.i32;
    this.okW = this.d + C_ALLOC_OK;
    this.invSize = 1 / g.size;
    this.objBytes = g.objects * g.size;
  }

  /** The cache's canonical name (the first creator's; what slabinfo shows). */
  get cacheName(): string {
    return this.arena.cacheGeometry(this.idx).name;
  }

  /**
   * kmem_cache_alloc: one object, or 0 when the arena is exhausted (after reclaiming
   * completed kfree_rcu batches). Throws if the cache is being destroyed or released.
   */
  alloc(): number {
    const i32 = this.i32;
    const r = this.rec;
    const obj = i32[r + R_FREELIST];
    if (obj !== 0 && i32[this.okW] === this.gen) {
      i32[r + R_FREELIST] = i32[(obj + this.fp) >> 2];
      i32[r + R_ALLOC_FAST]++;
      return obj;
    }
    if (!this.debug) return this.arena.slab.allocSlow(this);
    // debug edit: SLUB debug reports raised under the cache lock reach onWarning here,
    // once the lock is released (src/debug/report.ts).
    const p = this.arena.slab.allocSlow(this);
    this.arena.debugHooks?.flushReports?.();
    return p;
  }

  /**
   * kmem_cache_free. Freeing 0 is a no-op. A pointer that is not an allocated object of
   * this cache is refused with a kernel-style report (onWarning) and nothing changes.
   */
  free(ptr: number): void {
    if (ptr === 0) return;
    const i32 = this.i32;
    const r = this.rec;
    const slab = i32[r + R_SLAB];
    const off = ptr - (slab << PAGE_SHIFT) - this.redLeftPad;
    if (
      slab !== 0 &&
      !this.quarantine && // debug edit: quarantined frees never take the fast path
      off >= 0 &&
      off < this.objBytes &&
      off % this.size === 0 &&
      i32[this.okW] === this.gen &&
      ptr !== i32[r + R_FREELIST]
    ) {
      i32[(ptr + this.fp) >> 2] = i32[r + R_FREELIST];
      i32[r + R_FREELIST] = ptr;
      i32[r + R_FREE_FAST]++;
      return;
    }
    this.freeChecked(ptr);
  }

  /** @internal validate a pointer, then the slow free. */
  freeChecked(ptr: number): void {
    const a = this.arena;
    this.checkNotReleased('free');
    const pfn = this.slabOf(ptr);
    if (pfn < 0) return; // reported
    // debug edit: the quarantine holds the object (or refuses the free with a report).
    if (this.quarantine && a.debugHooks?.quarantinePut?.(this, pfn, ptr)) return;
    a.slab.freeSlow(this, pfn, ptr);
    if (this.debug) a.debugHooks?.flushReports?.(); // debug edit: see alloc()
  }

  /**
   * Head pfn of the slab holding object `ptr` of this cache, or -1 after reporting why
   * `ptr` is not one (outside the arena, not a slab page, another cache, interior pointer).
   * @internal
   */
  slabOf(ptr: number): number {
    const a = this.arena;
    const i32 = this.i32;
    if (!Number.isInteger(ptr) || ptr < 0 || ptr >= a.committedBytes()) {
      a.reportInvalidFree(this, ptr, 'outside the arena');
      return -1;
    }
    let pfn = ptr >>> PAGE_SHIFT;
    let m = a.pm(pfn);
    let kind = i32[m + P_FLAGS] & 15;
    if (kind === PK_TAIL) {
      pfn = i32[m + P_CACHE];
      m = a.pm(pfn);
      kind = i32[m + P_FLAGS] & 15;
    }
    if (kind !== PK_SLAB) {
      a.reportInvalidFree(this, ptr, 'not a slab object');
      return -1;
    }
    const owner = i32[m + P_CACHE];
    if (owner !== this.idx) {
      a.reportWrongCache(this, owner, ptr);
      return -1;
    }
    const off = ptr - (pfn << PAGE_SHIFT) - this.redLeftPad;
    if (off < 0 || off % this.size !== 0 || off / this.size >= this.objects) {
      a.reportInvalidFree(this, ptr, 'interior pointer');
      return -1;
    }
    return pfn;
  }

  /**
   * @internal Index of the object starting `off` bytes after its slab's first page, or
   * -1 if no object starts there (kernel: obj_to_index, here with the boundary check).
   */
  objectIndex(off: number): number {
    const o = off - this.redLeftPad;
    if (o < 0) return -1;
    // Multiply by the reciprocal (exact for exact multiples: o < 2^20, see kernel reciprocal_divide).
    const idx = (o * this.invSize) | 0;
    return idx * this.size === o && idx < this.objects ? idx : -1;
  }

  /** @internal throws unless allocation is allowed. */
  checkAlloc(): void {
    const i32 = this.i32;
    this.checkNotReleased('alloc');
    if (i32[this.okW] !== this.gen) {
      const st = i32[this.d + C_STATE];
      const why = st === CS_DYING ? 'is being destroyed' : st === CS_LEAKED ? 'was destroyed with objects remaining' : 'is not live';
      throw new Error(`slabrcu: alloc from cache '${this.name}' which ${why}`);
    }
    if (this.nameIdx >= 0 && !this.arena.registry.nameValid(this)) {
      throw new Error(`slabrcu: alloc through handle '${this.name}' which was destroyed`);
    }
  }

  /** @internal */
  checkNotReleased(what: string): void {
    const i32 = this.i32;
    if (i32[this.d + C_GEN] !== this.gen || i32[this.d + C_STATE] === CS_FREE) {
      throw new Error(`slabrcu: ${what} on cache '${this.name}' which has been released`);
    }
  }

  /**
   * kmem_cache_destroy, the seed's asynchronous form: never blocks and never rejects on
   * a leak (see README "Destroying a cache").
   */
  destroy(): Promise<DestroyReport> {
    return this.arena.destroyer.destroy(this);
  }

  /** kmem_cache_destroy as upstream Linux ships it: the kfree_rcu barrier runs inline. */
  destroySync(): DestroyReport {
    return this.arena.destroyer.destroySync(this);
  }

  /** kmem_cache_shrink: flush this thread's cpu slab and free every empty slab. Returns slabs freed. */
  shrink(): number {
    this.checkNotReleased('shrink');
    return this.arena.slab.shrink(this);
  }

  /** /sys/kernel/slab/<name>/* as an object. */
  stats(): CacheStats {
    this.checkNotReleased('stats');
    return this.arena.cacheStats(this.idx);
  }

  /** validate_slab_cache: walk every slab and check it (debug checks where enabled). */
  validate(): { errors: number; objects: number; slabs: number; reports: string[] } {
    this.checkNotReleased('validate');
    return this.arena.validateCache(this);
  }
}

export const CACHE_STATE_NAMES = ['free', 'live', 'dying', 'leaked'] as const;
export { C_GEN };
