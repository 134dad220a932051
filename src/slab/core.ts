/**
 * SLUB slow paths: cpu slabs, partial/full lists, new slabs, remote frees, flushing.
 * (kernel: mm/slub.c ___slab_alloc, __slab_free, deactivate_slab, new_slab, discard_slab,
 * flush_cpu_slab, __kmem_cache_shutdown, kmem_cache_shrink). The fast paths live in
 * cache.ts.
 *
 * Locking order (outermost first):
 *   H_SLAB_MUTEX (slab_mutex: cache and name tables)
 *     -> C_LOCK (list_lock of one cache: partial/full lists, P_INUSE/P_FREELIST of
 *        unfrozen slabs, C_NR_SLABS, C_NR_PARTIAL, C_ALLOC_SLAB, C_FREE_SLAB)
 *       -> H_BUDDY_LOCK (zone lock, heap/buddy.ts)
 *
 * Slab states (P_OWNER, P_RFREE bit 0 = FROZEN):
 * - frozen (a cpu slab): owned by one thread (P_OWNER = slot + 1). Its free objects are
 *   on that thread's cpu freelist (R_FREELIST, owner-only, plain loads/stores) and on the
 *   slab's remote list P_RFREE (any thread pushes with Atomics.compareExchange while the
 *   FROZEN bit is set; the owner takes the whole list with Atomics.exchange). P_INUSE
 *   and P_FREELIST are not maintained while frozen.
 * - partial / full: on a cache list, P_FREELIST and P_INUSE under C_LOCK, P_RFREE == 0.
 *   A free to such a slab takes C_LOCK (kernel: __slab_free's list manipulation).
 * Freezing (under C_LOCK) publishes FROZEN with Atomics.store; unfreezing (under C_LOCK)
 * takes the remote list and clears FROZEN in one Atomics.exchange, so a remote freer
 * either lands its push before the exchange (and the object is merged) or sees its CAS
 * fail, re-reads the word, finds the slab unfrozen and takes the locked path.
 *
 * The free pointer of an object on any list is a u32 arena offset at (obj + offset).
 * Plain writes to it are ordered before the publishing Atomics operation (CAS/exchange
 * or the unlock of C_LOCK), and the JS memory model's synchronizes-with on those
 * seq-cst operations makes them visible to the thread that takes the list.
 */
import type { Arena } from '../arena.js';
import {
  C_ALLOC_SLAB, C_FREE_SLAB, C_GEN, C_LOCK, C_NR_PARTIAL, C_NR_SLABS, C_PARTIAL_HEAD, C_RCU_PENDING, C_STATE, CS_FREE,
  FROZEN, P_CACHE, P_FLAGS, P_FREELIST, P_INUSE, P_NEXT, P_OWNER, P_RFREE, PAGE_SHIFT, PK_RCU_FREE, PK_SLAB, PK_TAIL,
  R_ALLOC_SLOW, R_FLUSH, R_FREE_REMOTE, R_FREE_SLOW, R_FREELIST, R_SHEAF, R_SHEAF_LIM, R_SHEAF_TOP, R_SLAB,
  R_RCU_READY,
} from '../layout.js';
import { lock, unlock } from '../sync/mutex.js';
import type { Cache } from './cache.js';
import { listAdd, listDel } from './lists.js';

export class SlabCore {
  constructor(private readonly a: Arena) {}

  // ------------------------------------------------------------------ alloc

  /** ___slab_alloc: the cpu freelist is empty (or the cache is not live). */
  allocSlow(c: Cache): number {
    const a = this.a;
    const i32 = a.i32;
    c.checkAlloc();
    a.serviceRequests();
    if (c.debug) return this.allocLocked(c);
    const r = c.rec;
    // kfree edit: objects back from this thread's kfree_rcu sheaves come first (kernel:
    // a full rcu sheaf goes to the barn after its GP and alloc_from_pcs takes it).
    if (i32[r + R_RCU_READY] !== 0) {
      const o = a.kfreeRcuImpl.allocFromReady(c);
      if (o !== 0) return o;
    }
    for (let attempt = 0; ; attempt++) {
      const pfn = i32[r + R_SLAB];
      if (pfn !== 0) {
        // Take back what other threads freed into our slab.
        const h = Atomics.exchange(i32, a.pm(pfn) + P_RFREE, FROZEN) & ~FROZEN;
        if (h !== 0) return this.popCpu(c, h);
        // Slab exhausted: it goes off-list as full (or wherever deactivate puts it).
        // (kernel: flush_slab; the sheaf is not touched, it is empty or we would not be here)
        this.deactivateRecord(c, r);
      }
      // A partial slab from the cache list.
      lock(i32, c.d + C_LOCK);
      const p = i32[c.d + C_PARTIAL_HEAD];
      if (p !== 0) {
        listDel(i32, a.metaW, c.d, p);
        this.freeze(c, p);
        unlock(i32, c.d + C_LOCK);
        const fl = i32[a.pm(p) + P_FREELIST];
        i32[a.pm(p) + P_FREELIST] = 0;
        return this.popCpu(c, fl);
      }
      unlock(i32, c.d + C_LOCK);
      const np = this.growCache(c, attempt, (pfn) => this.freeze(c, pfn));
      if (np < 0) continue;
      if (np === 0) return 0;
      const fl = i32[a.pm(np) + P_FREELIST];
      i32[a.pm(np) + P_FREELIST] = 0;
      return this.popCpu(c, fl);
    }
  }

  /** Make `pfn` this thread's cpu slab (under C_LOCK). Its freelist is taken by the caller. */
  private freeze(c: Cache, pfn: number): void {
    const i32 = this.a.i32;
    const m = this.a.pm(pfn);
    i32[m + P_INUSE] = c.objects; // every object belongs to the cpu now (kernel: get_freelist)
    i32[m + P_OWNER] = this.a.slot + 1;
    Atomics.store(i32, m + P_RFREE, FROZEN);
    i32[c.rec + R_SLAB] = pfn;
  }

  private popCpu(c: Cache, head: number): number {
    const i32 = this.a.i32;
    i32[c.rec + R_FREELIST] = i32[(head + c.fp) >> 2];
    i32[c.rec + R_ALLOC_SLOW]++;
    return head;
  }

  /**
   * Debug caches never use cpu slabs (kernel: alloc_single_from_partial): every alloc is
   * checked under the list lock.
   */
  private allocLocked(c: Cache): number {
    const a = this.a;
    const i32 = a.i32;
    for (let attempt = 0; attempt < 3; attempt++) {
      lock(i32, c.d + C_LOCK);
      const p = i32[c.d + C_PARTIAL_HEAD];
      if (p !== 0) {
        const m = a.pm(p);
        const obj = i32[m + P_FREELIST];
        const dbg = a.debugHooks;
        if (dbg && !dbg.allocCheck(c, p, obj)) {
          // The slab is unusable ("Marking all objects used"): it goes to the full list.
          i32[m + P_FREELIST] = 0;
          i32[m + P_INUSE] = c.objects;
          listDel(i32, a.metaW, c.d, p);
          listAdd(i32, a.metaW, c.d, true, p, false);
          unlock(i32, c.d + C_LOCK);
          continue;
        }
        i32[m + P_FREELIST] = i32[(obj + c.fp) >> 2];
        i32[m + P_INUSE]++;
        if (i32[m + P_FREELIST] === 0) {
          listDel(i32, a.metaW, c.d, p);
          listAdd(i32, a.metaW, c.d, true, p, false);
        }
        i32[c.rec + R_ALLOC_SLOW]++;
        if (dbg) dbg.afterAlloc(c, obj);
        unlock(i32, c.d + C_LOCK);
        return obj;
      }
      unlock(i32, c.d + C_LOCK);
      const np = this.growCache(c, attempt, (pfn) => listAdd(i32, a.metaW, c.d, false, pfn, false));
      if (np === 0) return 0;
    }
    return 0;
  }

  /**
   * new_slab, with the kfree_rcu shrinker's second chance: on the first attempt an
   * exhausted arena is reclaimed (completed batches, then an expedited GP) and -1 asks the
   * caller to retry. A new slab is counted and handed to `install` (freeze it, or put it
   * on the partial list) in one C_LOCK section, so validate never sees it uncounted.
   * Returns its pfn, or 0 when no memory can be had.
   */
  private growCache(c: Cache, attempt: number, install: (pfn: number) => void): number {
    const i32 = this.a.i32;
    const np = this.newSlab(c);
    if (np === 0) return attempt === 0 && this.a.reclaim() ? -1 : 0;
    lock(i32, c.d + C_LOCK);
    this.countNewSlab(c);
    install(np);
    unlock(i32, c.d + C_LOCK);
    return np;
  }

  /** A new slab joins the cache (under C_LOCK, with its publication). */
  private countNewSlab(c: Cache): void {
    const i32 = this.a.i32;
    i32[c.d + C_NR_SLABS]++;
    i32[c.d + C_ALLOC_SLAB]++;
  }

  /** new_slab: pages from the buddy allocator, objects constructed and linked. Returns pfn or 0. */
  private newSlab(c: Cache): number {
    const a = this.a;
    const i32 = a.i32;
    if (c.hasCtor && !c.ctor) {
      throw new Error(
        `slabrcu: cache '${c.name}' has a constructor, but none is registered in this thread (thread ${a.slot}); ` +
          `pass it with arena.findCache('${c.name}', { ctor }) before allocating here`,
      );
    }
    this.reapRcuSlabs(c, false);
    const pfn = a.pages.alloc(c.order);
    if (pfn === 0) return 0;
    const m = a.pm(pfn);
    i32[m + P_CACHE] = c.idx;
    i32[m + P_INUSE] = 0;
    i32[m + P_OWNER] = 0;
    i32[m + P_NEXT] = 0;
    i32[m + P_RFREE] = 0;
    a.pages.markTails(pfn, c.order);
    const base = pfn << PAGE_SHIFT;
    const dbg = c.debug ? a.debugHooks : undefined;
    if (dbg) dbg.setupSlab(c, pfn);
    const n = c.objects;
    const stride = c.size;
    const first = base + c.redLeftPad;
    for (let k = 0; k < n; k++) {
      const obj = first + k * stride;
      if (dbg) dbg.setupObject(c, obj);
      if (c.ctor) c.ctor(obj, a);
      i32[(obj + c.fp) >> 2] = k + 1 < n ? obj + stride : 0;
    }
    i32[m + P_FREELIST] = first;
    Atomics.store(i32, m + P_FLAGS, PK_SLAB | (c.order << 4));
    // The caller counts the slab (C_NR_SLABS, C_ALLOC_SLAB) in the same C_LOCK section that
    // publishes it (freeze or list add), so validate() never sees a counted slab that is
    // on no list and in no cpu record (debug edit).
    return pfn;
  }

  // ------------------------------------------------------------------- free

  /**
   * Any free that is not a push onto our own cpu slab (kernel: __slab_free). `pfn` is the
   * slab's head page, `ptr` already validated as an object boundary of this cache.
   */
  freeSlow(c: Cache, pfn: number, ptr: number, count = true): void {
    const a = this.a;
    const i32 = a.i32;
    if (c.debug) {
      this.freeLocked(c, pfn, ptr, count);
      return;
    }
    const rw = a.pm(pfn) + P_RFREE;
    const nextW = (ptr + c.fp) >> 2;
    // The first look is a plain load (an Atomics.load costs ~5 ns here): both outcomes are
    // re-validated, the lock-free push by its CAS (a stale head fails it and we re-read
    // atomically), the locked free by freeLocked's FROZEN check under C_LOCK.
    let h = i32[rw]!;
    for (;;) {
      if ((h & FROZEN) === 0) {
        if (this.freeLocked(c, pfn, ptr, count)) return;
        h = Atomics.load(i32, rw);
        continue; // it was frozen again meanwhile: retry the lock-free push
      }
      const head = h & ~FROZEN;
      if (head === ptr || (pfn === i32[c.rec + R_SLAB] && i32[c.rec + R_FREELIST] === ptr)) {
        // Confirm on a fresh value before reporting: a stale plain read must not turn a
        // legitimate free (ptr was taken back and reallocated meanwhile) into a report.
        const now = Atomics.load(i32, rw);
        if (now !== h) {
          h = now;
          continue;
        }
        a.reportDoubleFree(c, ptr);
        return;
      }
      i32[nextW] = head;
      const got = Atomics.compareExchange(i32, rw, h, ptr | FROZEN);
      if (got === h) {
        if (count) i32[c.rec + R_FREE_REMOTE]++;
        return;
      }
      h = got;
    }
  }

  /**
   * Free into an unfrozen slab under C_LOCK. Returns false (nothing done) if the slab
   * turned out to be frozen, so the caller retries the lock-free push.
   */
  private freeLocked(c: Cache, pfn: number, ptr: number, count: boolean): boolean {
    const a = this.a;
    const i32 = a.i32;
    const m = a.pm(pfn);
    lock(i32, c.d + C_LOCK);
    // A plain load is enough: the FROZEN bit only changes under C_LOCK (freeze, and the
    // exchange of deactivateLocked), which we hold; remote pushers change only the head.
    if ((i32[m + P_RFREE]! & FROZEN) !== 0) {
      unlock(i32, c.d + C_LOCK);
      return false;
    }
    const prior = i32[m + P_FREELIST];
    const dbg = c.debug ? a.debugHooks : undefined;
    if (dbg) {
      if (!dbg.freeCheck(c, pfn, ptr)) {
        unlock(i32, c.d + C_LOCK);
        return true; // refused with a report: the object stays allocated, lists untouched
      }
    } else if (prior === ptr || i32[m + P_INUSE] === 0) {
      unlock(i32, c.d + C_LOCK);
      a.reportDoubleFree(c, ptr);
      return true;
    }
    if (dbg) dbg.beforeFree(c, ptr);
    i32[(ptr + c.fp) >> 2] = prior;
    i32[m + P_FREELIST] = ptr;
    const inuse = --i32[m + P_INUSE];
    if (count) i32[c.rec + R_FREE_SLOW]++;
    let discard = false;
    if (inuse === 0 && i32[c.d + C_NR_PARTIAL] >= c.minPartial) {
      listDel(i32, a.metaW, c.d, pfn);
      discard = true;
    } else if (prior === 0) {
      // Was full: now partial (kernel adds to the tail).
      listDel(i32, a.metaW, c.d, pfn);
      listAdd(i32, a.metaW, c.d, false, pfn, true);
    }
    if (discard) this.discardLocked(c, pfn);
    unlock(i32, c.d + C_LOCK);
    return true;
  }

  /**
   * kfree_bulk for one slab (kernel: build_detached_freelist, then one do_slab_free of the
   * detached list): `n` objects of slab `pfn`, already chained head..tail through their
   * free pointers, go back in one step. It runs under the cache lock so that the caller's
   * commit word (a kfree_rcu block's record count) changes in the same critical section
   * as the objects change hands: a drainer that dies outside it leaves an exact count.
   * `countW` (the caller's kfree_rcu freed-objects counter) grows by n in the same step.
   * Returns false (nothing done) if the slab's counts say this would free more objects
   * than are in use (a double kfreeRcu): the caller frees them one by one, with reports.
   */
  freeGroup(c: Cache, pfn: number, head: number, tail: number, n: number, commitW: number, commitV: number, countW: number): boolean {
    const a = this.a;
    const i32 = a.i32;
    const m = a.pm(pfn);
    const rw = m + P_RFREE;
    const tailW = (tail + c.fp) >> 2;
    lock(i32, c.d + C_LOCK);
    let h = Atomics.load(i32, rw);
    if ((h & FROZEN) !== 0) {
      // Someone's cpu slab: one lock-free push of the whole chain. The slab cannot be
      // unfrozen meanwhile: that needs the lock we hold. The commit goes first: a thread
      // stopped between the two leaks this run rather than freeing it twice.
      i32[commitW] = commitV;
      i32[countW] += n;
      for (;;) {
        i32[tailW] = h & ~FROZEN;
        const got = Atomics.compareExchange(i32, rw, h, head | FROZEN);
        if (got === h) break;
        h = got;
      }
      i32[c.rec + R_FREE_REMOTE] += n;
      unlock(i32, c.d + C_LOCK);
      return true;
    }
    const inuse = i32[m + P_INUSE]! - n;
    if (inuse < 0) {
      unlock(i32, c.d + C_LOCK);
      return false;
    }
    i32[commitW] = commitV;
    i32[countW] += n;
    const prior = i32[m + P_FREELIST]!;
    i32[tailW] = prior;
    i32[m + P_FREELIST] = head;
    i32[m + P_INUSE] = inuse;
    i32[c.rec + R_FREE_SLOW] += n;
    if (inuse === 0 && i32[c.d + C_NR_PARTIAL]! >= c.minPartial) {
      listDel(i32, a.metaW, c.d, pfn);
      this.discardLocked(c, pfn);
    } else if (prior === 0) {
      listDel(i32, a.metaW, c.d, pfn);
      listAdd(i32, a.metaW, c.d, false, pfn, true);
    }
    unlock(i32, c.d + C_LOCK);
    return true;
  }

  // ------------------------------------------------------------- deactivate

  /**
   * deactivate_slab (under C_LOCK): unfreeze a cpu slab, merging the owner's cpu
   * freelist and the remote list into the slab freelist, then put the slab where it
   * belongs. Returns true if the slab was discarded.
   */
  deactivateLocked(c: Cache, pfn: number, cpuFreelist: number): boolean {
    const a = this.a;
    const i32 = a.i32;
    const m = a.pm(pfn);
    const remote = Atomics.exchange(i32, m + P_RFREE, 0) & ~FROZEN;
    // Splice cpu freelist + remote list + (empty) slab freelist; count the free objects.
    let head = 0;
    let tail = 0;
    let nfree = 0;
    for (const list of [cpuFreelist, remote, i32[m + P_FREELIST]]) {
      if (list === 0) continue;
      if (tail === 0) head = list;
      else i32[(tail + c.fp) >> 2] = list;
      let o = list;
      for (;;) {
        nfree++;
        const nx = i32[(o + c.fp) >> 2];
        if (nx === 0 || nfree > c.objects) break;
        o = nx;
      }
      tail = o;
    }
    if (nfree > c.objects) {
      // A corrupted chain (user overwrote a free pointer of a free object): isolate the
      // slab rather than hand out garbage (kernel: "Freechain corrupt", slab kept full).
      i32[m + P_FREELIST] = 0;
      i32[m + P_INUSE] = c.objects;
      i32[m + P_OWNER] = 0;
      listAdd(i32, a.metaW, c.d, true, pfn, false);
      a.warn('slab-error', c.name, `Freechain corrupt`, `slab 0x${(pfn << PAGE_SHIFT).toString(16)} isolated: free list longer than the slab`);
      return false;
    }
    i32[m + P_FREELIST] = head;
    i32[m + P_INUSE] = c.objects - nfree;
    i32[m + P_OWNER] = 0;
    if (nfree === c.objects && i32[c.d + C_NR_PARTIAL] >= c.minPartial) {
      this.discardLocked(c, pfn);
      return true;
    }
    if (nfree > 0) listAdd(i32, a.metaW, c.d, false, pfn, remote !== 0);
    else listAdd(i32, a.metaW, c.d, true, pfn, false);
    return false;
  }

  // ----------------------------------------------------------------- sheaves

  /** Head pfn of the slab holding `ptr` (an object already validated as this cache's). */
  private headPfn(ptr: number): number {
    const i32 = this.a.i32;
    const pfn = ptr >>> PAGE_SHIFT;
    const m = this.a.pm(pfn);
    return (i32[m + P_FLAGS]! & 15) === PK_TAIL ? i32[m + P_CACHE]! : pfn;
  }

  /**
   * The slow half of free_to_pcs, for a validated object of a sheaf cache: no sheaf yet
   * (allocate one: kernel alloc_empty_sheaf, here a kmalloc'd array of u32), or the sheaf
   * is full (flush its older half to the slabs: kernel sheaf_flush_main, in one batch
   * instead of PCS_BATCH_MAX; there is no spare sheaf and no barn), then push. Returns
   * false if the object must go to the slabs instead (the cache is being destroyed, the
   * handle was, or no memory for a sheaf).
   */
  freeToSheafSlow(c: Cache, pfn: number, ptr: number): boolean {
    const a = this.a;
    const i32 = a.i32;
    const r = c.rec;
    if (!c.allocOk()) return false; // destroy flushes sheaves; do not refill one
    if (!this.ensureSheaf(c)) return false;
    const sh = i32[r + R_SHEAF]!;
    const base = sh >> 2;
    let n = i32[r + R_SHEAF_TOP]! - base;
    // The fast path checks only the top; here the whole sheaf is cheap enough to scan.
    if (ptr === i32[r + R_FREELIST]) {
      a.reportDoubleFree(c, ptr);
      return true;
    }
    for (let k = 0; k < n; k++) {
      if (i32[base + k] === ptr) {
        a.reportDoubleFree(c, ptr);
        return true;
      }
    }
    if (n >= c.sheafCap) {
      this.drainSheaf(c, r, Math.max(1, n >> 1));
      n = i32[r + R_SHEAF_TOP]! - base;
    }
    i32[base + n] = ptr;
    i32[r + R_SHEAF_TOP] = base + n + 1;
    i32[r + R_FREE_SLOW]++;
    void pfn;
    return true;
  }

  /**
   * Give the `count` oldest objects (the bottom) of record `rec`'s sheaf back to their
   * slabs (kernel: sheaf_flush_unused / __kmem_cache_free_bulk). They were counted as freed
   * when they entered the sheaf, so nothing is counted again. An object of the record's
   * own cpu slab goes onto its cpu freelist (the record is ours or a dead thread's: no
   * one else touches it); the others take __slab_free (freeSlow).
   */
  private drainSheaf(c: Cache, rec: number, count: number): void {
    const i32 = this.a.i32;
    const base = i32[rec + R_SHEAF]! >> 2;
    const n = i32[rec + R_SHEAF_TOP]! - base;
    const k = Math.min(count, n);
    // Take them out of the sheaf first: a report raised below must not find them there.
    const objs = i32.slice(base, base + k);
    i32.copyWithin(base, base + k, base + n);
    i32[rec + R_SHEAF_TOP] = base + n - k;
    for (let j = 0; j < k; j++) this.freeUncounted(c, rec, objs[j]!);
  }

  /** Empty record `rec`'s sheaf into the slabs and free the sheaf itself (kernel: pcs_flush_all). */
  private dropSheaf(c: Cache, rec: number): void {
    const i32 = this.a.i32;
    const sh = i32[rec + R_SHEAF]!;
    if (sh === 0) return;
    this.drainSheaf(c, rec, i32[rec + R_SHEAF_TOP]! - (sh >> 2));
    i32[rec + R_SHEAF] = 0;
    i32[rec + R_SHEAF_TOP] = 0;
    i32[rec + R_SHEAF_LIM] = 0;
    this.a.kfree(sh);
  }

  /** True while record `rec` holds anything a flush must give back: a cpu slab, a sheaf, ready kfree_rcu sheaves. */
  recordHolds(rec: number): boolean {
    const i32 = this.a.i32;
    return i32[rec + R_SLAB] !== 0 || i32[rec + R_SHEAF] !== 0 || i32[rec + R_RCU_READY] !== 0;
  }

  // kfree edit: helpers for the kfree_rcu sheaves (src/kfree/index.ts).

  /**
   * Make sure record c.rec has a main sheaf (as freeToSheafSlow allocates it). False if
   * none can be had or the cache stopped accepting allocations meanwhile.
   */
  ensureSheaf(c: Cache): boolean {
    const a = this.a;
    const i32 = a.i32;
    const r = c.rec;
    if (i32[r + R_SHEAF] !== 0) return true;
    const p = a.kmalloc(c.sheafCap * 4);
    if (p === 0) return false;
    // kmalloc may have served requests (a flush of this very record): look again.
    if (!c.allocOk() || i32[r + R_SHEAF] !== 0) {
      a.kfree(p);
      return c.allocOk() && i32[r + R_SHEAF] !== 0;
    }
    i32[r + R_SHEAF] = p;
    i32[r + R_SHEAF_TOP] = p >> 2;
    i32[r + R_SHEAF_LIM] = (p >> 2) + c.sheafCap;
    return true;
  }

  /**
   * Give back one object already counted as freed (from a sheaf-like cache of record
   * `rec`, ours or a dead thread's) to its slab: onto the record's cpu freelist if it is
   * the record's cpu slab, else __slab_free without counting (as drainSheaf does).
   */
  freeUncounted(c: Cache, rec: number, obj: number): void {
    const i32 = this.a.i32;
    const pfn = this.headPfn(obj);
    if (pfn === i32[rec + R_SLAB]) {
      i32[(obj + c.fp) >> 2] = i32[rec + R_FREELIST]!;
      i32[rec + R_FREELIST] = obj;
    } else {
      this.freeSlow(c, pfn, obj, false);
    }
  }

  /** Flush this thread's cpu slab and sheaf of cache `c` (kernel: flush_cpu_slab). */
  flushCpu(c: Cache): void {
    this.flushRecord(c, c.rec);
  }

  /**
   * Flush the sheaf and the cpu slab held in cpu record `rec` (this thread's own, or a
   * dead thread's): kernel flush_cpu_slab, which does pcs_flush_all then flush_slab. The
   * sheaf goes first so objects of the cpu slab land on its freelist before deactivation.
   */
  flushRecord(c: Cache, rec: number): void {
    if (this.a.i32[rec + R_RCU_READY] !== 0) this.a.kfreeRcuImpl.dropReady(c, rec); // kfree edit
    if (this.a.i32[rec + R_SHEAF] !== 0) this.dropSheaf(c, rec);
    this.deactivateRecord(c, rec);
  }

  /** Deactivate the cpu slab of record `rec`, leaving its sheaf alone (kernel: flush_slab). */
  private deactivateRecord(c: Cache, rec: number): void {
    const i32 = this.a.i32;
    const pfn = i32[rec + R_SLAB];
    if (pfn === 0) return;
    const fl = i32[rec + R_FREELIST];
    i32[rec + R_SLAB] = 0;
    i32[rec + R_FREELIST] = 0;
    lock(i32, c.d + C_LOCK);
    this.deactivateLocked(c, pfn, fl);
    unlock(i32, c.d + C_LOCK);
    Atomics.store(i32, rec + R_FLUSH, 0);
  }

  // ---------------------------------------------------------------- discard

  /**
   * discard_slab (under C_LOCK): the pages go back to the buddy allocator, or, for
   * SLAB_TYPESAFE_BY_RCU, onto the cache's deferred list until a grace period has passed
   * (kernel: call_rcu(&slab->rcu_head, rcu_free_slab)).
   */
  discardLocked(c: Cache, pfn: number): void {
    const a = this.a;
    const i32 = a.i32;
    const m = a.pm(pfn);
    i32[c.d + C_NR_SLABS]--;
    i32[c.d + C_FREE_SLAB]++;
    i32[m + P_OWNER] = 0;
    i32[m + P_FREELIST] = 0;
    if (c.typesafeByRcu) {
      i32[m + P_INUSE] = a.rcu.startPoll();
      i32[m + P_NEXT] = i32[c.d + C_RCU_PENDING];
      i32[c.d + C_RCU_PENDING] = pfn;
      Atomics.store(i32, m + P_FLAGS, PK_RCU_FREE | (c.order << 4));
      return;
    }
    i32[m + P_FLAGS] = 0;
    a.pages.free(pfn, c.order);
  }

  /**
   * Return TYPESAFE_BY_RCU slabs whose grace period has completed (all of them after a
   * synchronize when `wait`). Returns the number of slabs freed.
   */
  reapRcuSlabs(c: Cache, wait: boolean): number {
    const a = this.a;
    const i32 = a.i32;
    if (!c.typesafeByRcu || i32[c.d + C_RCU_PENDING] === 0) return 0;
    if (wait) a.rcu.synchronize();
    lock(i32, c.d + C_LOCK);
    let freed = 0;
    let prevW = c.d + C_RCU_PENDING;
    for (let p = i32[prevW]; p !== 0; ) {
      const m = a.pm(p);
      const next = i32[m + P_NEXT];
      if (wait || a.rcu.pollState(i32[m + P_INUSE])) {
        i32[prevW] = next;
        i32[m + P_NEXT] = 0;
        i32[m + P_INUSE] = 0;
        i32[m + P_FLAGS] = 0;
        a.pages.free(p, c.order);
        freed++;
      } else {
        prevW = m + P_NEXT;
      }
      p = next;
    }
    unlock(i32, c.d + C_LOCK);
    return freed;
  }

  // ----------------------------------------------------------------- shrink

  /** kmem_cache_shrink: flush our cpu slab, free every empty slab. Returns slabs freed. */
  shrink(c: Cache): number {
    this.flushCpu(c);
    return this.discardEmpty(c) + this.reapRcuSlabs(c, false);
  }

  /** Free every empty partial slab (under its own C_LOCK). */
  discardEmpty(c: Cache): number {
    const a = this.a;
    const i32 = a.i32;
    lock(i32, c.d + C_LOCK);
    let n = 0;
    for (let p = i32[c.d + C_PARTIAL_HEAD]; p !== 0; ) {
      const m = a.pm(p);
      const next = i32[m + P_NEXT];
      if (i32[m + P_INUSE] === 0) {
        listDel(i32, a.metaW, c.d, p);
        this.discardLocked(c, p);
        n++;
      }
      p = next;
    }
    unlock(i32, c.d + C_LOCK);
    return n;
  }

  /** True while `pfn` is a live slab of cache c (used by validation of pointers). */
  isSlabOf(c: Cache, pfn: number): boolean {
    const i32 = this.a.i32;
    const m = this.a.pm(pfn);
    return (i32[m + P_FLAGS] & 15) === PK_SLAB && i32[m + P_CACHE] === c.idx;
  }

  /** Descriptor released? (handles compare generations) */
  isReleased(c: Cache): boolean {
    const i32 = this.a.i32;
    return i32[c.d + C_GEN] !== c.gen || i32[c.d + C_STATE] === CS_FREE;
  }
}

