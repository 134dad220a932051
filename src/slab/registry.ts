/**
 * Cache and name tables: kmem_cache_create, cache merging, find by name
 * (kernel: mm/slab_common.c __kmem_cache_create_args, find_mergeable, __kmem_cache_alias).
 *
 * Shared words: every descriptor field written at create, and the name table, are
 * written under H_SLAB_MUTEX (slab_mutex) and published by its unlock. C_ALLOC_OK and
 * C_STATE are also stored with Atomics.store so the lock-free readers (fast paths,
 * stats) see them promptly. A cache's name lives in a name entry; a merged cache has
 * one entry per alias, all pointing at one descriptor (kernel: the sysfs symlinks).
 */
import type { SlabHost } from './host.js';
import {
  SLAB_DEBUG_FLAGS, SLAB_FLAGS_PERMITTED, SLAB_KMALLOC, SLAB_MERGE_SAME, SLAB_NEVER_MERGE,
  SLAB_NO_MERGE, SLAB_PANIC, SLAB_TYPESAFE_BY_RCU,
} from '../flags.js';
import {
  C_ALIGN, C_ALLOC_OK, C_ALLOC_SLAB, C_CTOR_NAME, C_CTOR_NAME_LEN, C_FLAGS, C_FOLD_ALLOCS, C_FOLD_FREES,
  C_FREE_SLAB, C_FULL_HEAD, C_FULL_TAIL, C_GEN, C_HAS_CTOR, C_INUSE, C_KMALLOC, C_MIN_PARTIAL, C_NAME,
  C_NAME_LEN, C_NR_PARTIAL, C_NR_SLABS, C_OBJECT_SIZE, C_OBJECTS, C_OFFSET, C_ORDER, C_ORIG_SIZE_OFF, C_PARTIAL_HEAD,
  C_PARTIAL_TAIL, C_RCU_PENDING, C_RED_LEFT_PAD, C_REFCOUNT, C_SEQ, C_SHEAF_CAP, C_SIZE, C_KF_INV, C_KF_MASK, C_KF_PAD, C_KF_SIZE, C_KF_SPAN, C_STATE, C_TRACK_OFF, CPU_REC_BYTES, CACHE_BYTES, C_BARN_LOCK, C_SHEAF_EXPLICIT, C_PCS_CAP, C_LOCK,
  CS_FREE, CS_LIVE, H_CACHE_SEQ, H_SLAB_MUTEX, MAX_NAME, N_CACHE, N_CGEN, N_CHARS, N_GEN, N_LEN, N_STATE, NAME_BYTES,
  PAGE_SIZE, MAX_ORDER,
} from '../layout.js';
import { lock, unlock } from '../sync/mutex.js';
import { Cache, strideReciprocal, type CacheGeometry, type SlabCtor } from './cache.js';
import { alignUp, calculateAlignment, calculateOrder, calculateSizes, minPartial, orderObjects, sheafCapacityFor, WORD, type ObjectLayout } from './sizes.js';
import { writeStateGeometry } from './objstate.js';
import { KVFREE_BULK_MAX_ENTR } from '../kfree/layout.js';
import { debugFlagsFor } from '../debug/options.js';

/** Options of Arena.createCache as the slab room reads them (the public CacheOptions, src/arena.ts, narrows ctor). */
export interface SlabCacheOptions {
  /** Object size in bytes. */
  size: number;
  /** Minimum alignment (a power of two, at most 4096). */
  align?: number;
  /** SLAB_* flags. */
  flags?: number;
  /** Constructor run once per object when a slab is created (in the thread that creates the slab). */
  ctor?: SlabCtor;
  /**
   * At least this many objects per percpu sheaf (kernel: kmem_cache_args.sheaf_capacity),
   * 0..255. Every cache has sheaves (Linux 7.0), sized by object size (60 / 28 / 12 / 4
   * objects below 256 B / 1 KiB / 4 KiB / above): each thread allocates from and frees
   * into its own sheaves, and whole sheaves move between threads through the cache's barn.
   * Giving a capacity makes the cache unmergeable (SLAB_NO_MERGE), as in the kernel.
   * Debug caches and caches whose frees go through the quarantine have no sheaves.
   */
  sheafCapacity?: number;
}

/** Largest sheafCapacity accepted. */
export const MAX_SHEAF_CAPACITY = 255;

/** Options of Arena.findCache as the slab room reads them (the public FindOptions, src/arena.ts, narrows ctor). */
export interface SlabFindOptions {
  /** The constructor of a ctor cache, for threads that will create its slabs. */
  ctor?: SlabCtor;
}

export function checkCacheName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError('slabrcu: kmem_cache_create: a cache name must be a non-empty string');
  }
  if (/\s/.test(name)) {
    throw new TypeError(`slabrcu: kmem_cache_create: cache name '${name}' contains whitespace (it confuses slabinfo parsers)`);
  }
  if (name.length > MAX_NAME) {
    throw new RangeError(`slabrcu: kmem_cache_create: cache name '${name.slice(0, 20)}...' is ${name.length} characters; at most ${MAX_NAME}`);
  }
}

/** Arena.createCache's arguments, checked. */
interface CreateRequest {
  size: number;
  align: number;
  userFlags: number;
  ctor: SlabCtor | undefined;
  sheafReq: number;
}

/** What geometryFor computes for a CreateRequest. */
interface CreateGeometry {
  flags: number;
  layout: ObjectLayout;
  sheafCapacity: number;
  order: number;
  objects: number;
}

/** Words of a lock's own cache line (the list_lock at C_LOCK owns words C_LOCK..C_LOCK+15). */
const LOCK_LINE_WORDS = 16;

/** Check createCache's name and options (TypeError / RangeError on the first bad one). */
function checkCreateArgs(name: string, opts: SlabCacheOptions): CreateRequest {
  checkCacheName(name);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`slabrcu: createCache('${name}', opts): opts must be an object with a size`);
  const { size, ctor } = opts;
  const align = opts.align ?? 0;
  const userFlags = opts.flags ?? 0;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`slabrcu: createCache('${name}'): size must be a positive integer, got ${String(size)}`);
  }
  if (!Number.isInteger(align) || align < 0 || (align & (align - 1)) !== 0 || align > PAGE_SIZE) {
    throw new RangeError(`slabrcu: createCache('${name}'): align must be 0 or a power of two up to ${PAGE_SIZE}, got ${String(align)}`);
  }
  if (!Number.isInteger(userFlags) || (userFlags & ~SLAB_FLAGS_PERMITTED) !== 0) {
    throw new RangeError(`slabrcu: createCache('${name}'): unknown flags 0x${(userFlags >>> 0).toString(16)}`);
  }
  if (ctor !== undefined && typeof ctor !== 'function') throw new TypeError(`slabrcu: createCache('${name}'): ctor must be a function`);
  const sheafReq = opts.sheafCapacity ?? 0;
  if (!Number.isInteger(sheafReq) || sheafReq < 0 || sheafReq > MAX_SHEAF_CAPACITY) {
    throw new RangeError(`slabrcu: createCache('${name}'): sheafCapacity must be an integer in 0..${MAX_SHEAF_CAPACITY}, got ${String(sheafReq)}`);
  }
  return { size, align, userFlags, ctor, sheafReq };
}

export class Registry {
  private readonly nameW: number;
  private readonly u16: Uint16Array;

  constructor(private readonly a: SlabHost) {
    this.nameW = a.layout.nameBase >> 2;
    this.u16 = new Uint16Array(a.sab);
  }

  private nw(n: number): number {
    return this.nameW + n * (NAME_BYTES >> 2);
  }

  private readStr(word: number, len: number): string {
    const u16 = this.u16;
    let s = '';
    for (let k = 0; k < len; k++) s += String.fromCharCode(u16[word * 2 + k]!);
    return s;
  }

  private writeStr(word: number, s: string): void {
    for (let k = 0; k < s.length; k++) this.u16[word * 2 + k] = s.charCodeAt(k);
  }

  entryName(n: number): string {
    const i32 = this.a.i32;
    return this.readStr(this.nw(n) + N_CHARS, i32[this.nw(n) + N_LEN]!);
  }

  /** Name entry index of a used entry with this name, or -1 (under slab_mutex). */
  private findEntry(name: string): number {
    const i32 = this.a.i32;
    for (let n = 0; n < this.a.layout.maxNames; n++) {
      const w = this.nw(n);
      if (i32[w + N_STATE] === 1 && i32[w + N_LEN] === name.length && this.entryName(n) === name) return n;
    }
    return -1;
  }

  /** True if the name table has a free entry (under slab_mutex). */
  private hasFreeEntry(): boolean {
    const i32 = this.a.i32;
    for (let n = 0; n < this.a.layout.maxNames; n++) if (i32[this.nw(n) + N_STATE] === 0) return true;
    return false;
  }

  private newEntry(name: string, idx: number, gen: number): number {
    const i32 = this.a.i32;
    for (let n = 0; n < this.a.layout.maxNames; n++) {
      const w = this.nw(n);
      if (i32[w + N_STATE] !== 0) continue;
      i32[w + N_CACHE] = idx;
      i32[w + N_CGEN] = gen;
      i32[w + N_LEN] = name.length;
      this.writeStr(w + N_CHARS, name);
      i32[w + N_GEN]++;
      Atomics.store(i32, w + N_STATE, 1);
      return n;
    }
    throw new Error(`slabrcu: too many cache names (the name table holds ${this.a.layout.maxNames}); destroy unused caches`);
  }

  /** Is the handle's name entry still the one it was given? */
  nameValid(c: Cache): boolean {
    const i32 = this.a.i32;
    const w = this.nw(c.nameIdx);
    return i32[w + N_STATE] === 1 && i32[w + N_GEN] === c.nameGen;
  }

  /** Release the handle's name (under slab_mutex). Returns false if it was already released. */
  dropName(c: Cache): boolean {
    if (c.nameIdx < 0 || !this.nameValid(c)) return false;
    Atomics.store(this.a.i32, this.nw(c.nameIdx) + N_STATE, 0);
    return true;
  }

  readGeometry(idx: number): CacheGeometry {
    const i32 = this.a.i32;
    const d = this.a.descW(idx);
    return {
      idx,
      gen: i32[d + C_GEN]!,
      name: this.readStr(d + C_NAME, i32[d + C_NAME_LEN]!),
      flags: i32[d + C_FLAGS]!,
      objectSize: i32[d + C_OBJECT_SIZE]!,
      size: i32[d + C_SIZE]!,
      align: i32[d + C_ALIGN]!,
      offset: i32[d + C_OFFSET]!,
      inuse: i32[d + C_INUSE]!,
      order: i32[d + C_ORDER]!,
      objects: i32[d + C_OBJECTS]!,
      minPartial: i32[d + C_MIN_PARTIAL]!,
      redLeftPad: i32[d + C_RED_LEFT_PAD]!,
      trackOffset: i32[d + C_TRACK_OFF]!,
      origSizeOffset: i32[d + C_ORIG_SIZE_OFF]!,
      hasCtor: i32[d + C_HAS_CTOR] !== 0,
      kmalloc: i32[d + C_KMALLOC] !== 0,
      sheafCapacity: i32[d + C_PCS_CAP]!,
      rcuSheafCapacity: i32[d + C_SHEAF_CAP]!,
    };
  }

  ctorName(idx: number): string {
    const i32 = this.a.i32;
    const d = this.a.descW(idx);
    return this.readStr(d + C_CTOR_NAME, i32[d + C_CTOR_NAME_LEN]!);
  }

  /** kmem_cache_create. Throws on bad input and on a live duplicate name. */
  create(name: string, opts: SlabCacheOptions, internalFlags = 0): Cache {
    const req = checkCreateArgs(name, opts);
    const geo = this.geometryFor(name, req, internalFlags);
    const a = this.a;
    const i32 = a.i32;
    lock(i32, H_SLAB_MUTEX);
    try {
      if (this.findEntry(name) >= 0) {
        throw new Error(`slabrcu: kmem_cache of name '${name}' already exists`);
      }
      // Refused before anything changes: a merge bumps the target's refcount and a new
      // cache takes a descriptor, and neither may be left behind without a name.
      if (!this.hasFreeEntry()) throw new Error(`slabrcu: too many cache names (the name table holds ${a.layout.maxNames}); destroy unused caches`);
      const merged = req.ctor === undefined ? this.findMergeable(geo.flags, req.size, req.align) : -1;
      if (merged >= 0) return this.mergeInto(merged, name, req.size);
      const idx = this.freeDescriptor();
      if (idx < 0) {
        const err = `slabrcu: createCache('${name}'): the cache table is full (${a.layout.maxCaches} caches; raise maxCaches)`;
        if (geo.flags & SLAB_PANIC) throw new Error(`kmem_cache_create: Failed to create slab '${name}'. Error -12 (${err})`);
        throw new Error(err);
      }
      const gen = this.writeDescriptor(idx, name, req, geo);
      const c = new Cache(a, this.readGeometry(idx), name, req.ctor);
      this.nameHandle(c, idx, gen);
      return c;
    } finally {
      unlock(i32, H_SLAB_MUTEX);
    }
  }

  /**
   * calculate_sizes, the sheaf capacity and calculate_order for a checked request (no lock:
   * reads only the arena's constants). RangeError (or SLAB_PANIC's Error) if too large.
   */
  private geometryFor(name: string, req: CreateRequest, internalFlags: number): CreateGeometry {
    const { size, align, ctor, sheafReq } = req;
    // kernel __kmem_cache_create_args: a sheaf cache is SLAB_NO_MERGE (merging would share
    // one s->cpu_sheaves between callers that sized them differently).
    let flags = req.userFlags | internalFlags | debugFlagsFor(this.a.debugSpec, name);
    if (sheafReq > 0) flags |= SLAB_NO_MERGE;
    // do_kmem_cache_create: sheaves only without SLAB_DEBUG_FLAGS; here also not when every
    // free must reach the quarantine (arena quarantineBytes, not TYPESAFE_BY_RCU).
    const quarantined = this.a.options.quarantineBytes > 0 && (flags & SLAB_TYPESAFE_BY_RCU) === 0;
    const layout = calculateSizes(flags, size, calculateAlignment(flags, align, size), ctor !== undefined);
    const sheafCapacity = flags & SLAB_DEBUG_FLAGS || quarantined ? 0 : sheafCapacityFor(layout.size, sheafReq);
    let order = calculateOrder(layout.size, this.a.layout.maxThreads);
    // One state byte per object may not fit next to a single page-sized object.
    while (order >= 0 && order < MAX_ORDER && orderObjects(order, layout.size) < 1) order++;
    const objects = order < 0 || order > MAX_ORDER ? 0 : orderObjects(order, layout.size);
    if (order < 0 || order > MAX_ORDER || objects < 1) {
      const err = `slabrcu: createCache('${name}'): object size ${size} is too large (stride ${layout.size} needs more than order ${MAX_ORDER} pages)`;
      if (flags & SLAB_PANIC) throw new Error(`kmem_cache_create: Failed to create slab '${name}'. Error -22 (${err})`);
      throw new RangeError(err);
    }
    return { flags, layout, sheafCapacity, order, objects };
  }

  /** __kmem_cache_alias (under slab_mutex): `name` becomes one more name of cache `merged`. */
  private mergeInto(merged: number, name: string, size: number): Cache {
    const a = this.a;
    const i32 = a.i32;
    const d = a.descW(merged);
    i32[d + C_REFCOUNT]++;
    i32[d + C_OBJECT_SIZE] = Math.max(i32[d + C_OBJECT_SIZE]!, size);
    i32[d + C_INUSE] = Math.max(i32[d + C_INUSE]!, alignUp(size, WORD));
    const g = this.readGeometry(merged);
    const c = new Cache(a, g, name, undefined);
    this.nameHandle(c, merged, g.gen);
    return c;
  }

  /** A name-table entry for handle `c` of cache idx (under slab_mutex). */
  private nameHandle(c: Cache, idx: number, gen: number): void {
    c.nameIdx = this.newEntry(c.name, idx, gen);
    c.nameGen = this.a.i32[this.nw(c.nameIdx) + N_GEN]!;
  }

  /**
   * Fill the free descriptor idx for a new cache (under slab_mutex) and publish it: the
   * descriptor (but its list_lock and barn lock words) and every thread's cpu record for it
   * zeroed, the geometry written, then C_STATE = CS_LIVE and C_ALLOC_OK = gen with
   * Atomics.store, last. Returns the new generation.
   */
  private writeDescriptor(idx: number, name: string, req: CreateRequest, geo: CreateGeometry): number {
    const a = this.a;
    const i32 = a.i32;
    const { size, ctor, sheafReq } = req;
    const { flags, layout, sheafCapacity, order, objects } = geo;
    const d = a.descW(idx);
    const gen = (i32[d + C_GEN]! + 1) | 0;
    // Zero the descriptor (but its lock words) and every thread's cpu record for it.
    for (let k = 0; k < CACHE_BYTES >> 2; k++) if ((k < C_LOCK || k >= C_LOCK + LOCK_LINE_WORDS) && k !== C_BARN_LOCK) i32[d + k] = 0;
    for (let s = 0; s < a.layout.maxThreads; s++) {
      const r = a.recW(s, idx);
      for (let k = 0; k < CPU_REC_BYTES >> 2; k++) i32[r + k] = 0;
    }
    i32[d + C_GEN] = gen;
    i32[d + C_REFCOUNT] = 1;
    i32[d + C_FLAGS] = flags;
    i32[d + C_OBJECT_SIZE] = size;
    i32[d + C_SIZE] = layout.size;
    i32[d + C_ALIGN] = layout.align;
    i32[d + C_OFFSET] = layout.offset;
    i32[d + C_INUSE] = layout.inuse;
    i32[d + C_ORDER] = order;
    i32[d + C_OBJECTS] = objects;
    i32[d + C_MIN_PARTIAL] = minPartial(layout.size);
    i32[d + C_RED_LEFT_PAD] = layout.redLeftPad;
    i32[d + C_TRACK_OFF] = layout.trackOffset;
    i32[d + C_ORIG_SIZE_OFF] = layout.origSizeOffset;
    i32[d + C_HAS_CTOR] = ctor ? 1 : 0;
    i32[d + C_KMALLOC] = flags & SLAB_KMALLOC ? 1 : 0;
    i32[d + C_PCS_CAP] = sheafCapacity;
    // kfree_rcu sheaves (explicit sheafCapacity only) hold a whole block page of pointers:
    // 4 bytes of arena per pending object, whatever the percpu sheaf capacity.
    i32[d + C_SHEAF_CAP] = sheafReq > 0 && sheafCapacity > 0 ? KVFREE_BULK_MAX_ENTR : 0;
    i32[d + C_SHEAF_EXPLICIT] = sheafReq > 0 ? 1 : 0;
    writeStateGeometry(i32, d, a.metaW, layout.size, order, objects);
    i32[d + C_KF_MASK] = (layout.size & (layout.size - 1)) === 0 ? layout.size - 1 : -1;
    i32[d + C_KF_SPAN] = objects * layout.size;
    i32[d + C_KF_PAD] = layout.redLeftPad;
    i32[d + C_KF_SIZE] = layout.size;
    a.f64[(d + C_KF_INV) >> 1] = strideReciprocal(layout.size, objects);
    i32[d + C_SEQ] = ++i32[H_CACHE_SEQ];
    i32[d + C_NAME_LEN] = name.length;
    this.writeStr(d + C_NAME, name);
    const cname = ctor ? (ctor.name || 'anonymous').slice(0, 32) : '';
    i32[d + C_CTOR_NAME_LEN] = cname.length;
    this.writeStr(d + C_CTOR_NAME, cname);
    Atomics.store(i32, d + C_STATE, CS_LIVE);
    Atomics.store(i32, d + C_ALLOC_OK, gen);
    return gen;
  }

  private freeDescriptor(): number {
    const i32 = this.a.i32;
    for (let idx = 0; idx < this.a.layout.maxCaches; idx++) {
      if (i32[this.a.descW(idx) + C_STATE] === CS_FREE) return idx;
    }
    return -1;
  }

  /** find_mergeable (under slab_mutex): the oldest live compatible cache, or -1. */
  private findMergeable(flags: number, size: number, align: number): number {
    if (flags & SLAB_NEVER_MERGE) return -1;
    const i32 = this.a.i32;
    const al = calculateAlignment(flags, align, size);
    const sz = alignUp(alignUp(size, WORD), al);
    let best = -1;
    let bestSeq = Infinity;
    for (let idx = 0; idx < this.a.layout.maxCaches; idx++) {
      const d = this.a.descW(idx);
      if (i32[d + C_STATE] !== CS_LIVE) continue; // a dying cache is never merged into
      const sf = i32[d + C_FLAGS]!;
      if (sf & SLAB_NEVER_MERGE || i32[d + C_HAS_CTOR] || sf & SLAB_KMALLOC || i32[d + C_SHEAF_EXPLICIT]) continue;
      const ssize = i32[d + C_SIZE]!;
      if (sz > ssize) continue;
      if ((flags & SLAB_MERGE_SAME) !== (sf & SLAB_MERGE_SAME)) continue;
      if (ssize % al !== 0) continue;
      if (ssize - sz >= WORD) continue;
      if (i32[d + C_SEQ]! < bestSeq) {
        bestSeq = i32[d + C_SEQ]!;
        best = idx;
      }
    }
    return best;
  }

  /** A handle for an existing cache or alias name, or undefined. */
  find(name: string, opts?: SlabFindOptions): Cache | undefined {
    if (typeof name !== 'string') throw new TypeError('slabrcu: findCache(name): name must be a string');
    const a = this.a;
    const i32 = a.i32;
    lock(i32, H_SLAB_MUTEX);
    try {
      const n = this.findEntry(name);
      if (n < 0) return undefined;
      const w = this.nw(n);
      const idx = i32[w + N_CACHE]!;
      const g = this.readGeometry(idx);
      if (g.gen !== i32[w + N_CGEN]) return undefined;
      const c = new Cache(a, g, name, opts?.ctor);
      c.nameIdx = n;
      c.nameGen = i32[w + N_GEN]!;
      return c;
    } finally {
      unlock(i32, H_SLAB_MUTEX);
    }
  }

  /** Indices of caches that hold memory (live, dying or leaked), newest first (slabinfo order). */
  listedCaches(): number[] {
    const i32 = this.a.i32;
    const out: number[] = [];
    for (let idx = 0; idx < this.a.layout.maxCaches; idx++) {
      if (i32[this.a.descW(idx) + C_STATE] !== CS_FREE) out.push(idx);
    }
    out.sort((x, y) => i32[this.a.descW(y) + C_SEQ]! - i32[this.a.descW(x) + C_SEQ]!);
    return out;
  }
}
