/**
 * A thread's handle to a kmem cache, and the allocator fast paths
 * (kernel: slab_alloc_node / do_slab_free with the this_cpu_cmpxchg on kmem_cache_cpu).
 *
 * The fast paths touch only this thread's cpu record (Hot.R_FREELIST, counters: plain loads
 * and stores, no Atomics: the record is owner-only) plus one read of the descriptor's
 * Hot.C_ALLOC_OK word, which destroy() changes, so a thread that keeps allocating from a
 * dying cache falls into the slow path and gets its error there.
 */
import type { SlabHost } from './host.js';
import { headPfnOf, Hot } from '../layout.js';
import { SLAB_DEBUG_FLAGS, SLAB_TYPESAFE_BY_RCU } from '../flags.js';
import type { DestroyReport } from './destroy.js';
import type { CacheStats } from './stats.js';
import { readStateGeometry, type StateGeometry } from './objstate.js';
import type { ValidateResult } from '../debug/hooks.js';

/**
 * A cache constructor as the slab room stores and runs it: the public `Ctor` (src/arena.ts,
 * `(ptr, arena: Arena) => void`) with its arena parameter erased, since slab knows the
 * Arena only as its host (slab/host.ts). slab/core.ts calls it with that host, which is the
 * Arena of the thread that sets the slab up; every public Ctor is assignable to it.
 */
export type SlabCtor = (ptr: number, arena: never) => void;

/**
 * The reciprocal of a stride for obj_to_index() without a division (kernel:
 * reciprocal_value / reciprocal_divide, which obj_to_index uses for the same reason: a
 * 32-bit idiv costs ~4 ns on the free fast path). We use a double: 1/size rounded up by
 * one ulp, so off * inv is never below the true quotient, and for off < 2^22 it stays
 * below the next integer. It is verified exhaustively for every object boundary of the
 * slab (k * size for k < objects, at most MAX_OBJS_PER_PAGE = 32767 products), which is
 * all the fast paths rely on: any off that is not a boundary fails `k * size === off`
 * whatever k comes out. Returns 0 if the check fails (callers then fall back to %).
 * Memoized per geometry: handles are created in every thread.
 */
const recipMemo = new Map<number, number>();
export function strideReciprocal(size: number, objects: number): number {
  const key = size * 65536 + objects;
  const hit = recipMemo.get(key);
  if (hit !== undefined) return hit;
  let inv = 1 / size;
  inv += inv * 2 ** -52; // round up: never below 1/size
  for (let k = 0; k < objects; k++) {
    if (Math.floor(k * size * inv) !== k) {
      inv = 0;
      break;
    }
  }
  recipMemo.set(key, inv);
  return inv;
}

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
  /** sheaf_capacity of the percpu sheaves (0 for debug and quarantined caches). */
  sheafCapacity: number;
  /** Capacity of the kfree_rcu sheaves (0: kfreeRcu uses blocks; only with an explicit sheafCapacity). */
  rcuSheafCapacity: number;
}

/**
 * A kmem cache handle: objects of one size, allocated from slabs. Get one from
 * {@link Arena.createCache} (the thread that creates the cache) or {@link Arena.findCache}
 * (any other thread); each thread uses its own handle. Pointers are byte offsets into
 * `arena.sab`, 0 meaning none.
 *
 * @example
 * ```ts
 * import { Arena, SLAB_HWCACHE_ALIGN } from 'slabrcu';
 *
 * const arena = Arena.create();
 * const cache = arena.createCache('point', { size: 16, flags: SLAB_HWCACHE_ALIGN });
 * const p = cache.alloc();              // 0 when the arena is exhausted
 * arena.i32[p >> 2] = 42;
 * cache.free(p);                        // or arena.kfreeRcu(p) when readers may still see it
 * const report = await cache.destroy(); // { status: 'released', leaked: 0, ... }
 * ```
 */
export class Cache {
  /** Cache index in the arena's cache table. */
  readonly idx: number;
  /** Descriptor generation this handle belongs to. */
  readonly gen: number;
  /** The name this handle was created or found under (an alias name for a merged cache). */
  readonly name: string;
  /** Object size requested at create (slabinfo object_size). */
  readonly objectSize: number;
  /** Stride between objects (slabinfo objsize, sysfs slab_size). */
  readonly size: number;
  /** Object alignment in bytes. */
  readonly align: number;
  /** Objects per slab (slabinfo objperslab). */
  readonly objects: number;
  /** Pages per slab, as a power of two (a slab is 2^order pages). */
  readonly order: number;
  /** The cache's SLAB_* flags (the debug flags included). */
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
  /**
   * @internal Objects per percpu sheaf; 0 = this handle never uses sheaves (none asked
   * for, a debug cache, or frees go through the quarantine).
   */
  readonly sheafCap: number;
  /** @internal Objects per kfree_rcu sheaf; 0 = kfreeRcu batches in blocks. */
  readonly rcuSheafCap: number;
  /** @internal */ ctor: SlabCtor | undefined;
  /** @internal name-table entry this handle owns (-1 for internal handles) */
  nameIdx = -1;
  /** @internal */ nameGen = 0;
  private readonly i32: Int32Array;
  private readonly okW: number;
  /**
   * What the fast paths compare Hot.C_ALLOC_OK with: the generation while this handle may
   * allocate, -2 (never a Hot.C_ALLOC_OK value) once this handle was destroyed, so a
   * destroyed alias handle falls into the slow path, which refuses the alloc (checkAlloc),
   * instead of the fast path still serving it.
   */
  private allocGen: number;
  /** Word index of the page metadata array, and its length in pages (sheaf free validation). */
  private readonly metaW: number;
  private readonly maxPages: number;
  /** 1/size for obj_to_index without a division (strideReciprocal), 0 if it could not be verified. */
  private readonly invSize: number;
  /** Object-state formula constants (objstate.ts): shift of the head pfn, offset, shift of k >> 3. */
  private readonly stPshift: number;
  private readonly stC: number;
  private readonly stSh: number;
  /** The states are one array at the slab's end (strides below 512): the address is base + C + k. */
  private readonly stFlat: boolean;
  /** @internal the same constants as one object (slab setup, repair) */
  readonly stGeo: StateGeometry;
  private readonly u8: Uint8Array;
  /** log2(size) when the stride is a power of two (>= 8), else 0 (objIndex uses invSize). */
  private readonly sizeShift: number;
  /** objects * size: the bytes from the first object to the end of the last. */
  private readonly span: number;

  /** @internal use arena.createCache / arena.findCache */
  constructor(
    private readonly arena: SlabHost,
    g: CacheGeometry,
    handleName: string,
    ctor: SlabCtor | undefined,
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
    this.okW = this.d + Hot.C_ALLOC_OK;
    this.invSize = strideReciprocal(g.size, g.objects);
    this.sizeShift = (g.size & (g.size - 1)) === 0 ? 31 - Math.clz32(g.size) : 0;
    this.span = g.objects * g.size;
    this.allocGen = g.gen;
    this.metaW = arena.metaW;
    this.maxPages = arena.layout.maxPages;
    this.u8 = arena.u8;
    this.stGeo = readStateGeometry(arena.i32, this.d);
    this.stPshift = this.stGeo.pshift;
    this.stC = this.stGeo.c;
    this.stSh = this.stGeo.sh;
    this.stFlat = this.stGeo.pshift === Hot.PAGE_SHIFT;
    // Sheaves only on the non-debug path (kernel: do_kmem_cache_create allocates them only
    // without SLAB_DEBUG_FLAGS); a quarantined free must reach the quarantine.
    this.sheafCap = this.debug || this.quarantine ? 0 : g.sheafCapacity;
    this.rcuSheafCap = this.sheafCap === 0 ? 0 : g.rcuSheafCapacity;
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
    // kernel: alloc_from_pcs, a pop from this thread's main sheaf. Always the slow path
    // for a cache without sheaves (R_SHEAF_TOP stays 0).
    const top = i32[r + Hot.R_SHEAF_TOP]!;
    if (top > i32[r + Hot.R_SHEAF]! >> 2 && i32[this.okW] === this.allocGen) {
      const p = i32[top - 1]!;
      i32[r + Hot.R_SHEAF_TOP] = top - 1;
      // The object's state byte: CACHED -> ALLOC (objstate.ts). The head page is
      // layout.ts headOfPage, written inline here (fast path).
      let hp = p >>> Hot.PAGE_SHIFT;
      if (this.order !== 0 && (i32[this.metaW + hp * Hot.PAGE_META_WORDS + Hot.P_FLAGS]! & Hot.PK_MASK) === Hot.PK_TAIL) hp = i32[this.metaW + hp * Hot.PAGE_META_WORDS + Hot.P_CACHE]!;
      const off = p - (hp << Hot.PAGE_SHIFT) - this.redLeftPad;
      const k = this.sizeShift !== 0 ? off >>> this.sizeShift : (off * this.invSize) | 0;
      this.u8[this.stFlat ? (hp << Hot.PAGE_SHIFT) + this.stC + k : (hp << this.stPshift) + this.stC + ((k >> 3) << this.stSh) + (k & 7)] = Hot.OS_ALLOC;
      i32[r + Hot.R_ALLOC_FAST]++;
      return p;
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
   * this cache (outside the arena, another cache's, an interior pointer, already free,
   * pending in kfreeRcu) is refused with a kernel-style report (onWarning) and nothing
   * changes, on every cache.
   *
   * kernel: free_to_pcs, a push onto this thread's main sheaf, whichever thread allocated
   * the object. Validated from page metadata (a slab of this cache, an object boundary)
   * and the object's state byte (ALLOC -> CACHED); anything else, a full or missing
   * sheaf, or a cache being destroyed takes the checked slow path.
   */
  free(ptr: number): void {
    const i32 = this.i32;
    const r = this.rec;
    // No sheaf: TOP = LIM = 0; a full one: TOP = LIM. Either way the slow path.
    const top = i32[r + Hot.R_SHEAF_TOP]!;
    let pfn = ptr >>> Hot.PAGE_SHIFT;
    if (top < i32[r + Hot.R_SHEAF_LIM]! && pfn < this.maxPages && i32[this.okW] === this.allocGen) {
      // The head page (layout.ts headOfPage), written inline here (fast path).
      let m = this.metaW + pfn * Hot.PAGE_META_WORDS;
      let kind = i32[m + Hot.P_FLAGS]! & Hot.PK_MASK;
      if (kind === Hot.PK_TAIL) {
        pfn = i32[m + Hot.P_CACHE]!;
        m = this.metaW + pfn * Hot.PAGE_META_WORDS;
        kind = i32[m + Hot.P_FLAGS]! & Hot.PK_MASK;
      }
      if (kind === Hot.PK_SLAB && i32[m + Hot.P_CACHE] === this.idx) {
        // An integer offset within the objects' span, on a boundary (a mask for
        // power-of-two strides, else the verified reciprocal), then its state byte.
        const off = ptr - (pfn << Hot.PAGE_SHIFT) - this.redLeftPad;
        if (off >>> 0 === off && off < this.span) {
          let k: number;
          if (this.sizeShift !== 0) k = (off & (this.size - 1)) === 0 ? off >>> this.sizeShift : -1;
          else {
            k = (off * this.invSize) | 0;
            if (k * this.size !== off) k = -1;
          }
          if (k >= 0) {
            const sa = this.stFlat ? (pfn << Hot.PAGE_SHIFT) + this.stC + k : (pfn << this.stPshift) + this.stC + ((k >> 3) << this.stSh) + (k & 7);
            if (this.u8[sa] === Hot.OS_ALLOC) {
              this.u8[sa] = Hot.OS_CACHED;
              i32[top] = ptr;
              i32[r + Hot.R_SHEAF_TOP] = top + 1;
              i32[r + Hot.R_FREE_FAST]++;
              return;
            }
          }
        }
      }
    }
    if (ptr !== 0) this.freeChecked(ptr);
  }

  /** @internal validate a pointer, then the slow free. */
  freeChecked(ptr: number): void {
    this.freeExpecting(ptr, Hot.OS_ALLOC);
  }

  /**
   * @internal The checked free of an object in state `expect`: ALLOC for a user's free,
   * RCU for the kfree_rcu drain (the object then goes where a user's free would put it).
   * Validated with reports (slabOf, then the state byte) before anything changes.
   */
  freeExpecting(ptr: number, expect: number): void {
    const a = this.arena;
    this.checkNotReleased('free');
    const pfn = this.slabOf(ptr);
    if (pfn < 0) return; // reported
    const st = this.stateOf(ptr);
    if (st !== expect && !(expect === Hot.OS_ALLOC && ((this.debug && st === Hot.OS_FREE) || (this.quarantine && st === Hot.OS_QUAR)))) {
      // (A debug cache's already-free object is left to its own free_consistency_checks,
      // and a quarantined one to the quarantine's check: both give the full SLUB report
      // "Object already free".)
      a.reporter.reportStateMisuse(this, ptr, 'free', st);
      return;
    }
    if (expect !== Hot.OS_ALLOC) this.setState(ptr, Hot.OS_ALLOC);
    // debug edit: the quarantine holds the object (or refuses the free with a report).
    if (this.quarantine && a.debugHooks?.quarantinePut?.(this, pfn, ptr)) return;
    if (this.sheafCap !== 0) a.slab.freeToSheafSlow(this, ptr);
    else a.slab.freeToSlab(this, ptr, Hot.OS_ALLOC, true);
    if (this.debug) a.debugHooks?.flushReports?.(); // debug edit: see alloc()
  }

  /** @internal Head pfn of the slab holding `ptr` (an object already validated as this cache's). */
  headPfn(ptr: number): number {
    return headPfnOf(this.i32, this.metaW, ptr);
  }

  /** @internal Byte address of the state of validated object `ptr` (objstate.ts). */
  stateAddrOf(ptr: number): number {
    return this.stateAddrIn(this.order !== 0 ? headPfnOf(this.i32, this.metaW, ptr) : ptr >>> Hot.PAGE_SHIFT, ptr);
  }

  /**
   * @internal The state addresses of the `n` objects at words from..from+n-1 of `src`
   * (validated objects of this cache) into out[0..n-1]; false as soon as one is not in
   * state `expect`. One loop (the kfree_rcu drain's runs: SlabCore.drainRunToBarn).
   */
  stateAddrsIf(src: Int32Array, from: number, n: number, out: Int32Array, expect: number): boolean {
    const u8 = this.u8;
    const multi = this.order !== 0;
    for (let j = 0; j < n; j++) {
      const ptr = src[from + j]!;
      const sa = this.stateAddrIn(multi ? headPfnOf(this.i32, this.metaW, ptr) : ptr >>> Hot.PAGE_SHIFT, ptr);
      if (u8[sa] !== expect) return false;
      out[j] = sa;
    }
    return true;
  }

  /** @internal The states are one byte array per slab (objstate.ts flat geometry): takeAllFree works. */
  get flatStates(): boolean {
    return this.stFlat;
  }

  /**
   * @internal refill_sheaf taking a slab's whole freelist (kernel: get_freelist), found
   * from the state bytes instead of by walking the list (one pass over one array instead
   * of a chain of dependent loads through the objects): every FREE object of slab `hp`
   * becomes CACHED and is appended to out[] from index n. Under C_LOCK, flat states only;
   * FREE is exactly "on the slab's freelist" there (objstate.ts), so the caller then
   * empties the freelist. Returns the new n.
   */
  takeAllFree(hp: number, out: Int32Array, n: number): number {
    const u8 = this.u8;
    const sb = (hp << Hot.PAGE_SHIFT) + this.stC;
    const first = (hp << Hot.PAGE_SHIFT) + this.redLeftPad;
    const size = this.size;
    const objects = this.objects;
    for (let k = 0; k < objects; k++) {
      if (u8[sb + k] === Hot.OS_FREE) {
        u8[sb + k] = Hot.OS_CACHED;
        out[n++] = first + k * size;
      }
    }
    return n;
  }

  /** @internal stateAddrOf for an object of the slab at head page `hp` (known to the caller: no page lookup). */
  stateAddrIn(hp: number, ptr: number): number {
    const off = ptr - (hp << Hot.PAGE_SHIFT) - this.redLeftPad;
    const k = this.sizeShift !== 0 ? off >>> this.sizeShift : this.invSize !== 0 ? (off * this.invSize) | 0 : this.objIndex(off);
    return this.stFlat ? (hp << Hot.PAGE_SHIFT) + this.stC + k : (hp << this.stPshift) + this.stC + ((k >> 3) << this.stSh) + (k & 7);
  }

  /** @internal The OS_* state of validated object `ptr`. */
  stateOf(ptr: number): number {
    return this.u8[this.stateAddrOf(ptr)]!;
  }

  /** @internal Set the OS_* state of validated object `ptr`. */
  setState(ptr: number, st: number): void {
    this.u8[this.stateAddrOf(ptr)] = st;
  }

  /**
   * Head pfn of the slab holding object `ptr` of this cache, or -1 after reporting why
   * `ptr` is not one (outside the arena, not a slab page, another cache, interior pointer).
   * @internal
   */
  slabOf(ptr: number): number {
    const a = this.arena;
    const i32 = this.i32;
    // The committed size is an Atomics.load: only consulted once a pointer failed, to
    // word the report (pages past it have no metadata kind: PK_NONE).
    if (!Number.isInteger(ptr) || ptr < 0 || ptr >= this.maxPages * (1 << Hot.PAGE_SHIFT)) {
      a.reporter.reportInvalidFree(this, ptr, 'outside the arena');
      return -1;
    }
    const pfn = headPfnOf(i32, this.metaW, ptr);
    const m = a.pm(pfn);
    const kind = i32[m + Hot.P_FLAGS] & Hot.PK_MASK;
    if (kind !== Hot.PK_SLAB && ptr >= a.committedBytes()) {
      a.reporter.reportInvalidFree(this, ptr, 'outside the arena');
      return -1;
    }
    if (kind !== Hot.PK_SLAB) {
      a.reporter.reportInvalidFree(this, ptr, 'not a slab object');
      return -1;
    }
    const owner = i32[m + Hot.P_CACHE];
    if (owner !== this.idx) {
      a.reporter.reportWrongCache(this, owner, ptr);
      return -1;
    }
    const off = ptr - (pfn << Hot.PAGE_SHIFT) - this.redLeftPad;
    const k = this.objIndex(off);
    if (k < 0 || k >= this.objects) {
      a.reporter.reportInvalidFree(this, ptr, 'interior pointer');
      return -1;
    }
    return pfn;
  }

  /**
   * Index of the object at byte offset `off` from the slab's first object, or -1 if
   * `off` is not an object boundary (negative, fractional or inside an object). Past the
   * last object it returns an index >= objects; callers compare. (kernel: obj_to_index
   * with reciprocal_divide; the `% size` fallback is for a reciprocal that failed its
   * verification, which does not happen for any stride we can create.)
   * @internal
   */
  objIndex(off: number): number {
    const sh = this.sizeShift;
    if (sh !== 0) {
      // A power-of-two stride (most caches: every kmalloc size but 96 and 192, and any
      // HWCACHE_ALIGNed size): a mask and a shift, no float round trip.
      // (off >>> 0 === off: a non-negative integer; a fraction would pass the mask.)
      return off >>> 0 === off && (off & (this.size - 1)) === 0 ? off >>> sh : -1;
    }
    const inv = this.invSize;
    if (inv !== 0) {
      const k = (off * inv) | 0; // off < 2^20: the product fits, and |0 keeps it an int32
      return k >= 0 && k * this.size === off ? k : -1;
    }
    return off >= 0 && off % this.size === 0 ? off / this.size : -1;
  }

  /**
   * objIndex(off) in [0, objects), as one test for the fast paths: an integer within the
   * span of the objects, then the boundary test (mask, or the reciprocal for strides that
   * are not powers of two).
   */
  private isObjectStart(off: number): boolean {
    // off >>> 0 === off: a non-negative integer (fractions, NaN and out-of-range values
    // from a bad pointer all fail it).
    const u = off >>> 0;
    if (u !== off || u >= this.span) return false;
    if (this.sizeShift !== 0) return (off & (this.size - 1)) === 0;
    return ((off * this.invSize) | 0) * this.size === off;
  }

  /** @internal may this handle still use the fast paths / sheaves (not destroyed, cache accepting allocations)? */
  allocOk(): boolean {
    return this.i32[this.okW] === this.allocGen;
  }

  /** @internal this handle was destroyed (kmem_cache_destroy dropped its reference): fast paths off. */
  disable(): void {
    this.allocGen = -2;
  }

  /**
   * @internal Index of the object starting `off` bytes after its slab's first page, or
   * -1 if no object starts there (kernel: obj_to_index, here with the boundary check).
   * Same reciprocal as the fast paths (objIndex), verified for this geometry.
   */
  objectIndex(off: number): number {
    const k = this.objIndex(off - this.redLeftPad);
    return k < this.objects ? k : -1;
  }

  /** @internal throws unless allocation is allowed. */
  checkAlloc(): void {
    const i32 = this.i32;
    this.checkNotReleased('alloc');
    if (i32[this.okW] !== this.gen) {
      const st = i32[this.d + Hot.C_STATE];
      const why = st === Hot.CS_DYING ? 'is being destroyed' : st === Hot.CS_LEAKED ? 'was destroyed with objects remaining' : 'is not live';
      throw new Error(`slabrcu: alloc from cache '${this.name}' which ${why}`);
    }
    if (this.nameIdx >= 0 && !this.arena.registry.nameValid(this)) {
      throw new Error(`slabrcu: alloc through handle '${this.name}' which was destroyed`);
    }
  }

  /** @internal */
  checkNotReleased(what: string): void {
    const i32 = this.i32;
    if (i32[this.d + Hot.C_GEN] !== this.gen || i32[this.d + Hot.C_STATE] === Hot.CS_FREE) {
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

  /** kmem_cache_shrink: flush this thread's sheaves and the barn, free every empty slab. Returns slabs freed. */
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
  validate(): ValidateResult {
    this.checkNotReleased('validate');
    return this.arena.validateCache(this);
  }
}

export const CACHE_STATE_NAMES = ['free', 'live', 'dying', 'leaked'] as const;
