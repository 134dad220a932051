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
 * Flushing other threads' cpu slabs (kernel: flush_all_cpus_locked, an IPI per CPU):
 * a thread's cpu record is owner-only, so the destroyer sets R_FLUSH in that record and
 * posts REQ_FLUSH to the thread; the owner flushes on its next allocator call or event
 * loop turn (arena.serviceRequests). Dead threads are flushed by whoever detaches them.
 * A live thread that never yields (a busy loop that does not allocate, or a thread
 * blocked forever) cannot be flushed: after `destroyFlushTimeoutMs` the shutdown runs
 * without it, its cpu slab counts as still holding objects, and the report names the
 * thread in `waitedFor` (memory is kept, never reused under that thread).
 */
import type { Arena } from '../arena.js';
import { unanswered } from '../hotplug/autowatch.js';
import {
  C_ALLOC_OK, C_GEN, C_LOCK, C_NR_SLABS, C_REFCOUNT, C_STATE, CS_DYING, CS_FREE, CS_LEAKED, C_DESTROY_SEQ, H_SLAB_MUTEX,
  P_FREELIST, P_INUSE, PAGE_SHIFT, R_FLUSH, REQ_FLUSH, TS_FREE,
} from '../layout.js';
import { reclaimOrphans } from './repair.js';
import { lock, nap, unlock } from '../sync/mutex.js';
import type { Cache } from './cache.js';
import { listPfns } from './lists.js';
import { bugHeader, callerOf } from '../report.js';

/** An object still allocated when a destroy found the cache leaked. */
export interface LeakedObject {
  /** The object's pointer. */
  ptr: number;
  /** Its alloc track ("Allocated in ... age=... cpu=... pid=..." and frames), with SLAB_STORE_USER. */
  allocTrace?: string;
}

/** The outcome of {@link Cache.destroy} / {@link Cache.destroySync}. */
export interface DestroyReport {
  /** The cache (or alias) name destroyed. */
  name: string;
  /** `released`: the cache's memory went back; `leaked`: objects remained, the memory is kept (never reused); `alias`: only an alias name of a merged cache was dropped. */
  status: 'released' | 'leaked' | 'alias';
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
  /** Thread slots whose cpu slab could not be flushed before the timeout. */
  unflushedThreads?: number[];
  /** Milliseconds from destroy() to the report. */
  elapsedMs?: number;
}

export class Destroyer {
  constructor(private readonly a: Arena) {}

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
      Atomics.add(i32, c.d + C_DESTROY_SEQ, 1);
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
    a.debugHooks?.quarantineFlushCache(h, false);
    if (pending.length === 0 && this.shutdown(h) && !c.typesafeByRcu) {
      this.release(h);
      return Promise.resolve({ name: c.name, status: 'released', deferred: false, leaked: 0, objects: [], elapsedMs: performance.now() - t0 });
    }
    // Objects remain (or a TYPESAFE_BY_RCU cache needs one more grace period): the
    // async work (kernel: schedule_work(&s->async_destroy_work)).
    return this.asyncWork(h, c.name, t0);
  }

  private async asyncWork(h: Cache, name: string, t0: number): Promise<DestroyReport> {
    const a = this.a;
    const waitedFor: string[] = [];
    // Yield first so destroy() has returned to its caller before anything else runs.
    await new Promise<void>((r) => setTimeout(r, 0));
    waitedFor.push('kvfree_rcu_barrier_on_cache');
    await a.kfreeBarrierOnCacheAsync(h.idx);
    if (a.debugHooks?.quarantineFlushCache(h, true)) waitedFor.push('quarantine');
    const unflushed = await this.waitFlushAsync(h);
    if (unflushed.length) waitedFor.push(`cpu slab flush (threads ${unflushed.join(', ')}: timed out)`);
    else waitedFor.push('cpu slab flush');
    if (h.typesafeByRcu) {
      waitedFor.push('rcu_barrier (SLAB_TYPESAFE_BY_RCU slabs)');
      await a.rcu.synchronizeAsync();
    }
    const rep = this.finish(h, name, undefined, unflushed, true);
    rep.waitedFor = waitedFor;
    rep.elapsedMs = performance.now() - t0;
    return rep;
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
    const a = this.a;
    const h = a.internalHandle(c.idx);
    a.kfreeBarrierOnCacheSync(h.idx);
    a.debugHooks?.quarantineFlushCache(h, true);
    this.requestFlushAll(h);
    const unflushed = this.waitFlushSync(h);
    if (h.typesafeByRcu) a.rcu.synchronize();
    const rep = this.finish(h, c.name, caller, unflushed, false);
    rep.elapsedMs = performance.now() - t0;
    return rep;
  }

  /**
   * flush_all_cpus for one cache: our own and dead threads' cpu slabs now; live
   * threads get a request. Returns the slots that still hold a cpu slab of it.
   */
  private requestFlushAll(h: Cache): number[] {
    const a = this.a;
    const i32 = a.i32;
    a.slab.flushCpu(h);
    const pending: number[] = [];
    for (let s = 0; s < a.layout.maxThreads; s++) {
      if (s === a.slot) continue;
      const r = a.recW(s, h.idx);
      // A sheaf holds objects (and is itself a kmalloc object) like a cpu slab holds
      // its freelist: kernel flush_all's has_cpu_slab() also looks at the sheaves.
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
      if (a.slab.recordHolds(a.recW(s, h.idx))) {
        if (s !== a.slot && a.threads.state(s) === TS_FREE) a.slab.flushRecord(h, a.recW(s, h.idx));
        else out.push(s);
      }
    }
    return out;
  }

  private async waitFlushAsync(h: Cache): Promise<number[]> {
    const deadline = performance.now() + this.a.options.destroyFlushTimeoutMs;
    this.a.slab.flushCpu(h);
    let held = this.stillHeld(h);
    while (held.length && performance.now() < deadline) {
      await new Promise<void>((r) => setTimeout(r, 2));
      held = this.stillHeld(h);
    }
    return held;
  }

  private waitFlushSync(h: Cache): number[] {
    const deadline = performance.now() + this.a.options.destroyFlushTimeoutMs;
    let held = this.stillHeld(h);
    while (held.length && performance.now() < deadline) {
      nap(1);
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

  /** The final shutdown with warning, then release or keep (leak). */
  private finish(h: Cache, name: string, caller: string | undefined, unflushed: number[], deferred: boolean): DestroyReport {
    const a = this.a;
    const i32 = a.i32;
    let empty = this.shutdown(h);
    if (!empty && unflushed.length === 0) {
      // Every thread's sheaves are flushed and the kfree_rcu barrier has passed: objects
      // still CACHED or RCU were lost in flight by threads that died (slab/repair.ts).
      lock(i32, h.d + C_LOCK);
      let n = 0;
      try {
        n = reclaimOrphans({ i32, u8: a.u8, metaW: a.metaW, firstPage: a.layout.firstPage, nrPages: a.pages.nrPages }, h);
      } finally {
        unlock(i32, h.d + C_LOCK);
      }
      if (n > 0) empty = this.shutdown(h);
    }
    if (empty) {
      // SLAB_TYPESAFE_BY_RCU: the slabs freed above wait for a grace period (kernel: the
      // rcu_barrier() before kmem_cache_release). The async path already waited for one.
      a.slab.reapRcuSlabs(h, false);
      a.slab.reapRcuSlabs(h, true);
      this.release(h);
      return { name, status: 'released', deferred, leaked: 0, objects: [] };
    }
    // Leak: list what remains; keep the memory (never turn a leak into a use-after-free).
    const objects = this.remainingObjects(h);
    // The kernel prints s->name: the cache's own (first creator's) name, what slabinfo
    // shows, even when the last reference was dropped through an alias. The report's
    // `name` stays the handle's.
    const cname = h.name;
    const warning = caller
      ? `kmem_cache_destroy ${cname}: Slab cache still has objects when called from ${caller}`
      : `kmem_cache_destroy ${cname}: Slab cache still has objects`;
    let report = bugHeader(a, cname, `Objects remaining in ${cname} on __kmem_cache_shutdown()`);
    a.countSlabError(); // the BUG header
    for (const o of objects) {
      const slabBase = (o.ptr >>> PAGE_SHIFT) << PAGE_SHIFT;
      report += `Object 0x${o.ptr.toString(16)} @offset=${o.ptr - slabBase}\n`;
      if (o.allocTrace) report += o.allocTrace.replace(/^/gm, '  ') + '\n';
      a.countSlabError();
    }
    if (unflushed.length) {
      const who = unanswered(a, unflushed);
      report += `cpu slab of thread(s) ${who.line} could not be flushed (the thread did not yield)\n${who.detail}\n`;
    }
    lock(i32, H_SLAB_MUTEX);
    Atomics.store(i32, h.d + C_STATE, CS_LEAKED);
    unlock(i32, H_SLAB_MUTEX);
    a.warn('kmem-cache-destroy', cname, warning, `${warning}\n${report}`);
    const rep: DestroyReport = { name, status: 'leaked', deferred, leaked: objects.length, objects, warning, report };
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
