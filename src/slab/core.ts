/**
 * SLUB as Linux 7.0 builds it: percpu sheaves in front of every cache, a barn of whole
 * sheaves shared by the threads, slabs refilled from and flushed to in bulk under the
 * cache's list_lock (kernel: mm/slub.c alloc_from_pcs, __pcs_replace_empty_main,
 * free_to_pcs, __pcs_replace_full_main, refill_sheaf, sheaf_flush_main,
 * __kmem_cache_free_bulk, ___slab_alloc, __slab_free, new_slab, discard_slab,
 * pcs_flush_all, __kmem_cache_shutdown, kmem_cache_shrink). The fast paths (a pop from
 * and a push onto the thread's main sheaf) live in cache.ts; sheaf storage and the barn
 * in sheaf.ts and barn.ts; the object-state bytes in objstate.ts; lock-breaker repair in
 * repair.ts.
 *
 * There is no cpu slab, no cpu partial list and no lockless slab freelist: every change to
 * a slab (its freelist P_FREELIST, P_INUSE, list membership, the kind word of a slab page)
 * is made under the cache's C_LOCK. A slab is on the partial list (some objects free) or
 * the full list (none free); an empty slab stays partial while the cache has fewer than
 * min_partial partial slabs, else it goes back to the page allocator (or, for
 * SLAB_TYPESAFE_BY_RCU, onto C_RCU_PENDING until a grace period has passed).
 *
 * Locking order (the global table is in src/layout.ts's header):
 *   H_SLAB_MUTEX (slab_mutex: cache and name tables)
 *     -> C_BARN_LOCK (barn of one cache: C_NR_FULL, C_NR_EMPTY, the sheaf arrays)
 *     -> C_LOCK (list_lock of one cache: slab lists, P_INUSE/P_FREELIST, slab kinds,
 *        C_NR_SLABS, C_NR_PARTIAL, C_ALLOC_SLAB, C_FREE_SLAB, C_RCU_PENDING, and the
 *        FREE <-> CACHED/ALLOC object-state transitions)
 *       -> H_BUDDY_LOCK (zone lock, heap/buddy.ts)
 * The barn lock and C_LOCK are never held together here. A sheaf's storage is a kmalloc
 * object taken and given back through the kmalloc cache's locked path (never its sheaves),
 * outside any other cache lock.
 *
 * Shared words: a thread's cpu record (R_SHEAF, R_SHEAF_TOP, R_SHEAF_LIM, R_SPARE, the
 * counters) is written only by its owner with plain stores, and read by others only for
 * stats (racily) or after the owner is dead (its detacher). Sheaf contents are owned by
 * whoever holds the sheaf (a record, the barn under its lock, a local variable in
 * between). Slab words are under C_LOCK, whose seq-cst acquire/release orders them.
 *
 * Thread death (terminate() can stop a thread at any statement): every hand-over is
 * ordered so that a death in between *loses* a sheaf or an object, never duplicates it:
 * a sheaf leaves the record before it enters the barn (and the other way), an object's
 * state is changed before it is pushed and after it is popped. A record whose main sheaf
 * words are torn (R_SHEAF_TOP written last: 0 means "no main sheaf") is read by the
 * detacher as having none. A death while holding C_LOCK leaves a slab list half-updated:
 * whoever breaks that lock rebuilds every list, freelist and count of the cache from the
 * slab pages and the object-state bytes (repair.ts) before anyone else takes it.
 */
import type { SlabHost } from './host.js';
import { pageFlags, Hot } from '../layout.js';
import { lock, unlock } from '../sync/mutex.js';
import type { Cache } from './cache.js';
import { listAdd, listDel } from './lists.js';
import { initSlabStates } from './objstate.js';
import { Barn } from './barn.js';
import { Sheaves } from './sheaf.js';
import { stalledWaitMs } from '../rcu/stall.js';

/** Objects flushed per list_lock hold when a full main sheaf is trimmed (kernel: PCS_BATCH_MAX). */
const PCS_BATCH_MAX = 32;

export class SlabCore {
  readonly sheaves: Sheaves;
  readonly barn: Barn;
  /** Scratch for the objects of one refill (at most a sheaf: MAX_SHEAF_CAPACITY). */
  private readonly refillScratch = new Int32Array(256);
  /** Scratch for the objects of one flush (never nested: a flush takes no sheaf). */
  private readonly flushScratch = new Int32Array(256);
  /** Scratch for the state addresses of one drainRunToBarn run (at most a sheaf; the flush it may do uses flushScratch). */
  private readonly drainScratch = new Int32Array(256);

  constructor(private readonly a: SlabHost) {
    this.sheaves = new Sheaves(a);
    this.barn = new Barn(a.i32);
  }

  // ------------------------------------------------------------------ alloc

  /**
   * The thread's main sheaf is empty (or it has none, or the cache is not live): kernel
   * __pcs_replace_empty_main, then ___slab_alloc for caches without sheaves.
   */
  allocSlow(c: Cache): number {
    const a = this.a;
    const i32 = a.i32;
    c.checkAlloc();
    a.serviceRequests();
    if (c.sheafCap === 0) return this.allocLocked(c);
    const r = c.rec;
    // kfree edit: objects back from this thread's kfree_rcu sheaves come first (kernel:
    // an rcu_free sheaf goes to the barn after its GP and alloc_from_pcs takes it).
    if (i32[r + Hot.R_RCU_READY] !== 0) {
      const o = a.kfreeRcuImpl.allocFromReady(c);
      if (o !== 0) {
        c.setState(o, Hot.OS_ALLOC);
        return o;
      }
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.replaceEmptyMain(c)) {
        const top = i32[r + Hot.R_SHEAF_TOP]! - 1;
        const o = i32[top]!;
        i32[r + Hot.R_SHEAF_TOP] = top;
        c.setState(o, Hot.OS_ALLOC);
        i32[r + Hot.R_ALLOC_SLOW]++;
        return o;
      }
      if (i32[r + Hot.R_SHEAF_TOP] === 0) {
        // No sheaf could be had at all: one object straight from a slab.
        const o = this.allocLocked(c);
        if (o !== 0) return o;
      }
      // Memory pressure: reclaim, then one more attempt whatever reclaim() says. It
      // reports what *this* thread freed; a drain in another thread may have freed the
      // very objects it waited for (reclaim's waiting drain then finds nothing left), and
      // they are in the slabs or the barn now (a CI failure: alloc returned 0 with 20
      // free objects on a partial slab).
      if (attempt === 0) a.reclaim();
    }
    return 0;
  }

  /**
   * Make the main sheaf non-empty: a non-empty spare is swapped in, else a full barn
   * sheaf is traded for the empty main, else the main sheaf is refilled from slabs in
   * bulk. False when no object could be had (or no sheaf storage: then R_SHEAF_TOP = 0).
   */
  private replaceEmptyMain(c: Cache): boolean {
    const i32 = this.a.i32;
    const sh = this.sheaves;
    const r = c.rec;
    // Objects may have come into the main sheaf since the fast path looked: a memory-
    // pressure reclaim between two attempts drains kfree_rcu batches into this very sheaf
    // (formal/sheaves.pml CODE_RECLAIM_MAIN, FINDINGS 8: alloc() returned 0 with a free
    // object in its own sheaf, or stashed that sheaf as empty and lost the object).
    if (i32[r + Hot.R_SHEAF_TOP]! > i32[r + Hot.R_SHEAF]! >> 2) return true;
    const spare = i32[r + Hot.R_SPARE]!;
    if (spare !== 0 && i32[(spare >> 2) + Hot.SH_COUNT]! > 0) {
      sh.swapMainSpare(c);
      return true;
    }
    const full = this.barn.takeFull(c);
    if (full !== 0) {
      const old = sh.detachMain(c);
      sh.attachMain(c, full);
      if (old !== 0) this.stashEmpty(c, old);
      return true;
    }
    if (i32[r + Hot.R_SHEAF_TOP] === 0) {
      // No main sheaf: the empty spare, an empty barn sheaf, or a new one.
      let s = 0;
      if (spare !== 0) {
        i32[r + Hot.R_SPARE] = 0;
        s = spare;
      } else {
        s = this.barn.takeEmpty(c) || sh.alloc(c);
      }
      if (s === 0) return false;
      sh.attachMain(c, s);
    }
    return this.refillMain(c) > 0;
  }

  /**
   * refill_sheaf: fill the main sheaf from partial slabs, then new slabs, under C_LOCK
   * (one hold per slab list walk, not per object). Each object is marked CACHED, then
   * stored, then R_SHEAF_TOP moves past it. Returns the objects added.
   */
  private refillMain(c: Cache): number {
    const a = this.a;
    const i32 = a.i32;
    const u8 = a.u8;
    const r = c.rec;
    const top = i32[r + Hot.R_SHEAF_TOP]!;
    const want = i32[r + Hot.R_SHEAF_LIM]! - top;
    const take = this.refillScratch;
    const flat = c.flatStates;
    let n = 0;
    for (let attempt = 0; attempt < 3 && n < want; attempt++) {
      if (attempt > 0 && this.growCache(c) === 0) break;
      lock(i32, c.d + Hot.C_LOCK);
      for (let p = i32[c.d + Hot.C_PARTIAL_HEAD]!; p !== 0 && n < want; ) {
        const m = a.metaW + p * Hot.PAGE_META_WORDS; // layout.ts pageMeta, inline
        const next = i32[m + Hot.P_NEXT]!;
        let o = i32[m + Hot.P_FREELIST]!;
        let inuse = i32[m + Hot.P_INUSE]!;
        if (o !== 0 && flat && c.objects - inuse <= want - n) {
          // The whole freelist fits: taken by its state bytes (Cache.takeAllFree).
          const n0 = n;
          n = c.takeAllFree(p, take, n);
          inuse += n - n0;
          o = 0;
        }
        while (o !== 0 && n < want) {
          const nx = i32[(o + c.fp) >> 2]!;
          u8[c.stateAddrIn(p, o)] = Hot.OS_CACHED;
          take[n++] = o;
          o = nx;
          inuse++;
        }
        i32[m + Hot.P_FREELIST] = o;
        i32[m + Hot.P_INUSE] = inuse;
        if (o === 0) {
          listDel(i32, a.metaW, c.d, p);
          listAdd(i32, a.metaW, c.d, true, p, false);
        }
        p = next;
      }
      unlock(i32, c.d + Hot.C_LOCK);
    }
    // Stored newest-last so the pops hand them out in the order taken (freelist, then new
    // slabs: address order); the top moves once, after every slot is written: a thread
    // stopped before that loses these objects (CACHED, in no sheaf; a destroy reclaims
    // them), it never hands one out twice.
    for (let j = 0; j < n; j++) i32[top + n - 1 - j] = take[j]!;
    i32[r + Hot.R_SHEAF_TOP] = top + n;
    if (n > 0) this.barn.stat(c, Hot.ST_SHEAF_REFILL, n);
    return n;
  }

  /** An empty sheaf that left a record: to the barn's empty list, else its storage is freed. */
  private stashEmpty(c: Cache, s: number): void {
    if (!this.barn.putEmpty(c, s)) this.sheaves.free(c, s);
  }

  /**
   * Caches without sheaves (debug caches, quarantined frees), and the fallback when no
   * sheaf storage can be had (kernel: alloc_single_from_partial / ___slab_alloc): one
   * object under the list lock, checked where the cache has debug.
   */
  allocLocked(c: Cache, mayReclaim = true, count = true): number {
    const a = this.a;
    const i32 = a.i32;
    for (let attempt = 0; attempt < 3; attempt++) {
      lock(i32, c.d + Hot.C_LOCK);
      const p = i32[c.d + Hot.C_PARTIAL_HEAD];
      if (p !== 0) {
        const m = a.pm(p);
        const obj = i32[m + Hot.P_FREELIST]!;
        const dbg = c.debug ? a.debugHooks : undefined;
        if (dbg && !dbg.allocCheck(c, p, obj)) {
          // The slab is unusable ("Marking all objects used"): it goes to the full list.
          i32[m + Hot.P_FREELIST] = 0;
          i32[m + Hot.P_INUSE] = c.objects;
          listDel(i32, a.metaW, c.d, p);
          listAdd(i32, a.metaW, c.d, true, p, false);
          unlock(i32, c.d + Hot.C_LOCK);
          continue;
        }
        c.setState(obj, Hot.OS_ALLOC);
        i32[m + Hot.P_FREELIST] = i32[(obj + c.fp) >> 2]!;
        i32[m + Hot.P_INUSE]++;
        if (i32[m + Hot.P_FREELIST] === 0) {
          listDel(i32, a.metaW, c.d, p);
          listAdd(i32, a.metaW, c.d, true, p, false);
        }
        if (count) i32[c.rec + Hot.R_ALLOC_SLOW]++;
        if (dbg) dbg.afterAlloc(c, obj);
        unlock(i32, c.d + Hot.C_LOCK);
        return obj;
      }
      unlock(i32, c.d + Hot.C_LOCK);
      if (this.growCache(c) === 0) {
        if (attempt === 0 && mayReclaim) {
          a.reclaim(); // retried whatever it says: see allocSlow
          continue;
        }
        return 0;
      }
    }
    return 0;
  }

  /**
   * new_slab, published on the partial list: its pages are built outside the lock (kind
   * PK_PAGES: allocated, not yet a slab), then made a slab, counted and listed in one
   * C_LOCK section, so neither validate nor a lock breaker's rebuild ever sees a slab that
   * is not on a list. Returns its pfn, or 0 when no memory can be had.
   */
  private growCache(c: Cache): number {
    const a = this.a;
    const i32 = a.i32;
    const np = this.newSlab(c);
    if (np === 0) return 0;
    lock(i32, c.d + Hot.C_LOCK);
    i32[c.d + Hot.C_NR_SLABS]++;
    i32[c.d + Hot.C_ALLOC_SLAB]++;
    Atomics.store(i32, a.pm(np) + Hot.P_FLAGS, pageFlags(Hot.PK_SLAB, c.order));
    listAdd(i32, a.metaW, c.d, false, np, false);
    unlock(i32, c.d + Hot.C_LOCK);
    return np;
  }

  /** new_slab: pages from the buddy allocator, objects constructed, states FREE, freelist linked. */
  private newSlab(c: Cache): number {
    const a = this.a;
    const i32 = a.i32;
    if (c.hasCtor && !c.ctor) {
      throw new Error(
        `slabrcu: cache '${c.name}' has a constructor, but none is registered in this thread (thread ${a.slot}); ` +
          `pass it with arena.findCache('${c.name}', { ctor }) before allocating here`,
      );
    }
    this.reapRcuSlabs(c);
    const pfn = a.pages.alloc(c.order);
    if (pfn === 0) return 0;
    const m = a.pm(pfn);
    i32[m + Hot.P_FLAGS] = pageFlags(Hot.PK_PAGES, c.order);
    i32[m + Hot.P_CACHE] = c.idx;
    i32[m + Hot.P_INUSE] = 0;
    i32[m + Hot.P_NEXT] = 0;
    a.pages.markTails(pfn, c.order);
    const base = pfn << Hot.PAGE_SHIFT;
    const dbg = c.debug ? a.debugHooks : undefined;
    if (dbg) dbg.setupSlab(c, pfn);
    initSlabStates(a.u8, c.stGeo, pfn, c.objects, Hot.OS_FREE);
    const n = c.objects;
    const stride = c.size;
    const first = base + c.redLeftPad;
    for (let k = 0; k < n; k++) {
      const obj = first + k * stride;
      if (dbg) dbg.setupObject(c, obj);
      if (c.ctor) c.ctor(obj, a as never); // the host is the Arena the public Ctor names (SlabCtor)
      i32[(obj + c.fp) >> 2] = k + 1 < n ? obj + stride : 0;
    }
    i32[m + Hot.P_FREELIST] = first;
    return pfn;
  }

  // ------------------------------------------------------------------- free

  /**
   * The slow half of free_to_pcs for a validated object of a sheaf cache (its state is
   * ALLOC, checked by the caller): no main sheaf, or it is full (kernel:
   * __pcs_replace_full_main). Then the push, with the state CACHED first. Falls back to
   * the slab (freeToSlab) when the cache is being destroyed or no sheaf can be had.
   */
  freeToSheafSlow(c: Cache, ptr: number): void {
    const i32 = this.a.i32;
    const r = c.rec;
    if (!c.allocOk() || !this.replaceFullMain(c)) {
      this.freeToSlab(c, ptr, Hot.OS_ALLOC, true);
      return;
    }
    const top = i32[r + Hot.R_SHEAF_TOP]!;
    c.setState(ptr, Hot.OS_CACHED);
    i32[top] = ptr;
    i32[r + Hot.R_SHEAF_TOP] = top + 1;
    i32[r + Hot.R_FREE_SLOW]++;
  }

  /**
   * Make room in the main sheaf (kernel __pcs_replace_full_main): no main sheaf -> an
   * empty one (barn or new); main full and no spare -> main becomes the spare, an empty
   * sheaf the main; a spare with room -> swapped in; both full -> the main goes to the
   * barn's full list for another thread's allocations (BARN_PUT) and an empty one takes
   * its place, or, when the barn has MAX_FULL_SHEAVES, the spare is flushed to its slabs
   * (BARN_PUT_FAIL) and swapped in. Last resort: flush part of the main. False if no
   * room could be made (the caller frees to the slab).
   */
  private replaceFullMain(c: Cache): boolean {
    const i32 = this.a.i32;
    const sh = this.sheaves;
    const b = this.barn;
    const r = c.rec;
    if (i32[r + Hot.R_SHEAF_TOP] === 0) {
      const s = b.takeEmpty(c) || sh.alloc(c);
      if (s === 0) return false;
      sh.attachMain(c, s);
      return true;
    }
    if (i32[r + Hot.R_SHEAF_TOP]! < i32[r + Hot.R_SHEAF_LIM]!) return true; // room (served a request meanwhile)
    const spare = i32[r + Hot.R_SPARE]!;
    if (spare === 0) {
      const s = b.takeEmpty(c) || sh.alloc(c);
      if (s !== 0) {
        const old = sh.detachMain(c);
        i32[r + Hot.R_SPARE] = old;
        sh.attachMain(c, s);
        return true;
      }
    } else if (i32[(spare >> 2) + Hot.SH_COUNT]! < c.sheafCap) {
      sh.swapMainSpare(c);
      return true;
    } else if (!b.fullListFull(c)) {
      const s = b.takeEmpty(c) || sh.alloc(c);
      if (s !== 0) {
        const old = sh.detachMain(c);
        if (!b.putFull(c, old)) {
          this.flushSheaf(c, old);
          sh.attachMain(c, old);
          this.stashEmpty(c, s);
          return true;
        }
        sh.attachMain(c, s);
        return true;
      }
    } else {
      b.putFailed(c);
      i32[r + Hot.R_SPARE] = 0;
      this.flushSheaf(c, spare);
      i32[r + Hot.R_SPARE] = spare;
      sh.swapMainSpare(c);
      return true;
    }
    // No empty sheaf to be had: give the older part of the main back to the slabs.
    this.flushMain(c, r, Math.min(PCS_BATCH_MAX, c.sheafCap));
    return i32[r + Hot.R_SHEAF_TOP]! < i32[r + Hot.R_SHEAF_LIM]!;
  }

  /**
   * __slab_free for one object under C_LOCK: a cache without sheaves, a dying cache, or
   * a flush. `expect` is the state the object must be in (ALLOC for a user's free, CACHED
   * for a flush, RCU for a kfree_rcu drain, QUAR from the quarantine); anything else is a
   * double free (reported when `report`) and nothing changes. Returns true if freed.
   */
  freeToSlab(c: Cache, ptr: number, expect: number, report: boolean, count = true): boolean {
    const a = this.a;
    const i32 = a.i32;
    const pfn = c.headPfn(ptr);
    const m = a.pm(pfn);
    lock(i32, c.d + Hot.C_LOCK);
    const dbg = c.debug ? a.debugHooks : undefined;
    if (dbg && (expect === Hot.OS_ALLOC || expect === Hot.OS_QUAR) && !dbg.freeCheck(c, pfn, ptr)) {
      unlock(i32, c.d + Hot.C_LOCK);
      return false; // refused with a report: the object stays allocated, lists untouched
    }
    const sa = c.stateAddrOf(ptr);
    const st = a.u8[sa]!;
    if (st !== expect && !(expect === Hot.OS_ALLOC && st === Hot.OS_FREE && dbg)) {
      unlock(i32, c.d + Hot.C_LOCK);
      if (report) a.reporter.reportStateMisuse(c, ptr, 'free', st);
      return false;
    }
    if (dbg) dbg.beforeFree(c, ptr);
    a.u8[sa] = Hot.OS_FREE;
    const prior = i32[m + Hot.P_FREELIST]!;
    i32[(ptr + c.fp) >> 2] = prior;
    i32[m + Hot.P_FREELIST] = ptr;
    const inuse = --i32[m + Hot.P_INUSE];
    if (count) i32[c.rec + Hot.R_FREE_SLOW]++;
    this.placeAfterFree(c, pfn, prior, inuse);
    unlock(i32, c.d + Hot.C_LOCK);
    return true;
  }

  /**
   * Under C_LOCK, after objects went back to slab `pfn` (its freelist was `prior` before):
   * a full slab becomes partial; an empty one is discarded once the cache has min_partial
   * partial slabs (kernel: __slab_free's list handling).
   */
  private placeAfterFree(c: Cache, pfn: number, prior: number, inuse: number): void {
    const a = this.a;
    const i32 = a.i32;
    if (inuse === 0 && i32[c.d + Hot.C_NR_PARTIAL]! >= c.minPartial) {
      listDel(i32, a.metaW, c.d, pfn);
      this.discardLocked(c, pfn);
    } else if (prior === 0) {
      listDel(i32, a.metaW, c.d, pfn);
      listAdd(i32, a.metaW, c.d, false, pfn, true);
    }
  }

  /**
   * __kmem_cache_free_bulk of the objects in `objs` (a copy of sheaf slots), all
   * `expect` (CACHED for a sheaf): one C_LOCK hold for the lot; each slab's list position
   * changes once, when its first object comes back or its last. Objects whose state is
   * not `expect` are skipped (counted in the return value's complement). Returns the
   * number given back. `sas`, if given, holds each object's state address (computed by
   * the caller, which checked them already: drainRunToBarn).
   */
  private freeBulk(c: Cache, objs: Int32Array, from: number, n: number, expect: number, flushStat = true, sas?: Int32Array): number {
    const a = this.a;
    const i32 = a.i32;
    let done = 0;
    lock(i32, c.d + Hot.C_LOCK);
    const u8 = a.u8;
    const metaW = a.metaW;
    const multi = c.order !== 0;
    for (let j = 0; j < n; j++) {
      const obj = objs[from + j]!;
      // The head page (layout.ts headOfPage, inline) and the page metadata, once per object.
      let pfn = obj >>> Hot.PAGE_SHIFT;
      if (multi && (i32[metaW + pfn * Hot.PAGE_META_WORDS + Hot.P_FLAGS]! & Hot.PK_MASK) === Hot.PK_TAIL) pfn = i32[metaW + pfn * Hot.PAGE_META_WORDS + Hot.P_CACHE]!;
      const sa = sas !== undefined ? sas[j]! : c.stateAddrIn(pfn, obj);
      if (u8[sa] !== expect) continue;
      const m = metaW + pfn * Hot.PAGE_META_WORDS;
      u8[sa] = Hot.OS_FREE;
      const prior = i32[m + Hot.P_FREELIST]!;
      i32[(obj + c.fp) >> 2] = prior;
      i32[m + Hot.P_FREELIST] = obj;
      const inuse = --i32[m + Hot.P_INUSE];
      if (prior === 0 || inuse === 0) this.placeAfterFree(c, pfn, prior, inuse);
      done++;
    }
    unlock(i32, c.d + Hot.C_LOCK);
    if (done > 0 && flushStat) this.barn.stat(c, Hot.ST_SHEAF_FLUSH, done);
    return done;
  }

  /** sheaf_flush_unused: every object of detached sheaf `s` back to its slab; s is left empty. */
  flushSheaf(c: Cache, s: number): void {
    const i32 = this.a.i32;
    const h = s >> 2;
    const n = i32[h + Hot.SH_COUNT]!;
    i32[h + Hot.SH_COUNT] = 0;
    if (n <= 0) return;
    // Freed from the detached sheaf's own slots (it is in hand, SH_COUNT already 0): no copy.
    this.freeBulk(c, i32, h + (Hot.SH_HDR >> 2), Math.min(n, i32[h + Hot.SH_CAP]!), Hot.OS_CACHED);
  }

  /**
   * sheaf_flush_main: the `count` oldest objects of record `rec`'s main sheaf go back to
   * their slabs. They leave the sheaf first (copied out, the rest moved down, the top
   * lowered), so a death during the bulk free loses them rather than leaving them both
   * in the sheaf and on a slab.
   */
  private flushMain(c: Cache, rec: number, count: number): void {
    const i32 = this.a.i32;
    const base = i32[rec + Hot.R_SHEAF]! >> 2;
    const n = i32[rec + Hot.R_SHEAF_TOP]! - base;
    const k = Math.min(count, n);
    if (k <= 0) return;
    const objs = this.flushScratch;
    for (let j = 0; j < k; j++) objs[j] = i32[base + j]!;
    i32.copyWithin(base, base + k, base + n);
    i32[rec + Hot.R_SHEAF_TOP] = base + n - k;
    this.freeBulk(c, objs, 0, k, Hot.OS_CACHED);
  }

  /**
   * kfree_bulk for one slab's run of kfree_rcu'd objects (kernel: build_detached_freelist
   * + one do_slab_free): `n` objects of slab `pfn`, chained head..tail through their free
   * pointers, all in state RCU, go back in one C_LOCK section, together with the caller's
   * commit word (a kfree_rcu block's record count) and freed-objects counter, so a drainer
   * that dies outside it leaves an exact count. False (nothing done) if any of them is not
   * pending in kfree_rcu (a double kfreeRcu): the caller frees them one by one, with reports.
   */
  freeGroup(c: Cache, pfn: number, head: number, tail: number, n: number, commitW: number, commitV: number, countW: number): boolean {
    const a = this.a;
    const i32 = a.i32;
    const m = a.pm(pfn);
    lock(i32, c.d + Hot.C_LOCK);
    let o = head;
    for (let j = 0; j < n; j++) {
      if (c.stateOf(o) !== Hot.OS_RCU) {
        unlock(i32, c.d + Hot.C_LOCK);
        return false;
      }
      if (j + 1 < n) o = i32[(o + c.fp) >> 2]!;
    }
    const inuse = i32[m + Hot.P_INUSE]! - n;
    if (inuse < 0) {
      unlock(i32, c.d + Hot.C_LOCK);
      return false;
    }
    i32[commitW] = commitV;
    i32[countW] += n;
    o = head;
    for (let j = 0; j < n; j++) {
      c.setState(o, Hot.OS_FREE);
      if (j + 1 < n) o = i32[(o + c.fp) >> 2]!;
    }
    const prior = i32[m + Hot.P_FREELIST]!;
    i32[(tail + c.fp) >> 2] = prior;
    i32[m + Hot.P_FREELIST] = head;
    i32[m + Hot.P_INUSE] = inuse;
    i32[c.rec + Hot.R_FREE_SLOW] += n;
    this.placeAfterFree(c, pfn, prior, inuse);
    unlock(i32, c.d + Hot.C_LOCK);
    return true;
  }

  /**
   * kernel 7.0 rcu_free_sheaf, for a run of one block's kfree_rcu records: the `n`
   * objects at words recW..recW+n-1 (all of cache c, past their grace period) go into one
   * sheaf that goes to the barn's full list whole (BARN_PUT), where any thread's
   * allocation takes it with one barn lock; when the barn is seen to hold MAX_FULL_SHEAVES
   * already the run goes back to its slabs in one bulk free without a sheaf (BARN_PUT_FAIL;
   * a put that fails after all, the barn filled meanwhile, flushes the sheaf the same way
   * and stashes its storage). Every object must be in state RCU (checked first: anything else,
   * a double kfreeRcu, returns 0 with nothing done, for the caller's checked path). With
   * no sheaf storage to be had the run goes straight back to its slabs in one bulk free.
   *
   * Commit order (a drainer killed at any step loses objects, never frees one twice):
   * the objects are copied into the sheaf (not yet published), then the batch's commit
   * word (commitW = commitV: the records leave the batch) and both counters (countW, the
   * drained counter, and R_FREE_SLOW, side by side), then each state RCU -> CACHED, then
   * the sheaf is published in the barn. Killed before the barn put, the objects are in
   * state RCU or CACHED in no batch and no published sheaf: a destroy reclaims them
   * (slab/repair.ts reclaimOrphans); the caller's S_DRAIN_OBJ / S_DRAIN_N name them.
   */
  drainRunToBarn(c: Cache, recW: number, n: number, commitW: number, commitV: number, countW: number): number {
    const a = this.a;
    const i32 = a.i32;
    const u8 = a.u8;
    if (c.sheafCap === 0 || n <= 0 || n > c.sheafCap || !c.allocOk()) return 0;
    // Each object's state address once (the check here, the store below).
    const sa = this.drainScratch;
    if (!c.stateAddrsIf(i32, recW, n, sa, Hot.OS_RCU)) return 0;
    // The barn seen full (a racy read, as the kernel's): the sheaf's put would fail and it
    // would be flushed at once, so the run goes straight back to its slabs instead of
    // being copied into a sheaf, marked CACHED and copied out again (BARN_PUT_FAIL, as
    // rcu_free_sheaf counts it). Else a sheaf, or none to be had (an exhausted arena):
    // then the same bulk free. Every thread's refill finds these objects in the slabs
    // (the drainer's own sheaf would keep them from the others). Same commit order;
    // killed before the free, the objects are RCU in no batch (a destroy reclaims them).
    const barnFull = this.barn.fullListFull(c);
    if (barnFull) this.barn.putFailed(c);
    const sh = barnFull ? 0 : this.barn.takeEmpty(c) || this.sheaves.alloc(c);
    if (sh === 0) {
      i32[commitW] = commitV;
      i32[countW] += n;
      i32[c.rec + Hot.R_FREE_SLOW] += n;
      this.freeBulk(c, i32, recW, n, Hot.OS_RCU, false, sa);
      return n;
    }
    const slots = (sh + Hot.SH_HDR) >> 2;
    i32.copyWithin(slots, recW, recW + n);
    i32[(sh >> 2) + Hot.SH_COUNT] = n;
    i32[commitW] = commitV;
    i32[countW] += n;
    i32[c.rec + Hot.R_FREE_SLOW] += n;
    for (let j = 0; j < n; j++) u8[sa[j]!] = Hot.OS_CACHED;
    if (!this.barn.putFull(c, sh)) {
      this.flushSheaf(c, sh);
      this.stashEmpty(c, sh);
    }
    return n;
  }

  /**
   * The kfree_rcu drain's free of one object of a sheaf cache after its grace period
   * (kernel 7.0: kfree_bulk -> free_to_pcs_bulk): into this thread's main sheaf, as a
   * user's free would go, instead of straight to its slab (which emptied and discarded
   * slabs the next allocations rebuilt). The caller has already taken the object out of
   * its batch (the batch's commit word), so a drainer stopped here loses it in state RCU
   * or CACHED, in no batch, for a destroy to reclaim (slab/repair.ts); it is never freed
   * twice. False (nothing done) if the object is not pending in kfree_rcu, or the cache
   * takes no sheaf frees now: the caller frees it through the checked path.
   */
  freeRcuToSheaf(c: Cache, ptr: number): boolean {
    const a = this.a;
    const i32 = a.i32;
    const r = c.rec;
    if (c.sheafCap === 0 || !c.allocOk()) return false;
    const sa = c.stateAddrOf(ptr);
    if (a.u8[sa] !== Hot.OS_RCU) return false;
    if (i32[r + Hot.R_SHEAF_TOP]! === 0 || i32[r + Hot.R_SHEAF_TOP]! >= i32[r + Hot.R_SHEAF_LIM]!) {
      if (!this.replaceFullMain(c)) return false;
    }
    const top = i32[r + Hot.R_SHEAF_TOP]!;
    a.u8[sa] = Hot.OS_CACHED;
    i32[top] = ptr;
    i32[r + Hot.R_SHEAF_TOP] = top + 1;
    // (Not counted here: the caller counted this free, R_KFREE_D and R_FREE_SLOW side by
    // side, before calling, and takes the count back if this returns false.)
    return true;
  }

  // ----------------------------------------------------------------- sheaves

  /**
   * Give back one CACHED object (from a ready kfree_rcu sheaf of record `rec`, ours or a
   * dead thread's) to its slab, without counting it again (it was counted freed).
   */
  freeUncounted(c: Cache, _rec: number, obj: number): void {
    this.freeToSlab(c, obj, Hot.OS_CACHED, false, false);
  }

  /** True while record `rec` holds anything a flush must give back: sheaves, ready kfree_rcu sheaves. */
  recordHolds(rec: number): boolean {
    const i32 = this.a.i32;
    return i32[rec + Hot.R_SHEAF_TOP] !== 0 || i32[rec + Hot.R_SHEAF] !== 0 || i32[rec + Hot.R_SPARE] !== 0 || i32[rec + Hot.R_RCU_READY] !== 0;
  }

  /**
   * Make sure record c.rec has a main sheaf (kfree edit: the ready kfree_rcu sheaves
   * refill it). False if none can be had or the cache stopped accepting allocations.
   */
  ensureSheaf(c: Cache): boolean {
    const i32 = this.a.i32;
    const r = c.rec;
    if (i32[r + Hot.R_SHEAF_TOP] !== 0) return true;
    if (!c.allocOk() || c.sheafCap === 0) return false;
    const s = this.barn.takeEmpty(c) || this.sheaves.alloc(c);
    if (s === 0) return false;
    if (!c.allocOk() || i32[r + Hot.R_SHEAF_TOP] !== 0) {
      this.stashEmpty(c, s);
      return c.allocOk() && i32[r + Hot.R_SHEAF_TOP] !== 0;
    }
    this.sheaves.attachMain(c, s);
    return true;
  }

  /** Flush this thread's sheaves of cache `c` (kernel: pcs_flush_all). */
  flushCpu(c: Cache): void {
    this.flushRecord(c, c.rec);
  }

  /**
   * pcs_flush_all for record `rec` (this thread's own, or a dead thread's): ready
   * kfree_rcu sheaves, the spare and the main sheaf go back to the slabs and their
   * storage is freed. Each sheaf leaves the record before it is flushed.
   */
  flushRecord(c: Cache, rec: number): void {
    const a = this.a;
    const i32 = a.i32;
    if (i32[rec + Hot.R_RCU_READY] !== 0) a.kfreeRcuImpl.dropReady(c, rec); // kfree edit
    const spare = i32[rec + Hot.R_SPARE]!;
    if (spare !== 0) {
      i32[rec + Hot.R_SPARE] = 0;
      this.flushSheaf(c, spare);
      this.sheaves.free(c, spare);
    }
    const main = this.sheaves.detachRecordMain(c, rec);
    if (main !== 0) {
      this.flushSheaf(c, main);
      this.sheaves.free(c, main);
    }
    Atomics.store(i32, rec + Hot.R_FLUSH, 0);
  }

  /** barn_shrink: every sheaf of the cache's barn back to the slabs, storage freed. Returns objects flushed. */
  shrinkBarn(c: Cache): number {
    const i32 = this.a.i32;
    let n = 0;
    for (;;) {
      const s = this.barn.takeFull(c, false) || this.barn.takeEmpty(c);
      if (s === 0) break;
      n += i32[(s >> 2) + Hot.SH_COUNT]!;
      this.flushSheaf(c, s);
      this.sheaves.free(c, s);
    }
    return n;
  }

  // ---------------------------------------------------------------- discard

  /**
   * discard_slab (under C_LOCK, the slab already off its list): the pages go back to the
   * buddy allocator, or, for SLAB_TYPESAFE_BY_RCU, onto the cache's deferred list until a
   * grace period has passed (kernel: call_rcu(&slab->rcu_head, rcu_free_slab)).
   */
  discardLocked(c: Cache, pfn: number): void {
    const a = this.a;
    const i32 = a.i32;
    const m = a.pm(pfn);
    i32[c.d + Hot.C_NR_SLABS]--;
    i32[c.d + Hot.C_FREE_SLAB]++;
    i32[m + Hot.P_FREELIST] = 0;
    if (c.typesafeByRcu) {
      i32[m + Hot.P_INUSE] = a.rcu.startPoll();
      i32[m + Hot.P_NEXT] = i32[c.d + Hot.C_RCU_PENDING]!;
      i32[c.d + Hot.C_RCU_PENDING] = pfn;
      Atomics.store(i32, m + Hot.P_FLAGS, Hot.PK_RCU_FREE | (c.order << 4));
      return;
    }
    a.pages.free(pfn, c.order);
  }

  /**
   * Return TYPESAFE_BY_RCU slabs whose grace period has completed. Never waits (destroy
   * waits for the grace period asynchronously first). Returns the number of slabs freed.
   */
  reapRcuSlabs(c: Cache, wait = false): number {
    const a = this.a;
    const i32 = a.i32;
    if (!c.typesafeByRcu || i32[c.d + Hot.C_RCU_PENDING] === 0) return 0;
    // Bounded (a stalled reader fails the allocation that asked, after its stall warning,
    // instead of hanging it): then only the slabs whose grace period is over are freed.
    if (wait && a.rcu.synchronizeBounded(stalledWaitMs(a.options.rcuStallTimeoutMs)).length > 0) wait = false;
    lock(i32, c.d + Hot.C_LOCK);
    let freed = 0;
    let prevW = c.d + Hot.C_RCU_PENDING;
    for (let p = i32[prevW]!; p !== 0; ) {
      const m = a.pm(p);
      const next = i32[m + Hot.P_NEXT]!;
      if (wait || a.rcu.pollState(i32[m + Hot.P_INUSE]!)) {
        i32[prevW] = next;
        i32[m + Hot.P_NEXT] = 0;
        i32[m + Hot.P_INUSE] = 0;
        a.pages.free(p, c.order);
        freed++;
      } else {
        prevW = m + Hot.P_NEXT;
      }
      p = next;
    }
    unlock(i32, c.d + Hot.C_LOCK);
    return freed;
  }

  // ----------------------------------------------------------------- shrink

  /**
   * kmem_cache_shrink: flush our sheaves and the barn, free every empty slab. Returns the
   * slabs freed, counting those the flushes themselves discarded (C_FREE_SLAB before and
   * after; for SLAB_TYPESAFE_BY_RCU a discarded slab waits for its grace period).
   */
  shrink(c: Cache): number {
    const i32 = this.a.i32;
    const before = Atomics.load(i32, c.d + Hot.C_FREE_SLAB);
    this.flushCpu(c);
    this.shrinkBarn(c);
    this.discardEmpty(c);
    this.reapRcuSlabs(c);
    const freed = (Atomics.load(i32, c.d + Hot.C_FREE_SLAB) - before) | 0;
    // The sheaves' storage went back to a kmalloc cache: give its empty slabs back too, so
    // a shrink returns every page the cache's sheaves held.
    if (c.sheafCap !== 0) {
      const kc = this.a.kmallocs.cacheFor(Hot.SH_HDR + 4 * c.sheafCap);
      if (kc.idx !== c.idx) this.discardEmpty(kc);
    }
    return freed;
  }

  /** Free every empty partial slab (under its own C_LOCK). Returns slabs freed. */
  discardEmpty(c: Cache): number {
    const a = this.a;
    const i32 = a.i32;
    lock(i32, c.d + Hot.C_LOCK);
    let n = 0;
    for (let p = i32[c.d + Hot.C_PARTIAL_HEAD]!; p !== 0; ) {
      const m = a.pm(p);
      const next = i32[m + Hot.P_NEXT]!;
      if (i32[m + Hot.P_INUSE] === 0) {
        listDel(i32, a.metaW, c.d, p);
        this.discardLocked(c, p);
        n++;
      }
      p = next;
    }
    unlock(i32, c.d + Hot.C_LOCK);
    return n;
  }

  /** True while `pfn` is a live slab of cache c (used by validation of pointers). */
  isSlabOf(c: Cache, pfn: number): boolean {
    const i32 = this.a.i32;
    const m = this.a.pm(pfn);
    return (i32[m + Hot.P_FLAGS]! & Hot.PK_MASK) === Hot.PK_SLAB && i32[m + Hot.P_CACHE] === c.idx;
  }

  /** Descriptor released? (handles compare generations) */
  isReleased(c: Cache): boolean {
    const i32 = this.a.i32;
    return i32[c.d + Hot.C_GEN] !== c.gen || i32[c.d + Hot.C_STATE] === Hot.CS_FREE;
  }
}
