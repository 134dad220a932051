/**
 * kmem_cache_destroy, both ways:
 *
 * - destroy(): the seed (Babka's RFC "mm, slab: asynchronously destroy caches with
 *   outstanding objects"). Drop a reference; free the name at once; try a *silent*
 *   shutdown; if objects remain, assume they are in flight through kfreeRcu (or the
 *   quarantine) and finish asynchronously: wait for the kfree_rcu barrier of this cache,
 *   flush the quarantine, then shut down *with* warning. Never blocks the caller, never
 *   rejects on a leak.
 * - destroySync(): what upstream Linux shipped (v6.12): kvfree_rcu_barrier() inline,
 *   then shutdown with warning "... when called from <caller>".
 *
 * Flushing other threads' sheaves (kernel: flush_all_cpus_locked, an IPI per CPU):
 * a thread's cpu record is owner-only, so the destroyer sets R_FLUSH in that record and
 * posts REQ_FLUSH to the thread; the owner flushes on its next allocator call or event
 * loop turn (arena.serviceRequests), and clears R_FLUSH once the flush is complete (its
 * sheaves' storage freed too). The destroyer waits for that acknowledgement, not only for
 * the record to look empty: flushRecord empties the record first (a death mid-flush then
 * loses a sheaf, never frees it twice), so an empty record can still have a sheaf in hand
 * (seen: a destroy that returned while the worker had yet to free a sheaf's storage; the
 * test then terminated the worker and that kmalloc-256 object was lost). Dead threads are
 * flushed by whoever detaches them.
 * A live thread that never yields (a busy loop that does not allocate, or a thread
 * blocked forever) cannot be flushed: after `destroyFlushTimeoutMs` the shutdown runs
 * without it, its sheaves count as still holding objects, and the report names the
 * thread in `waitedFor` (memory is kept, never reused under that thread).
 *
 * Bounds. Every wait of a destroy is bounded, so destroy() resolves (and destroySync()
 * returns) within destroyFlushTimeoutMs + rcuStallTimeoutMs + 250 ms of the call (plus the
 * time to free what the batches hold):
 * - One flush deadline, destroyFlushTimeoutMs after the call, for everything other threads
 *   must do: close their kfree_rcu batches (the barrier) and flush their sheaves. (These
 *   were two waits of destroyFlushTimeoutMs each, one after the other: a busy thread
 *   holding both made destroy take twice the documented time.)
 * - One grace-period deadline, rcuStallTimeoutMs + 250 ms (stalledWaitMs) after the first
 *   GP wait began, for the barrier's grace period and, for SLAB_TYPESAFE_BY_RCU, the one
 *   its freed slabs wait for. A GP still running by then is stalled (the GP driver has
 *   already printed the kernel's stall warning): the destroy gives up with
 *   status 'stalled', names the blocking threads (slot and Node threadId), and keeps the
 *   cache and its memory, because a stalled reader may still see any of it. Giving up
 *   never ends a GP early (rcu/core.ts driveSync): the objects held back are freed later,
 *   once the GP completes, into the kept cache.
 * The async work never blocks its thread: it waits for grace periods with
 * synchronizeAsyncBounded and reaps TYPESAFE_BY_RCU slabs by polling afterwards.
 *
 * One body both ways: after their different fronts (destroy's silent pass, destroySync's
 * read-section refusal and caller), both run destroyBody, a generator that yields each
 * wait (barrier, flush poll, grace period) to a blocking or an async driver, as rcu/core.ts
 * gpBody does. Locks (order: the table in src/layout.ts): slab_mutex in begin() and
 * release; list_lock and barn locks in the flushes and shutdown, never two at once; none
 * is held across a yield. A destroyer dying mid-way leaves the cache CS_DYING with its
 * name dropped: its memory stays allocated (as a leak), nothing is freed twice.
 */
import type { SlabHost } from './host.js';
import { unanswered } from '../hotplug/autowatch.js';
import {
  C_ALLOC_OK, C_GEN, C_LOCK, C_NR_SLABS, C_RCU_PENDING, C_REFCOUNT, C_STATE, CS_DYING, CS_FREE, CS_LEAKED, H_SLAB_MUTEX,
  P_FREELIST, P_INUSE, PAGE_SHIFT, R_FLUSH, REQ_FLUSH, TS_FREE,
} from '../layout.js';
import { reclaimOrphans } from './repair.js';
import { lock, nap, unlock } from '../sync/mutex.js';
import type { Cache } from './cache.js';
import { listPfns } from './lists.js';
import { bugHeader, callerOf, slabOffset } from '../report.js';
import { stalledWaitMs } from '../rcu/stall.js';

/** An object still allocated when a destroy found the cache leaked. */
export interface LeakedObject {
  /** The object's pointer. */
  ptr: number;
  /** Its alloc track ("Allocated in ... age=... cpu=... pid=..." and frames), with SLAB_STORE_USER. */
  allocTrace?: string;
}

/** A thread a destroy or barrier waited for in vain: its arena slot and its Node `threadId` (-1 where unknown). */
export interface StalledThread {
  slot: number;
  threadId: number;
}

/**
 * What destroy() resolves with (and destroySync() returns). destroy() resolves within
 * destroyFlushTimeoutMs + rcuStallTimeoutMs + 250 ms of the call (defaults: 5 s + 21 s +
 * 0.25 s), plus the time to free what the kfree_rcu batches hold, whatever other threads
 * do: a thread that never yields is named in `unflushedThreads` (status 'leaked'), a
 * reader that stalls a grace period in `stalledThreads` (status 'stalled'). In both cases
 * the cache and its memory are kept.
 */
export interface DestroyReport {
  /** The cache (or alias) name destroyed. */
  name: string;
  /**
   * 'released': the cache is gone. 'alias': only this name (a merged cache lives on).
   * 'leaked': objects remained at the final shutdown (a real leak, or a thread that did
   * not yield); the cache and its memory are kept. 'stalled': a grace period the destroy
   * needed did not complete within rcuStallTimeoutMs + 250 ms (a reader stuck in a read
   * section, or a qsbr thread that passes no quiescent state); the cache and its memory
   * are kept, and the objects held back are freed into it once the grace period ends.
   */
  status: 'released' | 'leaked' | 'alias' | 'stalled';
  /** Why the cache was not released ('leaked' and 'stalled'), in one sentence. */
  reason?: string;
  /** 'stalled': the threads that blocked the grace period when the destroy gave up. */
  stalledThreads?: StalledThread[];
  /** True when the asynchronous work had to run (objects remained at the first, silent shutdown). */
  deferred: boolean;
  /** Objects still allocated at the final shutdown. */
  leaked: number;
  /** The objects still allocated when leaked: pointer and, with SLAB_STORE_USER, the alloc track text. */
  objects: LeakedObject[];
  /** The exact WARN text when leaked. */
  warning?: string;
  /** Full kernel-style report (BUG banner and object list) when leaked. */
  report?: string;
  /** What the asynchronous work waited for, in order (e.g. "kvfree_rcu_barrier_on_cache"). */
  waitedFor?: string[];
  /** Thread slots whose sheaves (or open kfree_rcu batch) could not be flushed before the timeout. */
  unflushedThreads?: number[];
  /** Milliseconds from destroy() to the report. */
  elapsedMs?: number;
}

/** A kfree_rcu barrier's outcome (KfreeRcu.barrierOnCache*). */
interface BarrierResult {
  unresponsive: number[];
  stalled: number[];
}

/**
 * A wait of destroyBody, run by its driver: the per-cache kfree_rcu barrier, one pause
 * between two polls of other threads' sheaves, or one bounded grace period.
 */
type DestroyStep =
  | { op: 'barrier'; idx: number; flushDeadline: number; gpWaitMs: number }
  | { op: 'nap' }
  | { op: 'gp'; ms: number };

/** What a step gives back: the barrier's result, the GP's stalled slots, nothing for a nap. */
type StepResult = BarrierResult | number[] | undefined;

/** Pause between two polls of the sheaf flush: blocking (nap) and async (setTimeout). */
const FLUSH_POLL_SYNC_MS = 1;
const FLUSH_POLL_ASYNC_MS = 2;

export class Destroyer {
  constructor(private readonly a: SlabHost) {}

  /**
   * Steps 1-2 of the seed: drop the handle's name and one reference (under slab_mutex).
   * Returns an alias report if references remain, else undefined (the caller shuts down).
   * Throws if this handle was already destroyed or the cache is a kmalloc cache.
   */
  private begin(c: Cache): DestroyReport | undefined {
    const a = this.a;
    const i32 = a.i32;
    if (c.kmalloc) throw new Error(`slabrcu: kmem_cache_destroy ${c.name}: kmalloc caches are never destroyed`);
    if (c.nameIdx < 0) throw new Error(`slabrcu: kmem_cache_destroy: '${c.name}' is an internal handle`);
    lock(i32, H_SLAB_MUTEX);
    try {
      if (i32[c.d + C_GEN] !== c.gen || i32[c.d + C_STATE] === CS_FREE || !a.registry.dropName(c)) {
        throw new Error(`slabrcu: kmem_cache_destroy ${c.name}: cache already destroyed`);
      }
      const ref = --i32[c.d + C_REFCOUNT];
      // This handle may no longer allocate, fast path included (the cache may live on
      // under other names: the slow path's checkAlloc refuses it with a clear error).
      c.disable();
      if (ref > 0) {
        return { name: c.name, status: 'alias', deferred: false, leaked: 0, objects: [] };
      }
      // No new allocations from here on; frees are still accepted until release.
      Atomics.store(i32, c.d + C_STATE, CS_DYING);
      Atomics.store(i32, c.d + C_ALLOC_OK, -1);
      return undefined;
    } finally {
      unlock(i32, H_SLAB_MUTEX);
    }
  }

  /** The seed's kmem_cache_destroy: silent shutdown now, the rest asynchronously. */
  destroy(c: Cache): Promise<DestroyReport> {
    const t0 = performance.now();
    let early: DestroyReport | undefined;
    try {
      // Every refusal comes before begin(), which drops the name and the reference.
      this.a.checkAttached();
      early = this.begin(c);
    } catch (e) {
      return Promise.reject(e);
    }
    if (early) return Promise.resolve(early);
    const a = this.a;
    const h = a.internalHandle(c.idx);
    const pending = this.requestFlushAll(h);
    // The silent pass does not flush the quarantine (only the async work does, after the
    // barrier): quarantined objects keep their slabs, so the shutdown below fails and the
    // destroy goes asynchronous, as in the RFC.
    a.debugHooks?.quarantineFlushCache(h, false);
    if (pending.length === 0 && this.shutdown(h) && !c.typesafeByRcu) {
      this.release(h);
      return Promise.resolve({ name: c.name, status: 'released', deferred: false, leaked: 0, objects: [], elapsedMs: performance.now() - t0 });
    }
    // Objects remain (or a TYPESAFE_BY_RCU cache needs one more grace period): the
    // async work (kernel: schedule_work(&s->async_destroy_work)).
    return this.asyncWork(h, c.name, t0);
  }

  /**
   * The async work (kernel: schedule_work(&s->async_destroy_work)): destroyBody driven
   * without blocking, after one yield so destroy() has returned to its caller first.
   */
  private async asyncWork(h: Cache, name: string, t0: number): Promise<DestroyReport> {
    await new Promise<void>((r) => setTimeout(r, 0));
    const g = this.destroyBody(h, name, t0, undefined, true);
    for (let r = g.next(); ; ) {
      if (r.done) return r.value;
      r = g.next(await this.stepAsync(r.value));
    }
  }

  /**
   * The part of kmem_cache_destroy both ways share, after begin() (and, for destroy(),
   * the flush requests and the silent pass): the kfree_rcu barrier of the cache, the
   * quarantine, the wait for other threads' sheaves, the final shutdown with warning, the
   * grace period of TYPESAFE_BY_RCU slabs, the report. One generator (as rcu/core.ts
   * gpBody): it yields each wait as a DestroyStep and gets its result back, and is driven
   * blocking by destroySync (stepSync) and without blocking by asyncWork (stepAsync).
   * `caller` names destroySync's caller in the report; `deferred` is destroy()'s (it
   * requested the flushes already, and its report lists waitedFor).
   */
  private *destroyBody(h: Cache, name: string, t0: number, caller: string | undefined, deferred: boolean): Generator<DestroyStep, DestroyReport, StepResult> {
    const a = this.a;
    const waitedFor: string[] = [];
    const flushDeadline = t0 + a.options.destroyFlushTimeoutMs;
    const gp = new GpBudget(a);
    // destroySync: flush requests first, so other threads serve them together with the
    // barrier's, all within the one flush deadline (destroy() posted them already).
    if (!deferred) this.requestFlushAll(h);
    waitedFor.push('kvfree_rcu_barrier_on_cache');
    const b = (yield { op: 'barrier', idx: h.idx, flushDeadline, gpWaitMs: gp.left() }) as BarrierResult;
    gp.note(b.stalled);
    if (a.debugHooks?.quarantineFlushCache(h, true)) waitedFor.push('quarantine');
    const unflushed = yield* this.waitFlush(h, flushDeadline);
    if (unflushed.length) waitedFor.push(`sheaf flush (threads ${unflushed.join(', ')}: timed out)`);
    else waitedFor.push('sheaf flush');
    // Final shutdown with warning (free_partial); then, for TYPESAFE_BY_RCU, the grace
    // period the slabs it freed wait for (destroy(): awaited and reaped by polling, never a
    // blocking synchronize on the caller's thread; destroySync(): the caller chose to block).
    const empty = this.shutdown(h);
    if (empty && h.typesafeByRcu) {
      waitedFor.push('rcu_barrier (SLAB_TYPESAFE_BY_RCU slabs)');
      a.slab.reapRcuSlabs(h, false);
      while (this.rcuSlabsPending(h) && gp.left() > 0) {
        const st = (yield { op: 'gp', ms: gp.left() }) as number[];
        a.slab.reapRcuSlabs(h, false); // after the GP every slab freed above is reapable by poll
        if (st.length > 0) {
          gp.note(st);
          break;
        }
      }
    }
    const rep = this.finish(h, name, caller, this.merge(unflushed, b.unresponsive), gp, b.stalled, deferred);
    if (deferred) rep.waitedFor = waitedFor;
    rep.elapsedMs = performance.now() - t0;
    return rep;
  }

  /** Run one step of destroyBody blocking (destroySync). */
  private stepSync(s: DestroyStep): StepResult {
    const a = this.a;
    if (s.op === 'barrier') return a.kfreeRcuImpl.barrierOnCacheSync(s.idx, s.flushDeadline, s.gpWaitMs);
    if (s.op === 'gp') return a.rcu.synchronizeBounded(s.ms);
    nap(FLUSH_POLL_SYNC_MS);
    return undefined;
  }

  /** Run one step of destroyBody without blocking the event loop (destroy's async work). */
  private async stepAsync(s: DestroyStep): Promise<StepResult> {
    const a = this.a;
    if (s.op === 'barrier') return a.kfreeRcuImpl.barrierOnCacheAsync(s.idx, s.flushDeadline, s.gpWaitMs);
    if (s.op === 'gp') return a.rcu.synchronizeAsyncBounded(s.ms);
    await new Promise<void>((r) => setTimeout(r, FLUSH_POLL_ASYNC_MS));
    return undefined;
  }

  /** Upstream's synchronous kmem_cache_destroy. */
  destroySync(c: Cache): DestroyReport {
    const t0 = performance.now();
    const caller = callerOf(new Error().stack);
    // Refused before begin() drops the name and the reference: the barrier and the
    // grace period below would wait for this thread's own read section.
    this.a.checkAttached();
    if (this.a.rcu.inReadSection) {
      throw new Error(`slabrcu: kmem_cache_destroy ${c.name}: destroySync() inside an RCU read-side critical section would deadlock (leave the section, or use destroy())`);
    }
    const early = this.begin(c);
    if (early) return early;
    const g = this.destroyBody(this.a.internalHandle(c.idx), c.name, t0, caller, false);
    for (let r = g.next(); ; ) {
      if (r.done) return r.value;
      r = g.next(this.stepSync(r.value));
    }
  }

  private merge(x: number[], y: number[]): number[] {
    return [...new Set([...x, ...y])].sort((p, q) => p - q);
  }

  private rcuSlabsPending(h: Cache): boolean {
    return Atomics.load(this.a.i32, h.d + C_RCU_PENDING) !== 0;
  }

  /**
   * flush_all_cpus for one cache: our own and dead threads' sheaves now; live
   * threads get a request. Returns the slots that still hold sheaves of it.
   */
  private requestFlushAll(h: Cache): number[] {
    const a = this.a;
    const i32 = a.i32;
    a.slab.flushCpu(h);
    const pending: number[] = [];
    for (let s = 0; s < a.layout.maxThreads; s++) {
      if (s === a.slot) continue;
      const r = a.recW(s, h.idx);
      // A sheaf holds objects of the cache (and is itself a kmalloc object): kernel
      // flush_all's has_pcs_used() looks at main, spare and rcu_free.
      if (!a.slab.recordHolds(r)) continue;
      if (a.threads.state(s) !== TS_FREE) {
        // Live (or being detached by someone, who will flush it): ask, and wait later.
        Atomics.store(i32, r + R_FLUSH, 1);
        a.threads.post(s, REQ_FLUSH);
        pending.push(s);
      } else {
        // Not attached: the record belongs to nobody (a thread that died before it could
        // be detached). Being the only accessor, we flush it ourselves.
        a.slab.flushRecord(h, r);
      }
    }
    return pending;
  }

  private stillHeld(h: Cache): number[] {
    const a = this.a;
    const out: number[] = [];
    for (let s = 0; s < a.layout.maxThreads; s++) {
      const r = a.recW(s, h.idx);
      const dead = s !== a.slot && a.threads.state(s) === TS_FREE;
      if (a.slab.recordHolds(r)) {
        if (dead) a.slab.flushRecord(h, r);
        else out.push(s);
      } else if (!dead && s !== a.slot && Atomics.load(a.i32, r + R_FLUSH) !== 0) {
        // Asked, record emptied, not yet acknowledged: its flush is still freeing what it
        // took out (see the header). A dead thread's flush is its detacher's.
        out.push(s);
      }
    }
    return out;
  }

  /**
   * Wait until no other thread holds sheaves of the cache, or the deadline: dead and
   * unattached records are flushed here, live ones by their owners (requestFlushAll).
   * Yields a 'nap' between two polls. Returns the slots still holding sheaves.
   */
  private *waitFlush(h: Cache, deadline: number): Generator<DestroyStep, number[], StepResult> {
    this.a.slab.flushCpu(h);
    let held = this.stillHeld(h);
    while (held.length && performance.now() < deadline) {
      yield { op: 'nap' };
      held = this.stillHeld(h);
    }
    return held;
  }

  /**
   * __kmem_cache_shutdown(s, warn_inuse=false): free empty slabs; true if none remain.
   */
  private shutdown(h: Cache): boolean {
    const a = this.a;
    a.slab.shrinkBarn(h); // barn_shrink: the barn's sheaves hold objects of live slabs
    a.slab.discardEmpty(h);
    return Atomics.load(a.i32, h.d + C_NR_SLABS) === 0;
  }

  /**
   * After the final shutdown with warning (the caller ran it, and for TYPESAFE_BY_RCU
   * waited for the grace period of the slabs it freed): release, or keep the cache (a
   * leak, or a stalled grace period) and report.
   */
  private finish(
    h: Cache, name: string, caller: string | undefined, unflushed: number[], gp: GpBudget, barrierStalled: number[], deferred: boolean,
  ): DestroyReport {
    const a = this.a;
    const i32 = a.i32;
    let nrSlabs = Atomics.load(i32, h.d + C_NR_SLABS);
    if (nrSlabs > 0 && unflushed.length === 0 && barrierStalled.length === 0) {
      // Every thread's sheaves are flushed and the kfree_rcu barrier has completed:
      // objects still CACHED or RCU were lost in flight by threads that died; they are
      // free (slab/repair.ts reclaimOrphans). Then shut down once more.
      lock(i32, h.d + C_LOCK);
      let n = 0;
      try {
        n = reclaimOrphans({ i32, u8: a.u8, metaW: a.metaW, firstPage: a.layout.firstPage, nrPages: a.pages.nrPages }, h);
      } finally {
        unlock(i32, h.d + C_LOCK);
      }
      if (n > 0) {
        this.shutdown(h);
        nrSlabs = Atomics.load(i32, h.d + C_NR_SLABS);
      }
    }
    const rcuPending = this.rcuSlabsPending(h);
    // No slab left: nothing of this cache can be held by a thread that did not yield
    // (a kfree_rcu batch it kept holds no object of a cache without slabs).
    if (nrSlabs === 0 && !rcuPending) {
      this.release(h);
      return { name, status: 'released', deferred, leaked: 0, objects: [] };
    }
    // A stall matters only if it held back something of this cache: its TYPESAFE_BY_RCU
    // slabs, or objects that may sit in the batches the barrier could not free (the
    // barrier covers every cache; a stall behind other caches' objects does not keep us).
    let stalled: number[] = [];
    if (rcuPending) stalled = gp.stalled.length > 0 ? gp.stalled : a.rcu.core.blockingSlots();
    else if (nrSlabs > 0 && barrierStalled.length > 0) stalled = barrierStalled;
    // Keep the memory (never turn a leak, or memory a stalled reader may still see, into
    // a use-after-free). List what remains.
    const objects = this.remainingObjects(h);
    // The kernel prints s->name: the cache's own (first creator's) name, what slabinfo
    // shows, even when the last reference was dropped through an alias. The report's
    // `name` stays the handle's.
    const cname = h.name;
    const held = objects.length > 0 || unflushed.length > 0 || nrSlabs !== 0;
    const base = held
      ? `kmem_cache_destroy ${cname}: Slab cache still has objects`
      : `kmem_cache_destroy ${cname}: SLAB_TYPESAFE_BY_RCU slabs still wait for a grace period`;
    const warning = caller ? `${base} when called from ${caller}` : base;
    let report = '';
    if (held) {
      report = bugHeader(a.reporter, cname, `Objects remaining in ${cname} on __kmem_cache_shutdown()`);
      a.reporter.countSlabError(); // the BUG header
    }
    for (const o of objects) {
      report += `Object 0x${o.ptr.toString(16)} @offset=${slabOffset(a, o.ptr)}\n`;
      if (o.allocTrace) report += o.allocTrace.replace(/^/gm, '  ') + '\n';
      a.reporter.countSlabError();
    }
    for (const s of unflushed) report += `sheaves or kfree_rcu batch of thread ${s} could not be flushed (the thread did not yield)\n`;
    let reason: string;
    const rep: DestroyReport = { name, status: 'leaked', deferred, leaked: objects.length, objects, warning, report };
    if (stalled.length > 0) {
      const who = this.a.kfreeRcuImpl.describeThreads(stalled);
      reason = `a grace period did not complete within ${gp.bound} ms (rcuStallTimeoutMs + 250): stalled by thread ${who}`;
      report += `rcu: gave up waiting for a grace period after ${gp.bound} ms: stalled by thread ${who}\n` +
        'rcu: the cache and its memory are kept; objects held back are freed into it once the grace period completes\n';
      rep.status = 'stalled';
      rep.stalledThreads = stalled.map((s) => ({ slot: s, threadId: a.threads.tid(s) }));
    } else if (unflushed.length > 0) {
      reason = `thread ${unflushed.join(', ')} did not yield within ${a.options.destroyFlushTimeoutMs} ms (destroyFlushTimeoutMs): its sheaves or kfree_rcu batch could not be flushed`;
    } else {
      reason = `${objects.length} object(s) still allocated at the final shutdown`;
    }
    rep.reason = reason;
    rep.report = report;
    lock(i32, H_SLAB_MUTEX);
    Atomics.store(i32, h.d + C_STATE, CS_LEAKED);
    unlock(i32, H_SLAB_MUTEX);
    a.reporter.warn('kmem-cache-destroy', cname, warning, `${warning}\n${report}`);
    if (unflushed.length) {
      rep.unflushedThreads = unflushed;
      rep.leaked = Math.max(rep.leaked, 1);
    }
    return rep;
  }

  /** Objects allocated in slabs on the cache lists (frozen slabs of unflushed threads are not walked). */
  private remainingObjects(h: Cache): { ptr: number; allocTrace?: string }[] {
    const a = this.a;
    const i32 = a.i32;
    const out: { ptr: number; allocTrace?: string }[] = [];
    lock(i32, h.d + C_LOCK);
    try {
      for (const full of [false, true]) {
        for (const pfn of listPfns(i32, a.metaW, h.d, full)) {
          const m = a.pm(pfn);
          if (i32[m + P_INUSE] === 0) continue;
          const free = new Set<number>();
          for (let o = i32[m + P_FREELIST]!; o !== 0 && free.size <= h.objects; o = i32[(o + h.fp) >> 2]!) free.add(o);
          const first = (pfn << PAGE_SHIFT) + h.redLeftPad;
          for (let k = 0; k < h.objects; k++) {
            const ptr = first + k * h.size;
            if (free.has(ptr)) continue;
            const t = a.debugHooks?.allocTrace(h, ptr);
            out.push(t ? { ptr, allocTrace: t } : { ptr });
          }
        }
      }
    } finally {
      unlock(i32, h.d + C_LOCK);
    }
    out.sort((x, y) => x.ptr - y.ptr);
    return out;
  }

  /** kmem_cache_release: the descriptor slot becomes free; stale handles see a new generation. */
  private release(h: Cache): void {
    const a = this.a;
    const i32 = a.i32;
    lock(i32, H_SLAB_MUTEX);
    Atomics.store(i32, h.d + C_ALLOC_OK, -1);
    Atomics.store(i32, h.d + C_GEN, (i32[h.d + C_GEN]! + 1) | 0);
    Atomics.store(i32, h.d + C_STATE, CS_FREE);
    unlock(i32, H_SLAB_MUTEX);
    a.forgetInternalHandle(h.idx);
  }
}

/**
 * The grace-period deadline of one destroy: stalledWaitMs (rcuStallTimeoutMs + 250 ms)
 * from the first GP wait, shared by every GP wait of that destroy; `stalled` names the
 * slots that blocked the last wait that gave up.
 */
class GpBudget {
  readonly bound: number;
  private deadline = 0;
  stalled: number[] = [];

  constructor(a: SlabHost) {
    this.bound = stalledWaitMs(a.options.rcuStallTimeoutMs);
  }

  /** Milliseconds left (the clock starts at the first call). */
  left(): number {
    if (this.deadline === 0) this.deadline = performance.now() + this.bound;
    return Math.max(0, this.deadline - performance.now());
  }

  /** Record the slots a wait that gave up reported (the latest non-empty list is kept). */
  note(stalled: number[]): void {
    if (stalled.length > 0) this.stalled = stalled;
  }
}
