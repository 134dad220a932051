/**
 * SLUB debugging for slabrcu: the implementation of the allocator's DebugHooks
 * (src/debug/hooks.ts), i.e. mm/slub.c's setup_slab_debug / setup_object_debug /
 * alloc_debug_processing / free_debug_processing / validate_slab_cache, with the stack
 * depot for alloc/free tracks and a KASAN-style quarantine.
 *
 * One SlubDebug per Arena object (so per thread): it keeps only per-thread things (the
 * depot's local lookup cache, the report accumulator, the "evicting" flag). All state
 * shared between threads is in the arena: object bytes and tracks, page metadata, the
 * debug region (src/debug/layout.ts), depot records and the quarantine ring.
 *
 * When the hooks run (see src/slab/core.ts): debug caches never use cpu slabs, so every
 * alloc and free of a debug cache goes through the cache's list_lock (C_LOCK) and calls
 * allocCheck/afterAlloc or freeCheck/beforeFree under it, as the kernel's
 * alloc_single_from_partial / free_to_partial_list do.
 *
 * Deviations from the kernel, each for robustness of a user-space allocator:
 * - Without F, a debug cache still refuses a free of the object at the head of the
 *   slab's freelist, and, when the red zone (or poison) already says "free", or always
 *   with U or T, walks the freelist to confirm it (the kernel would corrupt its freelist).
 * - An invalid freelist pointer found at alloc time is reported with or without F.
 * - validate() moves a repaired slab to the list its new state belongs to (a partial
 *   slab whose freelist was cleared becomes full), so the allocator never takes it.
 * - The quarantine checks a free when the program frees (not when the object leaves), so
 *   the report and the free track point at the program's call (see quarantinePut).
 *
 * Reports raised while a cache lock is held are queued and delivered when the allocator
 * call returns (report.ts), so onWarning listeners may call the allocator.
 */
import type { DebugHost } from './host.js';
import { C_LOCK, headPfnOf, OS_QUAR, P_CACHE, P_FLAGS, P_FREELIST, P_INUSE, PAGE_SHIFT } from '../layout.js';
import type { Cache } from '../slab/cache.js';
import { lock, unlock } from '../sync/mutex.js';
import { userFrames } from '../report.js';
import { Checker, Mode } from './checks.js';
import { geoOf, trackWord, type Geo } from './geometry.js';
import type { DebugHooks, ValidateResult } from './hooks.js';
import {
  P_DISABLED, POISON_END, POISON_FREE, POISON_INUSE, quarantineMarker, SLUB_RED_ACTIVE, SLUB_RED_INACTIVE, TR_CPU, TR_HANDLE, TR_PID, TR_WHEN,
} from './layout.js';
import { Quarantine, type QuarantineStats } from './quarantine.js';
import { hex, hexDump, Reporter } from './report.js';
import { StackDepot } from './stackdepot.js';
import { slabTraces, type TraceLocation } from './traces.js';
import { validateCache } from './validate.js';

export type { QuarantineStats } from './quarantine.js';
export type { TraceLocation } from './traces.js';
export type { ValidateResult } from './hooks.js';
export { POISON_END, POISON_FREE, POISON_INUSE, SLUB_RED_ACTIVE, SLUB_RED_INACTIVE };

export class SlubDebug implements DebugHooks {
  readonly depot: StackDepot;
  readonly reporter: Reporter;
  readonly checker: Checker;
  readonly quarantine: Quarantine | undefined;
  /**
   * The object this thread is freeing on its way out of the quarantine (0 = none): its
   * free checks ran at put time, so freeCheck/beforeFree only do the use-after-free check
   * for it. Holding the pointer (not a boolean) keeps a nested free of another object, from
   * an onWarning listener, fully checked.
   */
  private evicting = 0;

  constructor(readonly a: DebugHost) {
    layers.set(a, this);
    this.depot = new StackDepot(a);
    this.reporter = new Reporter(a, this.depot);
    this.checker = new Checker(a, this.reporter, this.depot, a.threads.tid(a.slot));
    this.quarantine = a.options.quarantineBytes > 0 ? new Quarantine(a) : undefined;
  }

  // ------------------------------------------------------------ new slabs

  /** setup_slab_debug: a poisoned cache's new slab is 0x5a from end to end. */
  setupSlab(c: Cache, pfn: number): void {
    const g = geoOf(c);
    if (g.poison) this.a.u8.fill(POISON_INUSE, pfn << PAGE_SHIFT, (pfn << PAGE_SHIFT) + g.slabBytes);
  }

  /** setup_object_debug: inactive red zones, poison, empty tracks. */
  setupObject(c: Cache, obj: number): void {
    const g = geoOf(c);
    if (!(g.storeUser || g.redZone || g.objectPoison)) return;
    this.checker.initObject(g, obj, SLUB_RED_INACTIVE);
    this.checker.initTracking(g, obj);
  }

  // ----------------------------------------------------------------- alloc

  /** alloc_debug_processing's checks (alloc_consistency_checks), under C_LOCK. */
  allocCheck(c: Cache, pfn: number, obj: number): boolean {
    const g = geoOf(c);
    const ck = this.checker;
    return this.reporter.group(() => {
      let ok = true;
      if (g.checks && !ck.checkSlab(g, pfn)) ok = false;
      else if (obj === 0 || !g.validPointer(pfn, obj)) {
        this.reporter.objectErr('slab-error', g, pfn, obj, 'Freelist Pointer check fails');
        ok = false;
      } else if (g.checks && !ck.checkObject(g, pfn, obj, Mode.Inactive)) ok = false;
      if (!ok) {
        // The caller empties the freelist and moves the slab to the full list.
        this.reporter.fix(c, 'Marking all objects used');
        if (g.checks) this.a.i32[this.a.pm(pfn) + P_FLAGS]! |= P_DISABLED;
      }
      return ok;
    });
  }

  /** The rest of alloc_debug_processing plus the alloc track, under C_LOCK. */
  afterAlloc(c: Cache, obj: number): void {
    const g = geoOf(c);
    if (g.trace) this.trace(g, obj, true);
    this.checker.setOrigSize(g, obj, g.objectSize);
    this.checker.initObject(g, obj, SLUB_RED_ACTIVE);
    this.checker.setTrack(g, obj, false);
  }

  /**
   * kmalloc(size) got obj from cache c: remember orig_size and red-zone the tail
   * [size, object_size) (kernel: set_orig_size + init_object in alloc_debug_processing).
   */
  kmallocOrigSize(c: Cache, obj: number, size: number): void {
    if (!c.debug) return;
    const g = geoOf(c);
    if (g.origOff < 0 || size >= g.objectSize) return;
    const i32 = this.a.i32;
    lock(i32, c.d + C_LOCK);
    try {
      this.checker.setOrigSize(g, obj, size);
      this.checker.initObject(g, obj, SLUB_RED_ACTIVE);
    } finally {
      unlock(i32, c.d + C_LOCK);
    }
  }

  /** skip_orig_size_check: after ksize() the whole object is the caller's. */
  skipOrigSizeCheck(obj: number): void {
    const a = this.a;
    const k = a.kmallocs.classify(obj);
    if (k.kind !== 'slab') return;
    const c = a.internalHandle(k.idx);
    if (!c.debug) return;
    const g = geoOf(c);
    if (g.origOff < 0) return;
    const i32 = a.i32;
    lock(i32, c.d + C_LOCK);
    try {
      this.checker.setOrigSize(g, obj, g.objectSize);
    } finally {
      unlock(i32, c.d + C_LOCK);
    }
  }

  // ------------------------------------------------------------------ free

  /**
   * free_debug_processing's checks, under C_LOCK. On failure the object is not freed
   * ("FIX <cache>: Object at 0x... not freed") and the slab's lists are untouched.
   */
  freeCheck(c: Cache, pfn: number, obj: number): boolean {
    if (this.evicting === obj) return this.evictCheck(c, pfn, obj);
    const g = geoOf(c);
    const ck = this.checker;
    const r = this.reporter;
    const i32 = this.a.i32;
    const m = this.a.pm(pfn);
    return r.group(() => {
      let ok = true;
      if (g.checks && !ck.checkSlab(g, pfn)) ok = false;
      else if (i32[m + P_INUSE]! < 1) {
        r.slabErr('double-free', c, pfn, `Slab has ${i32[m + P_INUSE]} allocated objects but 1 are to be freed`);
        ok = false;
      } else if (!g.validPointer(pfn, obj)) {
        r.slabErr('invalid-free', c, pfn, `Invalid object pointer 0x${hex(obj)}`);
        ok = false;
      } else if (g.checks) {
        if (ck.onFreelist(g, pfn, obj)) {
          r.objectErr('double-free', g, pfn, obj, 'Object already free');
          ok = false;
        } else if (!ck.checkObject(g, pfn, obj, Mode.Active)) ok = false;
      } else if (i32[m + P_FREELIST] === obj || (this.looksFree(g, obj) && ck.onFreelist(g, pfn, obj))) {
        r.objectErr('double-free', g, pfn, obj, 'Object already free');
        ok = false;
      }
      if (!ok) r.fix(c, `Object at 0x${hex(obj)} not freed`);
      return ok;
    });
  }

  /**
   * Should a free without F look for obj on the freelist? Yes when its red zone (or
   * poison) has the inactive pattern, and always when the cache stores tracks or traces:
   * there the stack capture costs far more than the walk.
   */
  private looksFree(g: Geo, obj: number): boolean {
    if (g.storeUser || g.trace) return true;
    const u8 = this.a.u8;
    if (g.redZone) return u8[obj + g.objectSize] === SLUB_RED_INACTIVE;
    if (g.objectPoison) return u8[obj] === POISON_FREE && u8[obj + g.objectSize - 1] === POISON_END;
    return false;
  }

  /** After the checks passed, before the object is linked: free track, trace, inactive poison. */
  beforeFree(c: Cache, obj: number): void {
    if (this.evicting === obj) return;
    const g = geoOf(c);
    this.checker.setTrack(g, obj, true);
    if (g.trace) this.trace(g, obj, false);
    this.checker.initObject(g, obj, SLUB_RED_INACTIVE);
  }

  /** SLAB_TRACE: "TRACE <cache> alloc|free 0x<obj> inuse=<n> fp=0x<freelist>" and the stack. */
  private trace(g: Geo, obj: number, alloc: boolean): void {
    const i32 = this.a.i32;
    const pfn = this.slabPfn(obj);
    const m = this.a.pm(pfn);
    const name = g.c.cacheName;
    const line = `TRACE ${name} ${alloc ? 'alloc' : 'free'} 0x${hex(obj)} inuse=${i32[m + P_INUSE]} fp=0x${hex(i32[m + P_FREELIST]!)}`;
    let text = `${line}\n`;
    if (!alloc) text += hexDump(this.a.u8, 'Object ', obj, g.objectSize);
    text += userFrames(new Error().stack).slice(0, 16).map((f) => ` ${f}\n`).join('');
    this.reporter.emit('trace', name, line, text, 0);
  }

  // ---------------------------------------------------------- quarantine

  /**
   * quarantine_put for a free of `obj` (already validated as an object boundary of slab
   * `pfn` of cache c). The free's checks run now, at the caller's free (for debug caches
   * the same as free_debug_processing, with the free track); the object is then poisoned,
   * marked and queued; objects pushed out of the quarantine are freed for real.
   */
  quarantinePut(c: Cache, pfn: number, obj: number): boolean {
    const q = this.quarantine;
    if (!q || c.typesafeByRcu || c.size > q.budget) return false;
    const a = this.a;
    const i32 = a.i32;
    const g = geoOf(c);
    if (i32[(obj + g.fp) >> 2] === quarantineMarker(obj)) {
      q.countDouble();
      this.reporter.group(() => {
        this.reporter.objectErr('double-free', g, pfn, obj, 'Object already free', `Object 0x${hex(obj)} is in the quarantine (freed before)\n`);
        this.reporter.fix(c, `Object at 0x${hex(obj)} not freed`);
      });
      this.reporter.deliver();
      return true;
    }
    let evicted: number[] | null;
    if (c.debug) {
      lock(i32, c.d + C_LOCK);
      let refused = false;
      try {
        refused = !this.freeCheck(c, pfn, obj);
        if (refused) return true;
        this.beforeFree(c, obj);
        this.checker.quarantinePoison(g, obj);
        c.setState(obj, OS_QUAR);
        evicted = q.put(obj, c.size);
      } finally {
        unlock(i32, c.d + C_LOCK);
        if (refused) this.reporter.deliver();
      }
    } else {
      // (A double free of a non-debug cache was refused by its state byte already.)
      this.checker.quarantinePoison(g, obj);
      c.setState(obj, OS_QUAR);
      evicted = q.put(obj, c.size);
    }
    if (evicted === null) evicted = [obj]; // no memory for the ring: free it now
    for (const o of evicted) this.evictOne(o);
    this.reporter.deliver();
    return true;
  }

  /** An object leaves the quarantine: check it was not written to, then free it for real. */
  evictOne(obj: number): void {
    const a = this.a;
    const pfn = this.slabPfn(obj);
    const h = a.internalHandle(a.i32[a.pm(pfn) + P_CACHE]!);
    this.quarantine?.countEvicted(1);
    if (h.debug) {
      // The checks and the freelist link happen under C_LOCK in the core's free path,
      // which calls freeCheck/beforeFree; those see `evicting` and only do evictCheck.
      const prev = this.evicting;
      this.evicting = obj;
      try {
        a.slab.freeToSlab(h, obj, OS_QUAR, true);
      } finally {
        this.evicting = prev;
      }
    } else {
      // Nobody else can reach the object: check without a lock.
      this.evictCheck(h, pfn, obj);
      a.slab.freeToSlab(h, obj, OS_QUAR, true);
    }
  }

  /** Use-after-free check of an object leaving the quarantine. Always lets it be freed. */
  private evictCheck(c: Cache, pfn: number, obj: number): boolean {
    const g = geoOf(c);
    const ck = this.checker;
    const r = this.reporter;
    const fpW = (obj + g.fp) >> 2;
    const i32 = this.a.i32;
    let clean = true;
    r.group(() => {
      ck.bytesKind = 'use-after-free';
      try {
        if (i32[fpW] !== quarantineMarker(obj)) {
          const line = `[Quarantine marker overwritten] 0x${hex(obj + g.fp)}-0x${hex(obj + g.fp + 3)} @offset=${obj + g.fp - (pfn << PAGE_SHIFT)}. First word 0x${hex(i32[fpW]!)} instead of 0x${hex(quarantineMarker(obj))}`;
          r.objectErr('use-after-free', g, pfn, obj, 'Object corrupt', `${line}\n`);
          clean = false;
        }
        if (!ck.checkObject(g, pfn, obj, Mode.Quarantined)) clean = false;
      } finally {
        ck.bytesKind = 'slab-error';
      }
      if (!clean) {
        this.quarantine?.countUaf();
        r.line('use-after-free', c, `Use after free: object 0x${hex(obj)} of ${c.cacheName} was written while in the quarantine`, 0);
      }
    });
    return true;
  }

  /**
   * Destroy's quarantine step. `final` (kasan_cache_shutdown before the shutdown with
   * warning: destroySync, and destroy's asynchronous work after the kfree_rcu barrier):
   * quarantine_remove_cache, every quarantined object of c is checked and freed. Not final
   * (destroy()'s first, silent shutdown): nothing is flushed, as in the RFC ("flushing the
   * quarantine by kasan_cache_shutdown(s) is only done in the workfn"): quarantined
   * objects are outstanding objects, so the destroy goes asynchronous, and the flush runs
   * after the barrier, whose kfreeRcu frees go through the quarantine too (kernel
   * b55b423e8518: the callbacks must fill the quarantine before kasan_cache_shutdown); a
   * flush before it would be undone. Returns true if objects of c were held.
   */
  quarantineFlushCache(c: Cache, final: boolean): boolean {
    const q = this.quarantine;
    if (!q) return false;
    if (!final) return q.countCache(c.idx) > 0;
    const objs = q.take(c.idx);
    for (const o of objs) this.evictOne(o);
    this.reporter.deliver();
    return objs.length > 0;
  }

  /** Free every quarantined object (of every cache). Returns how many there were. */
  quarantineFlushAll(): number {
    const q = this.quarantine;
    if (!q) return 0;
    const objs = q.take(-1);
    for (const o of objs) this.evictOne(o);
    this.reporter.deliver();
    return objs.length;
  }

  // ------------------------------------------------------------- reading

  /** The stored alloc track of obj as text ("Allocated in ... age=... cpu=... pid=..." and frames). */
  allocTrace(c: Cache, obj: number): string | undefined {
    const g = geoOf(c);
    if (!g.storeUser) return undefined;
    const t = this.reporter.track('Allocated', g, obj, Date.now() >>> 0);
    return t === '' ? undefined : t.replace(/\n$/, '');
  }

  /** Both tracks of obj, decoded (undefined where empty or the cache stores none). */
  tracks(c: Cache, obj: number): { alloc?: TrackInfo; free?: TrackInfo } {
    const g = geoOf(c);
    const out: { alloc?: TrackInfo; free?: TrackInfo } = {};
    if (!g.storeUser) return out;
    const now = Date.now() >>> 0;
    for (const which of ['alloc', 'free'] as const) {
      const w = trackWord(g, obj, which === 'free');
      const i32 = this.a.i32;
      if (i32[w + TR_CPU] === 0) continue;
      const frames = this.depot.fetch(i32[w + TR_HANDLE]!);
      out[which] = { handle: i32[w + TR_HANDLE]!, thread: i32[w + TR_CPU]! - 1, nodeThreadId: i32[w + TR_PID]!, ageMs: (now - i32[w + TR_WHEN]!) >>> 0, frames };
    }
    return out;
  }

  validate(c: Cache): ValidateResult {
    try {
      return validateCache(this, c);
    } finally {
      this.reporter.deliver();
    }
  }

  /** Reports raised under a lock reach the onWarning listeners here (see report.ts). */
  flushReports(): void {
    this.reporter.deliver();
  }

  /** Head pfn of the slab holding obj. */
  slabPfn(obj: number): number {
    const a = this.a;
    return headPfnOf(a.i32, a.metaW, obj);
  }
}

/**
 * One alloc or free track of an object (SLAB_STORE_USER), as {@link objectTracks} returns it.
 * `thread` is a thread slot, the same number as {@link Arena.threadId} and {@link SlabWarning.thread};
 * `nodeThreadId` is Node's `worker_threads.threadId` of that thread (the report's `pid=`).
 */
export interface TrackInfo {
  /** Stack depot handle (equal handles: the same stack). */
  readonly handle: number;
  /** Thread slot of the thread that allocated / freed (the kernel's cpu; {@link Arena.threadId} of that thread). */
  readonly thread: number;
  /** Node's `worker_threads.threadId` of that thread (the kernel's pid); -1 outside Node. */
  readonly nodeThreadId: number;
  /** Milliseconds since the alloc / free. */
  readonly ageMs: number;
  /** Frames outside the library, innermost first. */
  readonly frames: readonly string[];
}

/** Both tracks of an object, as {@link objectTracks} returns them (absent where none is stored). */
export interface ObjectTracks {
  /** The alloc track. */
  alloc?: TrackInfo;
  /** The free track (set once the object was freed). */
  free?: TrackInfo;
}

/** debugfs alloc_traces / free_traces of a cache, as {@link cacheTraces} returns them. */
export interface CacheTraces {
  /** One entry per distinct stack, most frequent first. */
  locations: TraceLocation[];
  /** The kernel's text (one block per location). */
  text: string;
}

/**
 * The public helpers below take an `Arena` (any thread's); they are typed by this public
 * shape so the debug room need not import the Arena class (debug/host.ts), and find the
 * thread's SlubDebug through the layer's own registry.
 */
export interface DebugArena {
  /** The arena's shared buffer. */
  readonly sab: SharedArrayBuffer;
}

/** The SlubDebug installed for each host (the Arena constructor installs one per thread). */
const layers = new WeakMap<object, SlubDebug>();

/** The SlubDebug of an arena (installed by the Arena constructor). */
export function slubDebugOf(a: DebugArena): SlubDebug {
  const d = layers.get(a);
  if (d === undefined || (a as Partial<DebugHost>).debugHooks !== d) throw new Error('slabrcu: this arena has no SLUB debug layer');
  return d;
}

/**
 * Alloc and free tracks of an object (caches with SLAB_STORE_USER), readable from any thread.
 * Empty for objects of caches that store no tracks, and for pointers that are no slab object.
 */
export function objectTracks(a: DebugArena, ptr: number): ObjectTracks {
  const d = slubDebugOf(a);
  const k = d.a.kmallocs.classify(ptr);
  if (k.kind !== 'slab') return {};
  return d.tracks(d.a.internalHandle(k.idx), ptr);
}

/** Quarantine counters (zeros when the arena has no quarantine). */
export function quarantineStats(a: DebugArena): QuarantineStats {
  const q = slubDebugOf(a).quarantine;
  return q ? q.stats() : { budget: 0, objects: 0, bytes: 0, capacity: 0, evicted: 0, useAfterFree: 0, doubleFree: 0 };
}

/** Free every quarantined object now (each is checked for use after free on the way out). */
export function quarantineFlush(a: DebugArena): number {
  return slubDebugOf(a).quarantineFlushAll();
}

/** Counters of the arena's stack depot (lib/stackdepot.c), as {@link stackDepotStats} returns them. */
export interface StackDepotStats {
  /** Distinct stacks stored. */
  records: number;
  /** Bytes the stored stacks take. */
  bytes: number;
}

/** Stack depot counters: the distinct alloc / free stacks recorded so far (SLAB_STORE_USER caches). */
export function stackDepotStats(a: DebugArena): StackDepotStats {
  return slubDebugOf(a).depot.stats();
}

/**
 * debugfs alloc_traces / free_traces of a SLAB_STORE_USER cache: the tracks of the
 * objects in use grouped by stack, most frequent first (src/debug/traces.ts).
 */
export function cacheTraces(a: DebugArena, c: Cache, which: 'alloc' | 'free' = 'alloc'): CacheTraces {
  const d = slubDebugOf(a);
  return slabTraces(d, d.a.internalHandle(c.idx), which);
}
