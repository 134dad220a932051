/**
 * The arena: one SharedArrayBuffer holding pages, caches, RCU state and kfree_rcu
 * batches, and this thread's attachment to it. One Arena object per thread: the thread
 * that calls Arena.create() is attached as slot 0's owner; every other thread calls
 * Arena.attach(sab) and gets its own slot (kernel: a CPU coming online).
 *
 * Everything shared lives in the buffer (see layout.ts for the map and the owner of each
 * word); an Arena object only holds per-thread state: the slot, handles, the event-loop
 * pump that serves requests posted to this slot (kernel: IPIs and per-CPU work items).
 */
import { parseSlabDebug, type SlabDebugSpec } from './debug/options.js';
import type { DebugHooks, ValidateResult } from './debug/hooks.js';
import { SlubDebug } from './debug/index.js';
import { PageAllocator } from './heap/buddy.js';
import { KfreeRcu, initKfreeRegion } from './kfree/index.js';
import {
  C_FOLD_ALLOCS, C_FOLD_EVENTS, C_FOLD_FREES, C_GEN, C_LOCK, C_STATE, CACHE_BYTES, CPU_REC_BYTES, CS_FREE, H_ARENA_ID, H_DEBUG_LEN, H_DEBUG_MAX,
  H_DEBUG_STR, H_DRAIN_MS, H_FIRST_PAGE, H_MAGIC, H_MAX_CACHES, H_MAX_PAGES, H_MAX_THREADS, H_NR_PAGES,
  H_QUARANTINE_BYTES, H_RCU_FLAVOUR, H_STALL_MS, H_VERSION, H_SLAB_MUTEX, H_BUDDY_LOCK, MAGIC, MAX_ARENA_BYTES, PAGE_SIZE, P_FLAGS, PK_RESERVED,
  R_ALLOC_FAST, R_ALLOC_SLOW, R_FLUSH, R_FREE_FAST, R_FREE_REMOTE, R_FREE_SLOW, REQ_FLUSH, C_BARN_LOCK, OS_ALLOC, OS_CACHED, OS_FREE, OS_QUAR, OS_RCU, REQ_KFREE, REQ_RCU,
  T_REQ, VERSION, computeLayout, headPfnOf, pageMeta, type ArenaLayout,
} from './layout.js';
import { initRcuRegion, Rcu } from './rcu/index.js';
import { G_DRAIN_LOCK as KG_DRAIN_LOCK, G_LOCK as KG_LOCK } from './kfree/layout.js';
import { lock, LOCK_LEASE_MS, LOCK_TOKEN, nodeThreadId, setBrokenLockHandler, takeOverIfOwner, unlock } from './sync/mutex.js';
import { rebuildCacheLists } from './slab/repair.js';
import { bugHeader, fixLine, slabOffset, userFrames } from './report.js';
import { Cache, type CacheGeometry } from './slab/cache.js';
import { SlabCore } from './slab/core.js';
import { Destroyer } from './slab/destroy.js';
import { Kmalloc } from './slab/kmalloc.js';
import { Registry, type CacheOptions, type FindOptions } from './slab/registry.js';
import { cacheStats, slabinfo, type CacheStats } from './slab/stats.js';
import { ThreadTable } from './threads.js';
import type { SlabWarningKind } from './warnings.js';
import { registerArena, trackWorker } from './hotplug/autowatch.js';
import { attachArgError } from './hotplug/attach-arg.js';

/** Options of {@link Arena.create} (fixed for the arena's lifetime; every thread reads them from the buffer). */
export interface ArenaOptions {
  /** Initial size in bytes (default 32 MiB). */
  bytes?: number;
  /** Maximum size; the buffer is growable when larger than bytes (default: bytes). At most 1 GiB. */
  maxBytes?: number;
  /** Thread slots (default 64). */
  maxThreads?: number;
  /** Cache descriptors (default 128, kmalloc caches included). */
  maxCaches?: number;
  /** RCU flavour (default 'memb'). */
  rcu?: 'memb' | 'qsbr';
  /** slab_debug= letters, e.g. 'FZPU', or per cache 'FZ,cache1;P,cache2'. */
  debug?: string;
  /** KASAN-style quarantine budget in bytes (0 = off). */
  quarantineBytes?: number;
  /** RCU CPU stall warning timeout (default 21000 ms, the kernel's). */
  rcuStallTimeoutMs?: number;
  /** kfree_rcu batch drain delay (default 5000 ms, KFREE_DRAIN_JIFFIES). */
  kfreeRcuDrainMs?: number;
}

/** Per-thread options of {@link Arena.create} and {@link Arena.attach}. */
export interface ThreadOptions {
  /** Warning listener for this thread (same as arena.onWarning(fn)). */
  onWarning?: (w: SlabWarning) => void;
  /** How long destroy waits for other threads to flush their sheaves (default 5000 ms). */
  destroyFlushTimeoutMs?: number;
}

/** A WARN()/BUG report as a structured event. */
export interface SlabWarning {
  /** What happened: one of {@link SlabWarningKind} (the README's "Troubleshooting" lists them). */
  readonly kind: SlabWarningKind;
  /** The cache concerned, when there is one. */
  readonly cache?: string;
  /** The kernel's one-line text. */
  readonly message: string;
  /** The full report block. */
  readonly report: string;
  /** Thread slot (the {@link Arena.threadId} of the thread) that raised it. */
  readonly thread: number;
}

/** What {@link Arena.watch} needs of a worker: a Node `Worker` (or anything with its `threadId` and `'exit'` event). */
export interface WorkerLike {
  /** Node's `worker_threads` thread id of the worker (not a slot). */
  readonly threadId: number;
  /** Subscribe once to the worker's exit. */
  once(event: 'exit', listener: (code: number) => void): unknown;
}

/** Page accounting of an arena, as {@link Arena.pageStats} returns it. */
export interface PageStats {
  /** Usable pages (the buffer's committed pages minus the metadata pages). */
  total: number;
  /** Pages free in the page allocator. */
  free: number;
  /** Pages in use (slabs, large kmalloc blocks, kfree_rcu batch pages, debug regions). */
  used: number;
  /** Bytes of the buffer committed now (see {@link Arena.committedBytes}). */
  bytes: number;
  /** Bytes the buffer may grow to (`maxBytes`). */
  maxBytes: number;
}

const DEFAULT_BYTES = 32 << 20;

/**
 * An arena: one SharedArrayBuffer holding pages, caches, RCU state and kfree_rcu batches,
 * and this thread's attachment to it. One Arena object per thread: {@link Arena.create} in
 * one thread, {@link Arena.attach} with `arena.sab` in every other one. Pointers are byte
 * offsets into `sab`; read and write objects through the views (`u8`, `i32`, `u32`, `f64`,
 * `dv`) or with {@link defineStruct} layouts.
 *
 * @example
 * ```ts
 * import { Arena } from 'slabrcu';
 * // (Worker and workerData below come from node:worker_threads)
 *
 * const arena = Arena.create({ bytes: 32 << 20 });
 * const cache = arena.createCache('session', { size: 64 });
 * const worker = new Worker('./worker.js', { workerData: { sab: arena.sab } });
 * arena.watch(worker); // detached for it if it exits without arena.detach()
 *
 * // worker.js
 * const here = Arena.attach(workerData.sab);
 * const sessions = here.findCache('session');
 * if (sessions === undefined) throw new Error('no session cache');
 * const p = sessions.alloc();
 * here.kfreeRcu(p); // freed after a grace period
 * here.detach();
 * ```
 */
export class Arena {
  /** The shared buffer: post it to workers, which call `Arena.attach(sab)`. */
  readonly sab: SharedArrayBuffer;
  /** Byte view of the whole arena. */
  readonly u8: Uint8Array;
  /** Int32 view of the whole arena (word index = pointer >> 2); use Atomics on it for shared words. */
  readonly i32: Int32Array;
  /** Uint32 view of the whole arena. */
  readonly u32: Uint32Array;
  /** Float64 view of the whole arena (index = pointer >> 3). */
  readonly f64: Float64Array;
  /** DataView of the whole arena. */
  readonly dv: DataView;
  /** This thread's slot id (0..maxThreads-1). */
  readonly threadId: number;
  /** This thread's RCU handle: read sections, grace periods, callbacks. */
  readonly rcu: Rcu;
  /** @internal */ readonly layout: ArenaLayout;
  /** @internal */ readonly slot: number;
  /** @internal */ readonly slotGen: number;
  /** @internal */ readonly metaW: number;
  /** @internal */ readonly threads: ThreadTable;
  /** @internal */ readonly pages: PageAllocator;
  /** @internal */ readonly registry: Registry;
  /** @internal */ readonly slab: SlabCore;
  /** @internal */ readonly destroyer: Destroyer;
  /** @internal */ readonly kmallocs: Kmalloc;
  /** @internal */ readonly kfreeRcuImpl: KfreeRcu;
  /** @internal */ readonly debugSpec: SlabDebugSpec;
  /** @internal */ debugHooks: DebugHooks | undefined;
  /** @internal */ readonly options: { destroyFlushTimeoutMs: number; rcuStallTimeoutMs: number; kfreeRcuDrainMs: number; quarantineBytes: number; debug: string };
  private readonly listeners: ((w: SlabWarning) => void)[] = [];
  private readonly internal = new Map<number, Cache>();
  private detached = false;
  private slabErrorCount = 0;
  private readonly reportLog: SlabWarning[] = [];
  /** Reports raised in this thread (most recent last, at most 200 kept). A read-only view: it grows as reports come. */
  get reports(): readonly SlabWarning[] {
    return this.reportLog;
  }

  /** Create an arena and attach the calling thread to it. */
  static create(opts: ArenaOptions & ThreadOptions = {}): Arena {
    const bytes = opts.bytes ?? DEFAULT_BYTES;
    const maxBytes = opts.maxBytes ?? bytes;
    const maxThreads = opts.maxThreads ?? 64;
    const maxCaches = opts.maxCaches ?? 128;
    const int = (v: number, what: string, lo: number, hi: number): void => {
      if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`slabrcu: Arena.create: ${what} must be an integer in ${lo}..${hi}, got ${String(v)}`);
    };
    int(bytes, 'bytes', 64 * PAGE_SIZE, MAX_ARENA_BYTES);
    int(maxBytes, 'maxBytes', bytes, MAX_ARENA_BYTES);
    int(maxThreads, 'maxThreads', 1, 1024);
    int(maxCaches, 'maxCaches', 16, 4096);
    const rcu = opts.rcu ?? 'memb';
    if (rcu !== 'memb' && rcu !== 'qsbr') throw new RangeError(`slabrcu: Arena.create: rcu must be 'memb' or 'qsbr', got ${String(rcu)}`);
    // debug edit: slab_debug= without letters means F,Z,P,U for every cache; store it as
    // 'all' because an empty string in the header reads back as "no debug option".
    const debug = typeof opts.debug === 'string' && opts.debug.trim() === '' ? 'all' : (opts.debug ?? '');
    // Parse now so a bad option throws at create (each thread parses the stored copy).
    if (opts.debug !== undefined) parseSlabDebug(debug);
    if (debug.length > H_DEBUG_MAX) throw new RangeError('slabrcu: Arena.create: debug string too long');
    const quarantineBytes = opts.quarantineBytes ?? 0;
    int(quarantineBytes, 'quarantineBytes', 0, MAX_ARENA_BYTES);
    const stall = opts.rcuStallTimeoutMs ?? 21000;
    int(stall, 'rcuStallTimeoutMs', 1, 3_600_000);
    const drain = opts.kfreeRcuDrainMs ?? 5000;
    int(drain, 'kfreeRcuDrainMs', 0, 3_600_000);
    const maxPages = Math.floor(maxBytes / PAGE_SIZE);
    const layout = computeLayout({ maxThreads, maxCaches, maxPages });
    const nrPages = Math.floor(bytes / PAGE_SIZE);
    if (layout.firstPage + 16 > nrPages) {
      throw new RangeError(
        `slabrcu: Arena.create: ${bytes} bytes leave no room for pages: metadata for maxThreads=${maxThreads}, ` +
          `maxCaches=${maxCaches}, maxBytes=${maxBytes} takes ${layout.firstPage * PAGE_SIZE} bytes`,
      );
    }
    const sab =
      maxBytes > bytes
        ? new SharedArrayBuffer(nrPages * PAGE_SIZE, { maxByteLength: maxPages * PAGE_SIZE })
        : new SharedArrayBuffer(nrPages * PAGE_SIZE);
    const i32 = new Int32Array(sab);
    i32[H_VERSION] = VERSION;
    i32[H_MAX_THREADS] = maxThreads;
    i32[H_MAX_CACHES] = maxCaches;
    i32[H_MAX_PAGES] = maxPages;
    i32[H_FIRST_PAGE] = layout.firstPage;
    i32[H_RCU_FLAVOUR] = rcu === 'qsbr' ? 1 : 0;
    i32[H_QUARANTINE_BYTES] = quarantineBytes;
    i32[H_STALL_MS] = stall;
    i32[H_DRAIN_MS] = drain;
    i32[H_ARENA_ID] = (Math.random() * 0x7fffffff) | 0;
    i32[H_DEBUG_LEN] = debug.length;
    const u16 = new Uint16Array(sab);
    for (let k = 0; k < debug.length; k++) u16[H_DEBUG_STR * 2 + k] = debug.charCodeAt(k);
    const pages = new PageAllocator(i32, sab, layout);
    for (let p = 0; p < layout.firstPage; p++) i32[pages.pm(p) + P_FLAGS] = PK_RESERVED;
    pages.init(nrPages);
    initRcuRegion(i32, layout.rcuBase >> 2, maxThreads, rcu);
    initKfreeRegion(i32, layout.kfreeBase >> 2, maxThreads);
    Atomics.store(i32, H_MAGIC, MAGIC);
    const a = new Arena(sab, opts);
    a.kmallocs.createCaches();
    return a;
  }

  /** Attach the calling thread to an arena created elsewhere (e.g. sent in workerData). */
  static attach(sab: SharedArrayBuffer, opts: ThreadOptions = {}): Arena {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < PAGE_SIZE || new Int32Array(sab, 0, 1)[0] !== MAGIC) {
      throw new TypeError(attachArgError(sab));
    }
    return new Arena(sab, opts);
  }

  private constructor(sab: SharedArrayBuffer, opts: ThreadOptions) {
    this.sab = sab;
    this.u8 = new Uint8Array(sab);
    this.i32 = new Int32Array(sab);
    this.u32 = new Uint32Array(sab);
    this.f64 = new Float64Array(sab);
    this.dv = new DataView(sab);
    const i32 = this.i32;
    if (i32[H_VERSION] !== VERSION) throw new Error(`slabrcu: arena version ${i32[H_VERSION]} is not ${VERSION}`);
    this.layout = computeLayout({ maxThreads: i32[H_MAX_THREADS]!, maxCaches: i32[H_MAX_CACHES]!, maxPages: i32[H_MAX_PAGES]! });
    this.metaW = this.layout.metaBase >> 2;
    this.threads = new ThreadTable(i32, this.layout);
    this.pages = new PageAllocator(i32, sab, this.layout);
    let debug = '';
    for (let k = 0; k < i32[H_DEBUG_LEN]!; k++) debug += String.fromCharCode(new Uint16Array(sab)[H_DEBUG_STR * 2 + k]!);
    this.debugSpec = parseSlabDebug(i32[H_DEBUG_LEN] ? debug : undefined);
    this.options = {
      destroyFlushTimeoutMs: opts.destroyFlushTimeoutMs ?? 5000,
      rcuStallTimeoutMs: i32[H_STALL_MS]!,
      kfreeRcuDrainMs: i32[H_DRAIN_MS]!,
      quarantineBytes: i32[H_QUARANTINE_BYTES]!,
      debug,
    };
    if (opts.onWarning) this.listeners.push(opts.onWarning);
    const [slot, gen] = this.threads.attach(nodeThreadId());
    this.slot = slot;
    this.slotGen = gen;
    this.threadId = slot;
    this.registry = new Registry(this);
    this.slab = new SlabCore(this);
    this.destroyer = new Destroyer(this);
    this.kmallocs = new Kmalloc(this);
    // SLUB debug layer (src/debug): always installed, it costs nothing until a cache has
    // debug flags or the arena a quarantine (per-cache flags need it even when the
    // arena's `debug` option is unset).
    this.debugHooks = new SlubDebug(this);
    const self = this;
    this.rcu = new Rcu({
      i32,
      baseWord: this.layout.rcuBase >> 2,
      maxThreads: this.layout.maxThreads,
      slot,
      slotGen: gen,
      flavour: i32[H_RCU_FLAVOUR] === 1 ? 'qsbr' : 'memb',
      isSlotLive: (s) => self.threads.isLive(s),
      slotGeneration: (s) => self.threads.gen(s),
      postRequest: (s, f) => self.threads.post(s, f),
      warn: (kind, message, report) => self.warn(kind, undefined, message, report),
      rcuStallTimeoutMs: this.options.rcuStallTimeoutMs,
      debug: debug !== '',
    });
    this.kfreeRcuImpl = new KfreeRcu({
      i32,
      u8: this.u8,
      f64: this.f64,
      baseWord: this.layout.kfreeBase >> 2,
      metaW: this.metaW,
      maxPages: this.layout.maxPages,
      maxThreads: this.layout.maxThreads,
      maxCaches: this.layout.maxCaches,
      slot,
      descW: (idx) => self.descW(idx),
      recW: (s, idx) => self.recW(s, idx),
      pm: (pfn) => self.pm(pfn),
      options: this.options,
      rcu: this.rcu,
      threads: this.threads,
      pages: this.pages,
      slab: this.slab,
      classify: (ptr) => self.kmallocs.classify(ptr),
      internalHandle: (idx) => self.internalHandle(idx),
      kfree: (ptr) => self.kfree(ptr),
      checkAttached: () => self.checkAttached(),
      isDetached: () => self.isDetached,
      serviceRequests: () => self.serviceRequests(),
      warn: (kind, cache, message, report) => self.warn(kind, cache, message, report),
      taint: () => self.taint(),
      countSlabError: (n) => self.countSlabError(n),
      reportDoubleFree: (c, ptr) => self.reportDoubleFree(c, ptr),
      reportInvalidFree: (c, ptr, why) => self.reportInvalidFree(c, ptr, why),
      reportStateMisuse: (c, ptr, op, st) => self.reportStateMisuse(c, ptr, op, st),
    });
    setBrokenLockHandler((owner, word) => {
      // We hold the lock now: repair what it protects before anyone else sees it.
      const what = self.repairLocked(word);
      const msg = `slabrcu: lock at word ${word} (${what.name}) held by thread token ${owner} for over ${LOCK_LEASE_MS} ms; taken as dead, ${what.done}`;
      self.warn('dead-lock-holder', undefined, msg, `${msg}\nA thread was probably terminated inside a critical section.`);
    });
    this.armPump();
    // Workers this thread creates from now on are watched by themselves (hotplug/autowatch).
    registerArena(this);
  }

  // ------------------------------------------------------------ addressing

  /** @internal word index of cache descriptor idx */
  descW(idx: number): number {
    return (this.layout.cacheBase >> 2) + idx * (CACHE_BYTES >> 2);
  }

  /** @internal word index of thread slot's cpu record for cache idx */
  recW(slot: number, idx: number): number {
    return (this.layout.cpuBase >> 2) + (slot * this.layout.maxCaches + idx) * (CPU_REC_BYTES >> 2);
  }

  /** @internal word index of page pfn's metadata */
  pm(pfn: number): number {
    return pageMeta(this.metaW, pfn);
  }

  /** Bytes of the arena currently usable (grows with a growable buffer). */
  committedBytes(): number {
    return Atomics.load(this.i32, H_NR_PAGES) * PAGE_SIZE;
  }

  // --------------------------------------------------------------- caches

  /** kmem_cache_create. Throws on bad input or when a live cache already has this name. */
  createCache(name: string, opts: CacheOptions): Cache {
    this.checkAttached();
    return this.registry.create(name, opts);
  }

  /** A handle to a live cache (or alias) by name, from any thread; undefined if none. */
  findCache(name: string, opts?: FindOptions): Cache | undefined {
    this.checkAttached();
    return this.registry.find(name, opts);
  }

  /** @internal geometry of cache idx (current generation) */
  cacheGeometry(idx: number): CacheGeometry {
    return this.registry.readGeometry(idx);
  }

  /** @internal a handle without a name, for frees and flushes by cache index */
  internalHandle(idx: number): Cache {
    const gen = this.i32[this.descW(idx) + C_GEN]!;
    let h = this.internal.get(idx);
    if (!h || h.gen !== gen) {
      const g = this.registry.readGeometry(idx);
      h = new Cache(this, g, g.name, undefined);
      this.internal.set(idx, h);
    }
    return h;
  }

  /** @internal */
  forgetInternalHandle(idx: number): void {
    this.internal.delete(idx);
  }

  /** /proc/slabinfo (version 2.1). active_objs is exact here. */
  slabinfo(): string {
    return slabinfo(this);
  }

  /** @internal */
  cacheStats(idx: number): CacheStats {
    return cacheStats(this, idx);
  }

  /** @internal */
  validateCache(c: Cache): ValidateResult {
    if (this.debugHooks) return this.debugHooks.validate(c);
    // Without the debug layer: flush, then check list counts only.
    this.slab.flushCpu(c);
    const s = c.stats();
    return { errors: 0, objects: s.total_objects, slabs: s.slabs, reports: [] };
  }

  // -------------------------------------------------------------- kmalloc

  /** kmalloc: an object of at least `size` bytes, 0 when the arena is exhausted (or size is 0). */
  kmalloc(size: number): number {
    this.checkAttached();
    return this.kmallocs.kmalloc(size);
  }

  /** kfree: any slab object or kmalloc'd block; 0 is a no-op; anything else is reported. */
  kfree(ptr: number): void {
    this.checkAttached();
    this.kmallocs.kfree(ptr);
  }

  /** ksize: usable bytes of an allocated object. */
  ksize(ptr: number): number {
    const n = this.kmallocs.ksize(ptr);
    // debug edit: the caller may now use all n bytes, so the kmalloc red zone beyond the
    // requested size no longer applies (kernel: __ksize -> skip_orig_size_check).
    this.debugHooks?.skipOrigSizeCheck?.(ptr);
    return n;
  }

  // ------------------------------------------------------------- kfree_rcu

  /**
   * kfree_rcu / kvfree_rcu: free ptr (any slab or kmalloc object) after a grace period.
   * Costs a few stores into this thread's batch page. `rcuHeadOffset` (optional, the
   * kernel's 2-argument form) names a 4-byte word of the object that readers do not
   * need; it is written only if no batch page can be had (arena exhausted), in which
   * case the object is chained through that word (default: the cache's free-pointer word).
   * It must be an integer multiple of 4 in 0..objectSize-4; any other offset is refused
   * with a `kfree-rcu-bad-head` report and nothing is queued.
   */
  kfreeRcu(ptr: number, rcuHeadOffset?: number): void {
    if (rcuHeadOffset === undefined) this.kfreeRcuImpl.kfreeRcu(ptr);
    else this.kfreeRcuImpl.kfreeRcuWithHead(ptr, rcuHeadOffset);
  }

  /** Objects passed to kfreeRcu and not yet freed, over all threads. */
  kfreeRcuPending(): number {
    return this.kfreeRcuImpl.pending();
  }

  /**
   * kvfree_rcu_barrier: every object passed to kfreeRcu before the call is freed on return.
   * Bounded: it returns within destroyFlushTimeoutMs + rcuStallTimeoutMs + 250 ms even if a
   * thread never yields or stalls the grace period; that thread is named in a
   * `kvfree_rcu_barrier` warning and the objects it holds back stay allocated.
   */
  kvfreeRcuBarrier(): void {
    this.kfreeRcuImpl.barrier();
  }

  /** kvfree_rcu_barrier without blocking the event loop (bounded as kvfreeRcuBarrier). */
  kvfreeRcuBarrierAsync(): Promise<void> {
    return this.kfreeRcuImpl.barrierAsync();
  }

  /** @internal kvfree_rcu_barrier_on_cache, bounded (see KfreeRcu.barrierBounded) */
  kfreeBarrierOnCacheSync(idx: number, flushDeadline: number, gpWaitMs: number): { unresponsive: number[]; stalled: number[] } {
    return this.kfreeRcuImpl.barrierOnCacheSync(idx, flushDeadline, gpWaitMs);
  }

  /** @internal */
  kfreeBarrierOnCacheAsync(idx: number, flushDeadline: number, gpWaitMs: number): Promise<{ unresponsive: number[]; stalled: number[] }> {
    return this.kfreeRcuImpl.barrierOnCacheAsync(idx, flushDeadline, gpWaitMs);
  }

  /**
   * @internal Memory pressure (kernel: the kfree_rcu shrinker, then an expedited GP):
   * free what can be freed. True if anything was.
   */
  reclaim(): boolean {
    let any = this.kfreeRcuImpl.reclaim();
    for (const idx of this.registry.listedCaches()) {
      const h = this.internalHandle(idx);
      if (h.typesafeByRcu && this.slab.reapRcuSlabs(h, this.rcu.mayWaitImplicitly) > 0) any = true;
    }
    // debug edit: memory held by the quarantine goes back too (kernel: the KASAN
    // quarantine shrinks under memory pressure, quarantine_reduce).
    if ((this.debugHooks?.quarantineFlushAll?.() ?? 0) > 0) any = true;
    return any;
  }

  // ------------------------------------------------------------- warnings

  /** Subscribe to WARN()/BUG reports raised in this thread. Returns an unsubscribe function. */
  onWarning(fn: (w: SlabWarning) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** @internal */
  warn(kind: SlabWarningKind, cache: string | undefined, message: string, report: string): void {
    const w: { -readonly [K in keyof SlabWarning]: SlabWarning[K] } = { kind, message, report, thread: this.slot };
    if (cache !== undefined) w.cache = cache;
    this.reportLog.push(w);
    if (this.reportLog.length > 200) this.reportLog.shift();
    if (this.listeners.length) {
      for (const fn of [...this.listeners]) fn(w);
    } else {
      const proc = (globalThis as { process?: { emitWarning?: (m: string, o: object) => void } }).process;
      proc?.emitWarning?.(message, { type: 'SlabrcuWarning', detail: report });
    }
  }

  /** Kernel taint string for BUG headers: "Not tainted" until the first BUG, then "Tainted: B". */
  taint(): string {
    return this.slabErrorCount === 0 ? 'Not tainted' : 'Tainted: B';
  }

  /** @internal count one report line the way kunit's slab_errors does */
  countSlabError(n = 1): void {
    this.slabErrorCount += n;
  }

  /** Reports counted like the kernel's kunit `slab_errors` (BUG headers, listed objects, FIX lines) in this thread. */
  get slabErrors(): number {
    return this.slabErrorCount;
  }

  /** @internal */
  reportDoubleFree(c: Cache, ptr: number): void {
    const hdr = bugHeader(this, c.cacheName, 'Object already free');
    this.countSlabError(2);
    this.warn('double-free', c.cacheName, `${c.cacheName}: double free of object 0x${ptr.toString(16)}`,
      `${hdr}Object 0x${ptr.toString(16)} @offset=${slabOffset(this, ptr)}\n${userFrames(new Error().stack).slice(0, 8).join('\n')}\n` +
        fixLine(c.cacheName, `Object at 0x${ptr.toString(16)} not freed`));
  }

  /**
   * @internal A free or kfreeRcu of an object whose state byte (OS_*, slab/objstate.ts)
   * says it is not the caller's to give: refused, nothing changed, one report.
   */
  reportStateMisuse(c: Cache, ptr: number, op: 'free' | 'kfreeRcu', state: number): void {
    if (op === 'free' && (state === OS_FREE || state === OS_CACHED)) {
      this.reportDoubleFree(c, ptr);
      return;
    }
    const name = c.cacheName;
    const what =
      state === OS_RCU
        ? op === 'free' ? 'free of an object pending in kfree_rcu' : 'double kfree_rcu'
        : state === OS_QUAR ? `${op === 'free' ? 'free' : 'kfree_rcu'} of an object in the quarantine (already freed)`
          : state === OS_ALLOC ? 'object state corrupt' : 'kfree_rcu of a free object';
    const hdr = bugHeader(this, name, 'Object already free');
    this.countSlabError(2);
    this.warn('double-free', name, `${name}: double free of object 0x${ptr.toString(16)} (${what})`,
      `${hdr}Object 0x${ptr.toString(16)} @offset=${this.slabOffset(ptr)}: ${what}\n${userFrames(new Error().stack).slice(0, 8).join('\n')}\n` +
        fixLine(name, `Object at 0x${ptr.toString(16)} not ${op === 'free' ? 'freed' : 'queued'}`));
  }

  /** @internal Offset of `ptr` within its slab (the kernel's `@offset=`: p - slab_address). */
  slabOffset(ptr: number): number {
    return ptr - headPfnOf(this.i32, this.metaW, ptr) * PAGE_SIZE;
  }

  /** @internal */
  reportInvalidFree(c: Cache | undefined, ptr: number, why: string): void {
    const name = c?.cacheName ?? '<unknown>';
    const hdr = bugHeader(this, name, `Invalid object pointer 0x${Number(ptr).toString(16)}`);
    this.countSlabError(2);
    this.warn('invalid-free', c?.cacheName, `${c ? 'kmem_cache_free' : 'kfree'}: invalid pointer 0x${Number(ptr).toString(16)} (${why})`,
      `${hdr}Pointer 0x${Number(ptr).toString(16)}: ${why}\n${userFrames(new Error().stack).slice(0, 8).join('\n')}\n` +
        fixLine(name, `Object at 0x${Number(ptr).toString(16)} not freed`));
  }

  /** @internal cache_from_obj's "Wrong slab cache" WARN */
  reportWrongCache(c: Cache, ownerIdx: number, ptr: number): void {
    const other = this.registry.readGeometry(ownerIdx).name;
    const msg = `${c.cacheName}: Wrong slab cache. ${c.cacheName} but object is from ${other}`;
    this.countSlabError(1);
    this.warn('wrong-cache', c.cacheName, msg, `${msg}\nObject 0x${ptr.toString(16)}\n${userFrames(new Error().stack).slice(0, 8).join('\n')}\n`);
  }

  // ------------------------------------------------------------- threads

  /**
   * @internal Serve requests posted to this thread (flush cpu slabs, RCU, kfree_rcu);
   * called on allocator slow paths and from the event-loop pump.
   */
  serviceRequests(): void {
    if (this.detached) return;
    const f = this.threads.takeRequests(this.slot);
    if (f === 0) return;
    // Each request is served even if another one throws (the flags are gone once taken).
    try {
      if (f & REQ_FLUSH) this.serveFlush();
    } finally {
      try {
        if (f & REQ_RCU) this.rcu.serviceRequests();
      } finally {
        if (f & REQ_KFREE) this.kfreeRcuImpl.serviceRequests();
      }
    }
  }

  private serveFlush(): void {
    const i32 = this.i32;
    for (let idx = 0; idx < this.layout.maxCaches; idx++) {
      const r = this.recW(this.slot, idx);
      if (Atomics.load(i32, r + R_FLUSH) === 0) continue;
      if (this.slab.recordHolds(r) && i32[this.descW(idx) + C_STATE] !== CS_FREE) this.slab.flushRecord(this.internalHandle(idx), r);
      Atomics.store(i32, r + R_FLUSH, 0);
    }
  }

  /**
   * The event-loop pump: an Atomics.waitAsync on this slot's request word. A pending
   * waitAsync does not keep a Node thread alive, so an idle thread exits normally.
   */
  private armPump(): void {
    if (this.detached) return;
    const w = this.threads.w(this.slot, T_REQ);
    const v = Atomics.load(this.i32, w);
    const r = Atomics.waitAsync(this.i32, w, v);
    const next = (): void => {
      if (this.detached) return;
      try {
        this.serviceRequests();
      } catch (e) {
        // Never an unhandled rejection from the library's own pump: report it.
        const msg = `slabrcu: serving a request on thread ${this.slot} failed: ${(e as Error)?.message ?? String(e)}`;
        this.warn('service-error', undefined, msg, String((e as Error)?.stack ?? e));
      } finally {
        this.armPump();
      }
    };
    if (r.async) void r.value.then(next);
    else queueMicrotask(next);
  }

  /** @internal throw if this thread already detached */
  checkAttached(): void {
    if (this.detached) throw new Error('slabrcu: this thread has detached from the arena');
  }

  /** Leave the arena: flush cached slabs, go offline for RCU, hand over kfree_rcu batches. */
  detach(): void {
    if (this.detached) return;
    // Both refusals of rcu.detach() are checked here, before anything is handed over.
    if (this.rcu.inReadSection) throw new Error('slabrcu: detach() inside an RCU read-side critical section');
    if (this.rcu.inCallback) throw new Error('slabrcu: detach() inside an RCU callback');
    if (!this.threads.beginDetach(this.slot, this.slotGen)) {
      // Someone detached this slot for us (it was taken for dead): nothing is ours any more.
      this.detached = true;
      return;
    }
    try {
      this.kfreeRcuImpl.detach();
      this.flushAndFold(this.slot);
      this.rcu.detach();
    } finally {
      this.detached = true;
      this.threads.endDetach(this.slot);
    }
  }

  /** True once detach() ran. */
  get isDetached(): boolean {
    return this.detached;
  }

  /**
   * Flush every cpu slab held in `slot`'s records and fold its counters into the caches
   * (kernel: slub_cpu_dead). For our own slot, or a dead thread's (nobody else writes it).
   */
  private flushAndFold(slot: number): void {
    const i32 = this.i32;
    for (let idx = 0; idx < this.layout.maxCaches; idx++) {
      const d = this.descW(idx);
      if (i32[d + C_STATE] === CS_FREE) continue;
      const r = this.recW(slot, idx);
      // Sheaves first (kernel: __pcs_flush_all_cpu in slub_cpu_dead); a sheaf's storage
      // is a kmalloc object, given back through the kmalloc cache's locked path.
      if (this.slab.recordHolds(r)) this.slab.flushRecord(this.internalHandle(idx), r);
      // Under the cache lock, which stats() also holds while it adds the records and the
      // folded totals: otherwise a reader between the Atomics.add below and the zeroing
      // counts these events twice, or the allocs once and the frees twice (a negative
      // objects count was seen under load).
      lock(i32, d + C_LOCK);
      const allocs = (i32[r + R_ALLOC_FAST]! + i32[r + R_ALLOC_SLOW]!) | 0;
      const frees = (i32[r + R_FREE_FAST]! + i32[r + R_FREE_REMOTE]! + i32[r + R_FREE_SLOW]!) | 0;
      if (allocs !== 0) Atomics.add(i32, d + C_FOLD_ALLOCS, allocs);
      if (frees !== 0) Atomics.add(i32, d + C_FOLD_FREES, frees);
      for (let k = R_ALLOC_FAST; k <= R_FREE_SLOW; k++) {
        if (i32[r + k] !== 0) Atomics.add(i32, d + C_FOLD_EVENTS + (k - R_ALLOC_FAST), i32[r + k]!);
        i32[r + k] = 0;
      }
      i32[r + R_FLUSH] = 0;
      KfreeRcu.foldInto(i32, d, r);
      unlock(i32, d + C_LOCK);
    }
  }

  /**
   * Detach a thread that died (kernel: CPU hotplug, slub_cpu_dead + rcutree_dead_cpu):
   * its cpu slabs are flushed, its kfree_rcu batches adopted, its read section stops
   * blocking grace periods. Safe to call more than once; only the first call acts.
   */
  detachDead(slot: number, gen: number): boolean {
    if (slot === this.slot) return false;
    if (!this.threads.beginDetach(slot, gen)) return false;
    // Every thread known to be dead (several may die at once, each maybe holding a lock
    // the other's cleanup needs) loses its locks before we take any.
    this.releaseLocksOf(slot, false);
    for (let s = 0; s < this.layout.maxThreads; s++) if (s !== slot && this.threads.isMarkedDead(s)) this.releaseLocksOf(s, false);
    // Then their kfree_rcu drain locks, each repaired (its drain in hand finished, which
    // takes cache and zone locks: hence after the others) before it is released.
    this.releaseLocksOf(slot, true);
    for (let s = 0; s < this.layout.maxThreads; s++) if (s !== slot && this.threads.isMarkedDead(s)) this.releaseLocksOf(s, true);
    try {
      this.kfreeRcuImpl.adoptDead(slot, gen);
      this.flushAndFold(slot);
      const lost = this.rcu.detachDeadSlot(slot, gen);
      if (lost > 0) {
        const msg = `rcu: thread slot ${slot} (gen ${gen}) died with ${lost} callbacks queued; they are lost (closures cannot cross threads)`;
        this.warn('rcu-callbacks-lost', undefined, msg, `${msg}\nCall arena.rcu.barrier() in a worker before it exits to run its callbacks.`);
      }
    } finally {
      this.threads.endDetach(slot);
    }
    return true;
  }

  /**
   * A thread can die inside a critical section (terminate() interrupts JS anywhere):
   * release every allocator lock it held, and say so (the protected list may be
   * half-updated, as after a kernel oops inside a spinlock).
   */
  private releaseLocksOf(slot: number, drainLock: boolean): void {
    const token = this.threads.token(slot);
    if (token === 0 || token === LOCK_TOKEN) return;
    const kg = this.layout.kfreeBase >> 2;
    const words = drainLock ? [kg + KG_DRAIN_LOCK] : [H_SLAB_MUTEX, H_BUDDY_LOCK];
    if (!drainLock) {
      for (let idx = 0; idx < this.layout.maxCaches; idx++) words.push(this.descW(idx) + C_LOCK, this.descW(idx) + C_BARN_LOCK);
      words.push(kg + KG_LOCK);
    }
    for (const w of words) {
      if (!takeOverIfOwner(this.i32, w, token)) continue;
      let what: { name: string; done: string };
      try {
        what = this.repairLocked(w, slot);
      } finally {
        unlock(this.i32, w);
      }
      const msg = `slabrcu: thread ${slot} died holding ${what.name}; ${what.done}`;
      this.warn('dead-lock-holder', undefined, msg, `${msg}\nA thread was terminated inside a critical section.`);
    }
  }

  /**
   * @internal Repair what lock word `w` protects, for a lock this thread took over from a
   * dead holder (it holds it now): the zone lock's free lists and a cache's slab lists are
   * rebuilt from the page kinds and object states (heap/buddy.ts rebuildFreeLists,
   * slab/repair.ts); the barn commits every change with one store and needs nothing; the
   * kfree_rcu drain lock of a dead `slot` (detachDead): its drain in hand is finished
   * (KfreeRcu.finishDrainOf). Without `slot` (a lock broken by its lease: the holder may
   * be alive) the drain is left to it (or to adoptSlot when it is detached).
   */
  repairLocked(w: number, slot?: number): { name: string; done: string } {
    if (w === H_BUDDY_LOCK) {
      const free = this.pages.rebuildFreeLists();
      return { name: 'zone lock', done: `free lists rebuilt from the page kinds (${free} pages free)` };
    }
    if (w === H_SLAB_MUTEX) return { name: 'slab_mutex', done: 'lock released' };
    const d0 = this.layout.cacheBase >> 2;
    const words = CACHE_BYTES >> 2;
    if (w >= d0 && w < d0 + this.layout.maxCaches * words) {
      const idx = Math.floor((w - d0) / words);
      const off = w - d0 - idx * words;
      if (off === C_BARN_LOCK) return { name: `barn lock of cache ${idx}`, done: 'lock released (the barn commits with one store)' };
      if (off === C_LOCK && this.i32[this.descW(idx) + C_STATE] !== CS_FREE) {
        const h = this.internalHandle(idx);
        const r = rebuildCacheLists({ i32: this.i32, u8: this.u8, metaW: this.metaW, firstPage: this.layout.firstPage, nrPages: this.pages.nrPages }, h);
        return { name: `list_lock of cache ${h.cacheName}`, done: `slab lists rebuilt from the object states (${r.slabs} slabs, ${r.partial} partial, ${r.free} free objects)` };
      }
      return { name: `lock of cache ${idx}`, done: 'lock released' };
    }
    if (slot !== undefined && w === (this.layout.kfreeBase >> 2) + KG_DRAIN_LOCK) {
      const n = this.kfreeRcuImpl.finishDrainOf(slot);
      return { name: 'kfree_rcu drain lock', done: `its drain finished (${n} objects freed), then the lock released` };
    }
    if (w === (this.layout.kfreeBase >> 2) + KG_LOCK) return { name: 'kfree_rcu lock', done: this.kfreeRcuImpl.repairLists(slot) };
    return { name: 'kfree_rcu lock', done: 'lock released' };
  }

  /**
   * Node: when `worker` exits for any reason (return, throw, terminate(), process.exit()),
   * detach its slot for it. Workers this thread creates after it attached an arena
   * (worker pools included) are watched by themselves (src/hotplug/autowatch.ts); call
   * this for workers created before that, or by another thread.
   */
  watch(worker: WorkerLike): void {
    // One exit listener per worker, shared with the automatic watch of workers created
    // by this thread (hotplug/autowatch): every arena attached here gets workerExited.
    trackWorker(worker);
  }

  /** @internal The Node thread `tid` exited: detach its slot if it still holds one. */
  workerExited(tid: number): void {
    const s = this.threads.findByTid(tid);
    if (s < 0) return;
    // Mark first: if other workers died with it, holding a lock this cleanup needs,
    // the cleanup releases every marked thread's locks before taking any.
    this.threads.markDead(s);
    if (!this.detached) this.detachDead(s, this.threads.gen(s));
  }

  /** Page accounting: total usable pages, free pages, used pages. */
  pageStats(): PageStats {
    const total = this.pages.nrUsable;
    const free = this.pages.nrFree;
    return { total, free, used: total - free, bytes: this.committedBytes(), maxBytes: this.layout.maxPages * PAGE_SIZE };
  }
}
