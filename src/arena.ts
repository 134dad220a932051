/**
 * The public `Arena`, a thin facade: one SharedArrayBuffer holding pages, caches, RCU state
 * and kfree_rcu batches, and this thread's attachment to it. One Arena object per thread:
 * the thread that calls Arena.create() is attached as slot 0's owner; every other thread
 * calls Arena.attach(sab) and gets its own slot (kernel: a CPU coming online).
 *
 * The Arena holds no logic of its own beyond wiring; each concern lives in its room
 * (ARCHITECTURE.md lists them):
 * - src/arena/header.ts: create's options, the header words, the magic check, reading the
 *   header back at attach;
 * - src/arena/hotplug.ts: detach, detachDead, watch's workerExited, taking over a dead
 *   holder's locks and repairLocked;
 * - src/arena/pump.ts: serving requests posted to this slot, the event-loop pump;
 * - src/report.ts ThreadReports (`reporter`): warnings, reports, taint, slab_errors;
 * - src/slab/, src/debug/, src/rcu/ (and src/kfree/) get this object through their narrow
 *   host interfaces (slab/host.ts SlabHost, debug/host.ts DebugHost, hotplug's and the
 *   pump's HotplugHost/PumpHost; rcu gets an RcuHost literal).
 * The Arena satisfies every host structurally and passes itself, so the subsystems read the
 * same fields of the same object as before (no extra indirection on the fast paths).
 *
 * Concurrency: the Arena object is this thread's only; everything shared is in the buffer
 * (src/layout.ts names each word, its writers and the global lock order). The facade takes
 * no lock itself. What happens when a thread dies is in each room's header.
 */
import type { SlabDebugSpec } from './debug/options.js';
import type { DebugHooks, ValidateResult } from './debug/hooks.js';
import { SlubDebug } from './debug/index.js';
import { PageAllocator } from './heap/buddy.js';
import { KfreeRcu } from './kfree/index.js';
import { CPU_REC_BYTES, H_NR_PAGES, Hot, PAGE_SIZE, pageMeta, type ArenaLayout } from './layout.js';
import { Rcu } from './rcu/index.js';
import { LOCK_LEASE_MS, nodeThreadId, setBrokenLockHandler } from './sync/mutex.js';
import { G_LOCK as KG_LOCK } from './kfree/layout.js';
import { ThreadReports, type SlabWarning } from './report.js';
import { Cache, type CacheGeometry } from './slab/cache.js';
import { SlabCore } from './slab/core.js';
import { Destroyer } from './slab/destroy.js';
import { Kmalloc } from './slab/kmalloc.js';
import { Registry, type SlabCacheOptions, type SlabFindOptions } from './slab/registry.js';
import { cacheStats, slabinfo, validateWithoutDebug, type CacheStats } from './slab/stats.js';
import { ThreadTable } from './threads.js';
import type { SlabWarningKind } from './warnings.js';
import { registerArena, trackWorker } from './hotplug/autowatch.js';
import { checkArenaBuffer, createArenaBuffer, readHeader, type ArenaOptions } from './arena/header.js';
import { detachDead, detachSelf, repairLocked, workerExited, type Repair } from './arena/hotplug.js';
import { armPump, serviceRequests } from './arena/pump.js';

export type { ArenaOptions } from './arena/header.js';
export type { SlabWarning } from './report.js';

/** A cache constructor: run once per object when a new slab is set up, with the object's pointer and the arena of the thread that sets it up. */
export type Ctor = (ptr: number, arena: Arena) => void;

/** Options of {@link Arena.createCache}. */
export interface CacheOptions extends SlabCacheOptions {
  /** Constructor run once per object when a slab is created (in the thread that creates the slab). */
  ctor?: Ctor;
}

/** Options of {@link Arena.findCache}. */
export interface FindOptions extends SlabFindOptions {
  /** The constructor of a ctor cache, for threads that will create its slabs. */
  ctor?: Ctor;
}

/** Per-thread options of {@link Arena.create} and {@link Arena.attach}. */
export interface ThreadOptions {
  /** Warning listener for this thread (same as arena.onWarning(fn)). */
  onWarning?: (w: SlabWarning) => void;
  /** How long destroy waits for other threads to flush their sheaves (default 5000 ms). */
  destroyFlushTimeoutMs?: number;
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

const DEFAULT_DESTROY_FLUSH_MS = 5000;

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
  /** Word index of cache descriptor 0 (descW(0)). */
  private readonly descW0: number;
  /** @internal */ readonly threads: ThreadTable;
  /** @internal */ readonly pages: PageAllocator;
  /** @internal */ readonly registry: Registry;
  /** @internal */ readonly slab: SlabCore;
  /** @internal */ readonly destroyer: Destroyer;
  /** @internal */ readonly kmallocs: Kmalloc;
  /** @internal */ readonly kfreeRcuImpl: KfreeRcu;
  /** @internal */ readonly debugSpec: SlabDebugSpec;
  /** @internal */ debugHooks: DebugHooks | undefined;
  /** @internal this thread's reports, warnings, taint and slab_errors (src/report.ts) */
  readonly reporter: ThreadReports;
  /** @internal */ readonly options: { destroyFlushTimeoutMs: number; rcuStallTimeoutMs: number; kfreeRcuDrainMs: number; quarantineBytes: number; debug: string };
  /** Internal handles by cache index (an array: kfree looks one up per call). */
  private readonly internal: (Cache | undefined)[] = [];
  private detached = false;
  /** Reports raised in this thread (most recent last, at most 200 kept). A read-only view: it grows as reports come. */
  get reports(): readonly SlabWarning[] {
    return this.reporter.log;
  }

  /** Create an arena and attach the calling thread to it. */
  static create(opts: ArenaOptions & ThreadOptions = {}): Arena {
    const a = new Arena(createArenaBuffer(opts), opts);
    a.kmallocs.createCaches();
    return a;
  }

  /** Attach the calling thread to an arena created elsewhere (e.g. sent in workerData). */
  static attach(sab: SharedArrayBuffer, opts: ThreadOptions = {}): Arena {
    checkArenaBuffer(sab);
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
    const hdr = readHeader(i32, sab);
    this.layout = hdr.layout;
    this.metaW = this.layout.metaBase >> 2;
    this.descW0 = this.layout.cacheBase >> 2;
    this.threads = new ThreadTable(i32, this.layout);
    this.pages = new PageAllocator(i32, sab, this.layout);
    this.debugSpec = hdr.debugSpec;
    this.options = {
      destroyFlushTimeoutMs: opts.destroyFlushTimeoutMs ?? DEFAULT_DESTROY_FLUSH_MS,
      rcuStallTimeoutMs: hdr.rcuStallTimeoutMs,
      kfreeRcuDrainMs: hdr.kfreeRcuDrainMs,
      quarantineBytes: hdr.quarantineBytes,
      debug: hdr.debug,
    };
    const [slot, gen] = this.threads.attach(nodeThreadId());
    this.slot = slot;
    this.slotGen = gen;
    this.threadId = slot;
    const self = this;
    this.reporter = new ThreadReports(slot, this, (idx) => self.registry.readGeometry(idx).name, opts.onWarning);
    this.registry = new Registry(this);
    this.slab = new SlabCore(this);
    this.destroyer = new Destroyer(this);
    this.kmallocs = new Kmalloc(this);
    // SLUB debug layer (src/debug): always installed, it costs nothing until a cache has
    // debug flags or the arena a quarantine (per-cache flags need it even when the
    // arena's `debug` option is unset).
    this.debugHooks = new SlubDebug(this);
    this.rcu = new Rcu({
      i32,
      baseWord: this.layout.rcuBase >> 2,
      maxThreads: this.layout.maxThreads,
      slot,
      slotGen: gen,
      flavour: hdr.flavour,
      isSlotLive: (s) => self.threads.isLive(s),
      slotGeneration: (s) => self.threads.gen(s),
      postRequest: (s, f) => self.threads.post(s, f),
      warn: (kind, message, report) => self.reporter.warn(kind, undefined, message, report),
      rcuStallTimeoutMs: this.options.rcuStallTimeoutMs,
      debug: hdr.debug !== '',
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
      warn: (kind, cache, message, report) => self.reporter.warn(kind, cache, message, report),
      taint: () => self.reporter.taint(),
      countSlabError: (n) => self.reporter.countSlabError(n),
      reportDoubleFree: (c, ptr) => self.reporter.reportDoubleFree(c, ptr),
      reportInvalidFree: (c, ptr, why) => self.reporter.reportInvalidFree(c, ptr, why),
      reportStateMisuse: (c, ptr, op, st) => self.reporter.reportStateMisuse(c, ptr, op, st),
    });
    setBrokenLockHandler((owner, word) => {
      // We hold the lock now: repair what it protects before anyone else sees it. The
      // kfree_rcu list lock's repair also needs the holder's slot (its S_DRAINING: see
      // kfree/blocks.ts repairLists), found from the owner token; the drain lock's
      // finishing is left to the holder or its adopter (hotplug.ts repairLocked).
      const kgLock = (self.layout.kfreeBase >> 2) + KG_LOCK;
      let holder: number | undefined;
      if (word === kgLock) for (let s = 0; s < self.layout.maxThreads && holder === undefined; s++) if (self.threads.token(s) === owner) holder = s;
      const what = self.repairLocked(word, holder);
      const msg = `slabrcu: lock at word ${word} (${what.name}) held by thread token ${owner} for over ${LOCK_LEASE_MS} ms; taken as dead, ${what.done}`;
      self.reporter.warn('dead-lock-holder', undefined, msg, `${msg}\nA thread was probably terminated inside a critical section.`);
    });
    armPump(this, () => self.serviceRequests());
    // Workers this thread creates from now on are watched by themselves (hotplug/autowatch).
    registerArena(this);
  }

  // ------------------------------------------------------------ addressing

  /** @internal word index of cache descriptor idx */
  descW(idx: number): number {
    return this.descW0 + idx * (Hot.CACHE_BYTES >> 2);
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
    const gen = this.i32[this.descW(idx) + Hot.C_GEN]!; // kfree looks a handle up per object: constants, not imported bindings
    const h = this.internal[idx];
    if (h !== undefined && h.gen === gen) return h;
    return this.newInternalHandle(idx);
  }

  private newInternalHandle(idx: number): Cache {
    const g = this.registry.readGeometry(idx);
    const h = new Cache(this, g, g.name, undefined);
    while (this.internal.length < idx) this.internal.push(undefined); // dense: no holey elements kind
    this.internal[idx] = h;
    return h;
  }

  /** @internal */
  forgetInternalHandle(idx: number): void {
    if (idx < this.internal.length) this.internal[idx] = undefined;
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
    return validateWithoutDebug(this, c);
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

  // ------------------------------------------------------------- warnings (src/report.ts)

  /** Subscribe to WARN()/BUG reports raised in this thread. Returns an unsubscribe function. */
  onWarning(fn: (w: SlabWarning) => void): () => void {
    return this.reporter.onWarning(fn);
  }

  /** Kernel taint string for BUG headers: "Not tainted" until the first BUG, then "Tainted: B". */
  taint(): string {
    return this.reporter.taint();
  }

  /** Reports counted like the kernel's kunit `slab_errors` (BUG headers, listed objects, FIX lines) in this thread. */
  get slabErrors(): number {
    return this.reporter.slabErrors;
  }

  /** @internal Offset of `ptr` within its slab (the kernel's `@offset=`: p - slab_address). */
  slabOffset(ptr: number): number {
    return this.reporter.slabOffset(ptr);
  }

  /** @internal cache_from_obj's "Wrong slab cache" WARN */
  reportWrongCache(c: Cache, ownerIdx: number, ptr: number): void {
    this.reporter.reportWrongCache(c, ownerIdx, ptr);
  }

  // ------------------------------------------------------------- threads (src/arena/pump.ts, hotplug.ts)

  /**
   * @internal Serve requests posted to this thread (flush cpu slabs, RCU, kfree_rcu);
   * called on allocator slow paths and from the event-loop pump.
   */
  serviceRequests(): void {
    serviceRequests(this);
  }

  /** @internal throw if this thread already detached */
  checkAttached(): void {
    if (this.detached) throw new Error('slabrcu: this thread has detached from the arena');
  }

  /** Leave the arena: flush cached slabs, go offline for RCU, hand over kfree_rcu batches. */
  detach(): void {
    detachSelf(this);
  }

  /** True once detach() ran. */
  get isDetached(): boolean {
    return this.detached;
  }

  /** @internal hotplug.ts: this thread has left the arena */
  markDetached(): void {
    this.detached = true;
  }

  /**
   * Detach a thread that died (kernel: CPU hotplug, slub_cpu_dead + rcutree_dead_cpu):
   * its cpu slabs are flushed, its kfree_rcu batches adopted, its read section stops
   * blocking grace periods. Safe to call more than once; only the first call acts.
   */
  detachDead(slot: number, gen: number): boolean {
    return detachDead(this, slot, gen);
  }

  /**
   * @internal Repair what lock word `w` protects, for a lock this thread took over from a
   * dead holder (src/arena/hotplug.ts repairLocked).
   */
  repairLocked(w: number, slot?: number): Repair {
    return repairLocked(this, w, slot);
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
    workerExited(this, tid);
  }

  /** Page accounting: total usable pages, free pages, used pages. */
  pageStats(): PageStats {
    const total = this.pages.nrUsable;
    const free = this.pages.nrFree;
    return { total, free, used: total - free, bytes: this.committedBytes(), maxBytes: this.layout.maxPages * PAGE_SIZE };
  }
}
