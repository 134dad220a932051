/**
 * kfree_rcu() / kvfree_rcu() batching (kernel: mm/slab_common.c kvfree_call_rcu,
 * kfree_rcu_monitor, kfree_rcu_work, kvfree_rcu_barrier, the kfree_rcu shrinker).
 *
 * Per thread, one open block page in shared memory collects pointers (4 bytes each; a
 * plain store of the record and the count: the block is owner-only while open) and the
 * GP snapshot, refreshed on every insert, so the block's cookie covers its newest
 * object. A block is closed when full (drained on the next event-loop turn) or
 * `kfreeRcuDrainMs` after its first object (KFREE_DRAIN_JIFFIES, 5 s). Closed blocks go
 * onto one shared list (G_LOCK); whichever thread gets there first frees a block whose
 * grace period has completed: the owner's timer, another thread's drain, a barrier
 * caller, the memory-pressure reclaim. Because blocks live in the arena, a dead thread's
 * open block is adopted by whoever detaches it, and nothing is lost.
 *
 * When no page can be had for a block (arena exhausted, no spare page), the object is
 * chained through its own memory onto a shared list with a GP cookie (kernel: the
 * rcu_head path, channel 3): the word used is the cache's free pointer word, or the
 * `rcuHeadOffset` the caller names (the 2-argument kfree_rcu). Never blocks, never loses.
 * That open chain's cookie is refreshed by every insert; a barrier first closes it
 * (closeChain: G_CHCL_*, cookie taken then), so inserts during its grace period cannot
 * starve the objects it waits for.
 *
 * Thread death (worker.terminate() stops JS between any two steps): a drainer publishes what
 * it took (S_DRAINING blocks, S_DRAIN_CHAIN chain, S_DRAIN_OBJ/N the object(s) in hand) and
 * holds G_DRAIN_LOCK; its detacher takes that lock over and finishes the drain before it
 * releases it (finishDrainOf), so a barrier waiting for the lock finds it done. Open blocks
 * and sheaves of a dead thread are queued by its detacher only (adoptSlot; queued, then
 * S_CUR cleared); a barrier waits for a non-live slot until TS_FREE (closedFor).
 *
 * The pump that drains runs on this thread's event loop only while this thread has an
 * open block or sees closed blocks; its timers are unref'd (never keep a process alive).
 */
import type { Arena } from '../arena.js';
import { unanswered } from '../hotplug/autowatch.js';
import type { Cache } from '../slab/cache.js';
import {
  C_FOLD_KD, C_FOLD_KQ, C_LOCK, PAGE_SIZE, C_KF_INV, C_KF_MASK, C_KF_PAD, C_KF_SIZE, C_KF_SPAN, C_SHEAF_CAP, CACHE_BYTES, R_ALLOC_SLOW, CPU_REC_BYTES, PK_PAGES, R_FREE_SLOW, R_RCU_READY, R_RCU_SHEAF, R_SHEAF, R_SHEAF_TOP, REQ_KFREE, TS_FREE, TS_LIVE, Hot, PK_LARGE, OS_ALLOC, OS_CACHED, OS_RCU, headOfPage, headPfnOf, pageMeta, pageWord, pfnOfWord,
} from '../layout.js';
import { lock, lockAsync, nap, tryLock, unlock } from '../sync/mutex.js';
import { bugHeader, fixLine, userFrames } from '../report.js';
import { stalledWaitMs } from '../rcu/stall.js';
import {
  B_COOKIE, B_COUNT, B_NEXT, B_OWNER, B_REC, G_CHAIN_COOKIE, G_CHAIN_COUNT, G_CHAIN_HEAD, G_CHCL_COOKIE, G_CHCL_COUNT, G_CHCL_HEAD, G_CLOSED_HEAD, G_CLOSED_TAIL, S_DRAIN_CHAIN,
  G_DRAIN_LOCK, G_LOCK, G_NR_CLOSED, G_WORDS, KVFREE_BULK_MAX_ENTR, MAX_SPARE, S_ACK, S_CUR, S_DRAIN_N, S_DRAIN_OBJ, S_DRAINING, S_NSPARE, S_OPENED,
  S_SPARE, SLOT_WORDS, B_SHEAF, B_GEN, B_ORIGIN, B_READY, S_RCU_OPEN,
  KHot,
} from './layout.js';

export function initKfreeRegion(i32: Int32Array, baseWord: number, maxThreads: number): void {
  for (let k = 0; k < G_WORDS + maxThreads * SLOT_WORDS; k++) i32[baseWord + k] = 0;
}

type Timer = ReturnType<typeof setTimeout>;
const unref = (t: Timer): Timer => {
  (t as { unref?: () => void }).unref?.();
  return t;
};
const now31 = (): number => Date.now() & 0x7fffffff;
/** B_OWNER of a block on the closed list. */
const B_CLOSED = -1;
const DESC_WORDS = CACHE_BYTES >> 2;
const REC_WORDS = CPU_REC_BYTES >> 2;

export class KfreeRcu {
  private readonly g: number; // word index of the region header
  private readonly me: number; // word index of this thread's slot line
  /** Word index of the open block's page (pfn << 10), 0 when none: a JS copy of S_CUR for the fast path. */
  private blk = 0;
  private timer: Timer | undefined;
  private timerDue = 0;
  /**
   * A zero-delay tick is scheduled: it re-reads every age and re-arms for what is left, so
   * arm() has nothing to add until it ran (and skips its clock read: at one full kfree_rcu
   * sheaf per 32..255 objects, Date.now() was a tenth of the per-object cost).
   */
  private zeroPending = false;
  private gpRunning = false;
  private readonly i32: Int32Array;
  private readonly metaW: number;
  private readonly handles: (Cache | undefined)[] = [];
  /** This thread has detached: everything goes through the checked slow path (which throws). */
  private off = false;
  private readonly descW0: number;
  private readonly recW0: number;
  private readonly maxPages: number;
  /** Cache indexes with an open kfree_rcu sheaf in this thread (owner-only). */
  private readonly rcuOpen: number[] = [];
  private rcuOpenedAt = 0;
  /**
   * kvfree_call_rcu, one argument (a per-instance closure: see makeFastPath); the
   * 2-argument form is kfreeRcuWithHead.
   */
  readonly kfreeRcu: (ptr: number) => void;
  /**
   * @internal Test hook: called with a progress mark at chosen steps of the slow paths
   * (drain, barrier, adoption; never the insert fast path). A test worker uses it to stop
   * at a known step (Atomics.wait on a shared word) and be terminated there, or to let
   * another thread run to a known step first. Undefined in normal use.
   */
  testingMark: ((mark: string) => void) | undefined = undefined;

  constructor(private readonly a: Arena) {
    this.i32 = a.i32;
    this.metaW = a.metaW;
    this.g = a.layout.kfreeBase >> 2;
    this.me = this.slotW(a.slot);
    const pfn = a.i32[this.me + S_CUR]!;
    this.blk = pfn ? pageWord(pfn) : 0;
    this.descW0 = a.descW(0);
    this.recW0 = a.recW(a.slot, 0);
    this.maxPages = a.layout.maxPages;
    this.timer = undefined;
    this.timerDue = 0;
    this.zeroPending = false;
    this.gpRunning = false;
    this.kfreeRcu = this.makeFastPath();
  }

  private mark(m: string): void {
    if (this.testingMark !== undefined) this.testingMark(m);
  }

  private slotW(slot: number): number {
    return this.g + G_WORDS + slot * SLOT_WORDS;
  }

  // ---------------------------------------------------------------- insert

  /** Builds kfreeRcu. */
  private makeFastPath(): (ptr: number) => void {
    // A per-instance closure (one per thread) rather than a method: its constants live in
    // its context (immutable slots TurboFan folds when it inlines the closure), instead of
    // field loads from `this`.
    const self = this;
    const i32 = this.i32;
    const metaW = this.metaW;
    const maxPages = this.maxPages;
    const descW0 = this.descW0;
    const recW0 = this.recW0;
    // The kfree_rcu sheaf insert (kernel: __kfree_rcu_sheaf) of a cache with sheaves, while
    // the cache accepts allocations (a dying cache's objects take the block path). A
    // separate closure: the fast path must stay under TurboFan's inlining budget (460
    // bytes of bytecode; with this branch inline it was 616, was never inlined into the
    // caller's loop, and cost ~8 ns per call instead of ~3).
    const sheafInsert = (ptr: number, idx: number, d: number, cap: number): boolean => {
      const rec = recW0 + idx * REC_WORDS;
      const rp = i32[rec + Hot.R_RCU_SHEAF]!;
      if (rp === 0 || i32[d + Hot.C_ALLOC_OK] !== i32[d + Hot.C_GEN]) return false;
      const w = rp << (Hot.PAGE_SHIFT - 2); // layout.ts pageWord, inline (fast path)
      const n = i32[w + KHot.B_COUNT]!;
      if (n === 0 || n >= cap || i32[w + KHot.B_REC + n - 1] === ptr) return false;
      i32[w + KHot.B_REC + n] = ptr;
      i32[w + KHot.B_COUNT] = n + 1;
      i32[rec + Hot.R_KFREE_Q]++;
      return true;
    };
    // The open block's insert. Its GP cookie is taken when it is closed (pushClosed), after
    // its newest insert: the kernel refreshes it on every insert; a later snapshot is just
    // as safe (a GP that began after it began after every insert) and keeps the insert to
    // three stores.
    const blockInsert = (ptr: number, idx: number): boolean => {
      const b = self.blk;
      const n = i32[b + KHot.B_COUNT]!; // b = 0: a header word, never used
      if (b === 0 || n === 0 || n >= KHot.KVFREE_BULK_MAX_ENTR) return false;
      i32[b + KHot.B_REC + n] = ptr;
      i32[b + KHot.B_COUNT] = n + 1;
      i32[recW0 + idx * REC_WORDS + Hot.R_KFREE_Q]++;
      return true;
    };
    const f64 = this.a.f64;
    const u8 = this.a.u8;
    return function kfreeRcu(ptr: number): void {
      // Fast path: an object boundary of a slab's head page, validated against the live
      // descriptor of the page's cache (its C_KF_* words, one cache line: no generation
      // check is needed, a slab page with P_CACHE = idx belongs to the cache now at idx);
      // then a kfree_rcu sheaf with room (caches with sheaves) or the open block with room.
      // Everything else (tail pages, large kmalloc, bad pointers, a detached thread,
      // opening or closing a block or sheaf) takes kfreeRcuSlow, which validates with
      // reports. No separate test of ptr: NaN, 0 and negative or huge values land on a
      // page that is not a slab (page 0 is metadata) or fail the integer test of the offset.
      const pfn = ptr >>> Hot.PAGE_SHIFT;
      const m = metaW + pfn * Hot.PAGE_META_WORDS; // layout.ts pageMeta, inline (fast path)
      if (pfn < maxPages && (i32[m + Hot.P_FLAGS]! & Hot.PK_MASK) === Hot.PK_SLAB) {
        const idx = i32[m + Hot.P_CACHE]!;
        const d = descW0 + idx * DESC_WORDS;
        // An integer offset within the objects' span, on a boundary: a mask for
        // power-of-two strides, else the verified reciprocal (as Cache.isObjectStart).
        const off = ptr - (pfn << Hot.PAGE_SHIFT) - i32[d + Hot.C_KF_PAD]!;
        const mask = i32[d + Hot.C_KF_MASK]!;
        if ((off >>> 0) === off && off < i32[d + Hot.C_KF_SPAN]!) {
          const k = mask >= 0 ? ((off & mask) === 0 ? off >>> (31 - Math.clz32(mask + 1)) : -1) : (off * f64[(d + Hot.C_KF_INV) >> 1]!) | 0;
          if (k >= 0 && (mask >= 0 || k * i32[d + Hot.C_KF_SIZE]! === off)) {
            // The object's state byte must say ALLOC (objstate.ts); it says RCU once queued.
            const sh = i32[d + Hot.C_ST_SHIFTS]!;
            const sa = (pfn << (sh & 255)) + i32[d + Hot.C_ST_C]! + ((k >> 3) << (sh >> 8)) + (k & 7);
            if (u8[sa] === Hot.OS_ALLOC) {
              const cap = i32[d + Hot.C_SHEAF_CAP]!;
              if (cap !== 0 ? sheafInsert(ptr, idx, d, cap) : blockInsert(ptr, idx)) {
                u8[sa] = Hot.OS_RCU;
                return;
              }
            }
          }
        }
      }
      self.kfreeRcuSlow(ptr, undefined);
    };
  }

  /** kfree_rcu with the 2-argument form's rcu_head word: validated, then the usual insert. */
  kfreeRcuWithHead(ptr: number, rcuHeadOffset: number): void {
    this.kfreeRcuSlow(ptr, rcuHeadOffset);
  }

  /** A handle per cache index for this thread, revalidated by generation. */
  private handle(idx: number): Cache {
    const h = this.handles[idx];
    if (h !== undefined && h.gen === this.i32[h.d + Hot.C_GEN]) return h;
    const nh = this.a.internalHandle(idx);
    this.handles[idx] = nh;
    return nh;
  }

  private firstInsert(): void {
    this.i32[this.me + S_OPENED] = now31();
    this.arm(this.a.options.kfreeRcuDrainMs);
  }

  private kfreeRcuSlow(ptr: number, rcuHeadOffset: number | undefined): void {
    if (ptr === 0) return; // kfree_rcu(NULL) is a no-op
    const a = this.a;
    a.checkAttached();
    // Refuse what is not an allocated object: never queue garbage.
    const k = a.kmallocs.classify(ptr);
    let idx = -1;
    if (k.kind === 'slab') {
      const h = this.handle(k.idx);
      h.checkNotReleased('kfreeRcu');
      if (h.slabOf(ptr) < 0) return; // reported (interior pointer)
      // The 2-argument form's rcu_head must be a word of this object, checked before
      // anything is queued: the chain fallback writes it and recovers the object from
      // its address (an offset past the object named, and freed, the neighbour).
      if (rcuHeadOffset !== undefined && !this.headInside(ptr, rcuHeadOffset, h.objectSize, h.cacheName)) return;
      const st = h.stateOf(ptr);
      if (st !== OS_ALLOC) {
        // Refused before anything is queued: a double kfreeRcu, or a freed object.
        a.reportStateMisuse(h, ptr, 'kfreeRcu', st);
        return;
      }
      // Every path below queues the object (the rcu_head fallback never fails).
      h.setState(ptr, OS_RCU);
      idx = k.idx;
      if (rcuHeadOffset === undefined && h.rcuSheafCap !== 0 && h.allocOk() && this.rcuSheafInsert(h, ptr)) return;
    } else if (k.kind === 'none') {
      a.reportInvalidFree(undefined, ptr, `kfreeRcu: ${k.why}`);
      return;
    } else if (rcuHeadOffset !== undefined && !this.headInside(ptr, rcuHeadOffset, PAGE_SIZE << k.order, undefined)) {
      return;
    }
    const i32 = a.i32;
    let b = this.blk;
    let n = b ? i32[b + B_COUNT]! : KVFREE_BULK_MAX_ENTR;
    if (n >= KVFREE_BULK_MAX_ENTR) {
      b = this.openBlock();
      if (b === 0) {
        this.chainFallback(ptr, idx, rcuHeadOffset);
        return;
      }
      n = 0;
    }
    i32[b + B_REC + n] = ptr;
    i32[b + B_COUNT] = n + 1;
    if (idx >= 0) i32[a.recW(a.slot, idx) + Hot.R_KFREE_Q]++;
    if (n === 0) this.firstInsert();
  }

  /**
   * kvfree_call_rcu's rcu_head (the kernel checks its offset at build time): a 4-byte
   * aligned word inside the object, 0 <= off <= objectSize - 4. Else a report and false
   * (the caller queues nothing).
   */
  private headInside(ptr: number, off: number, objectSize: number, cache: string | undefined): boolean {
    if (Number.isInteger(off) && off >= 0 && off <= objectSize - 4 && off % 4 === 0) return true;
    const a = this.a;
    const name = cache ?? (objectSize > PAGE_SIZE ? 'kmalloc-large' : '<unknown>');
    const msg = `kvfree_call_rcu(): rcu_head offset ${String(off)} of object 0x${ptr.toString(16)} is not a 4-byte aligned word inside the object (object_size ${objectSize}); not queued`;
    const hdr = bugHeader(a, name, `Invalid rcu_head offset ${String(off)}`);
    a.countSlabError(1);
    a.warn('kfree-rcu-bad-head', cache, msg,
      `${hdr}Object 0x${ptr.toString(16)}: rcu_head offset ${String(off)} must be an integer multiple of 4 in 0..${objectSize - 4}\n` +
        `${userFrames(new Error().stack).slice(0, 8).join('\n')}\n${fixLine(name, `Object at 0x${ptr.toString(16)} not queued`)}`);
    return false;
  }

  // ------------------------------------------------------ kfree_rcu sheaves

  /**
   * kernel __kfree_rcu_sheaf: an object of a cache with percpu sheaves goes into this
   * thread's kfree_rcu sheaf of that cache: a block page like the batch blocks (so
   * barriers, adoption, pending counts and the drain treat it as one), named after the
   * cache, holding up to sheafCap objects. When full it is closed onto the shared list
   * with its GP cookie. After the GP, if the thread that filled it drains it, the sheaf
   * goes onto that thread's ready list (R_RCU_READY) and its objects are reused by its
   * allocations directly (allocFromReady); any other drainer frees them to their slabs.
   * Returns false if no page can be had (the caller takes the block path).
   */
  private rcuSheafInsert(h: Cache, ptr: number): boolean {
    const a = this.a;
    const i32 = this.i32;
    const rec = h.rec;
    const cap = Math.min(h.rcuSheafCap, KVFREE_BULK_MAX_ENTR);
    let rp = i32[rec + R_RCU_SHEAF]!;
    if (rp !== 0) {
      const w = pageWord(rp);
      const n = i32[w + B_COUNT]!;
      if (n > 0 && i32[w + B_REC + n - 1] === ptr) {
        a.reportDoubleFree(h, ptr);
        return true;
      }
      if (n >= cap) {
        this.closeRcuSheaf(h.idx);
        this.arm(0); // a full sheaf is drained on the next tick
        rp = 0;
      }
    }
    if (rp === 0) {
      rp = this.takePage();
      if (rp === 0) return false;
      this.initBlock(rp, h.idx + 1);
      const w = pageWord(rp);
      i32[w + B_GEN] = h.gen;
      i32[w + B_ORIGIN] = a.slot;
      i32[rec + R_RCU_SHEAF] = rp;
      if (this.rcuOpen.length === 0) {
        // With a zero-delay tick pending (a sheaf just closed), that tick stamps the age.
        if (this.zeroPending) {
          this.rcuOpenedAt = -1;
        } else {
          this.rcuOpenedAt = now31();
          this.arm(a.options.kfreeRcuDrainMs);
        }
      }
      this.rcuOpen.push(h.idx);
      i32[this.me + S_RCU_OPEN] = this.rcuOpen.length;
    }
    const w = pageWord(rp);
    const n = i32[w + B_COUNT]!;
    i32[w + B_REC + n] = ptr;
    i32[w + B_COUNT] = n + 1;
    i32[rec + Hot.R_KFREE_Q]++;
    return true;
  }

  /** Close this thread's kfree_rcu sheaf of cache idx: onto the closed list (or recycled if empty). */
  private closeRcuSheaf(idx: number): void {
    const i32 = this.i32;
    const rec = this.recW0 + idx * REC_WORDS;
    const rp = i32[rec + R_RCU_SHEAF]!;
    if (rp === 0) return;
    // Closed list first, then out of the record (see closeOwn for why).
    if (i32[pageWord(rp) + B_COUNT]! > 0) this.pushClosed(rp);
    else this.recyclePage(rp);
    i32[rec + R_RCU_SHEAF] = 0;
    const k = this.rcuOpen.indexOf(idx);
    if (k >= 0) this.rcuOpen.splice(k, 1);
    i32[this.me + S_RCU_OPEN] = this.rcuOpen.length;
  }

  private closeRcuSheaves(): void {
    while (this.rcuOpen.length > 0) this.closeRcuSheaf(this.rcuOpen[this.rcuOpen.length - 1]!);
  }

  /** A block page: a spare one, else a new page from the buddy allocator. 0 if none. */
  private takePage(): number {
    const spare = this.takeSpare();
    if (spare !== 0) return spare;
    const a = this.a;
    const pfn = a.pages.alloc(0);
    if (pfn !== 0) Atomics.store(a.i32, a.pm(pfn) + Hot.P_FLAGS, PK_PAGES);
    return pfn;
  }

  /** One of this thread's spare block pages (kernel: the per-cpu page cache), 0 if none. */
  private takeSpare(): number {
    const i32 = this.i32;
    const ns = i32[this.me + S_NSPARE]!;
    if (ns === 0) return 0;
    i32[this.me + S_NSPARE] = ns - 1;
    return i32[this.me + S_SPARE + ns - 1]!;
  }

  /**
   * Fresh header of block page `pfn`, owned by this thread, GP snapshot now; `sheaf` is
   * B_SHEAF (cache index + 1 for a kfree_rcu sheaf, 0 for a batch block). Returns its word index.
   */
  private initBlock(pfn: number, sheaf: number): number {
    const i32 = this.i32;
    const b = pageWord(pfn);
    i32[b + B_NEXT] = 0;
    i32[b + B_COUNT] = 0;
    i32[b + B_COOKIE] = this.a.rcu.getState();
    i32[b + B_OWNER] = this.a.slot;
    i32[b + B_SHEAF] = sheaf;
    return b;
  }

  /**
   * Under G_DRAIN_LOCK, a ready kfree_rcu sheaf this thread filled: its objects become
   * free objects of this thread's record (counted freed now), kept on R_RCU_READY for
   * its next allocations. False if the cache no longer allows that (the caller frees
   * the block to the slabs).
   */
  private takeReady(b: number, next: number): boolean {
    const i32 = this.i32;
    const idx = i32[b + B_SHEAF]! - 1;
    const h = this.handle(idx);
    if (h.gen !== i32[b + B_GEN] || h.rcuSheafCap === 0 || !h.allocOk()) return false;
    // At most one ready sheaf per thread and cache: nothing per thread grows without a
    // bound; the next one is freed into the drainer's sheaves like any batch.
    if (i32[h.rec + R_RCU_READY] !== 0) return false;
    Atomics.store(i32, this.me + S_DRAINING, next);
    const rec = h.rec;
    const n = i32[b + B_COUNT]!;
    // Pending -> cached: the objects are free ones of this thread's record now.
    for (let k = 0; k < n; k++) h.setState(i32[b + B_REC + k]!, OS_CACHED);
    i32[rec + Hot.R_KFREE_D] += n;
    i32[rec + R_FREE_SLOW] += n;
    i32[b + B_OWNER] = B_READY;
    i32[b + B_NEXT] = i32[rec + R_RCU_READY]!;
    i32[rec + R_RCU_READY] = pfnOfWord(b);
    return true;
  }

  /**
   * @internal SlabCore.allocSlow of a sheaf cache with ready kfree_rcu sheaves: refill
   * the (empty) main sheaf from the newest ready one and return one object (counted as
   * a slow-path alloc). 0 if nothing could be taken.
   */
  allocFromReady(c: Cache): number {
    const a = this.a;
    const i32 = this.i32;
    const rec = c.rec;
    const rp = i32[rec + R_RCU_READY]!;
    if (rp === 0 || c.sheafCap === 0) return 0;
    const w = pageWord(rp);
    let n = i32[w + B_COUNT]!;
    let obj = 0;
    if (n > 0) {
      if (a.slab.ensureSheaf(c) && i32[rec + R_RCU_READY] === rp) {
        const sb = i32[rec + R_SHEAF]! >> 2;
        const sn = i32[rec + R_SHEAF_TOP]! - sb;
        const take = Math.min(c.sheafCap - sn, n);
        if (take > 0) {
          i32.copyWithin(sb + sn, w + B_REC + n - take, w + B_REC + n);
          n -= take;
          i32[w + B_COUNT] = n;
        }
        const top = sn + take - 1;
        if (top >= 0) {
          obj = i32[sb + top]!;
          i32[rec + R_SHEAF_TOP] = sb + top;
        }
      } else if (i32[rec + R_RCU_READY] === rp) {
        // No main sheaf to be had: hand out the sheaf's objects one at a time.
        n--;
        obj = i32[w + B_REC + n]!;
        i32[w + B_COUNT] = n;
      } else {
        return 0; // flushed meanwhile (ensureSheaf served a request)
      }
    }
    if (n === 0) {
      i32[rec + R_RCU_READY] = i32[w + B_NEXT]!;
      this.recyclePage(rp);
    }
    if (obj !== 0) i32[rec + R_ALLOC_SLOW]++;
    return obj;
  }

  /**
   * @internal flushRecord: give record `rec`'s ready kfree_rcu sheaves back to the slabs
   * (this thread's record or a dead thread's). Their objects were counted freed already.
   */
  dropReady(c: Cache, rec: number): number {
    const a = this.a;
    const i32 = this.i32;
    let freed = 0;
    for (let p = i32[rec + R_RCU_READY]!; p !== 0; ) {
      const w = pageWord(p);
      const next = i32[w + B_NEXT]!;
      i32[rec + R_RCU_READY] = next;
      const n = i32[w + B_COUNT]!;
      i32[w + B_COUNT] = 0;
      for (let k = 0; k < n; k++) a.slab.freeUncounted(c, rec, i32[w + B_REC + k]!);
      freed += n;
      i32[a.pm(p) + Hot.P_FLAGS] = 0;
      a.pages.free(p, 0);
      p = next;
    }
    return freed;
  }

  /** Ready kfree_rcu sheaves of every cache of this thread back to the slabs (memory pressure, detach). */
  private dropAllReady(): boolean {
    const a = this.a;
    const i32 = this.i32;
    let any = false;
    for (let idx = 0; idx < a.layout.maxCaches; idx++) {
      const rec = this.recW0 + idx * REC_WORDS;
      if (i32[rec + R_RCU_READY] !== 0 && this.dropReady(a.internalHandle(idx), rec) > 0) any = true;
    }
    return any;
  }

  /** The open block is full (or there is none): close it and open another. Returns its word index or 0. */
  private openBlock(): number {
    if (this.blk !== 0) {
      this.closeOwn();
      this.arm(0); // a full block is drained on the next tick
    }
    let pfn = this.takePage();
    if (pfn === 0) {
      // Try to recycle ready blocks before giving up on a page.
      this.drainReady(false);
      pfn = this.takeSpare();
      if (pfn === 0) return 0;
    }
    const b = this.initBlock(pfn, 0);
    this.i32[this.me + S_CUR] = pfn;
    this.blk = b;
    return b;
  }

  /** The rcu_head path: chain the object through its own memory (no page for a block). */
  private chainFallback(ptr: number, idx: number, rcuHeadOffset: number | undefined): void {
    const a = this.a;
    const i32 = a.i32;
    let off = 0;
    if (rcuHeadOffset !== undefined) off = rcuHeadOffset; // a word inside the object: checked by kfreeRcuSlow (headInside)
    else if (idx >= 0) off = a.internalHandle(idx).fp;
    const w = (ptr + off) >> 2;
    lock(i32, this.g + G_LOCK);
    // The list links rcu_head words (not objects); each object is recovered from its
    // link's address and the slab geometry when the list is freed.
    i32[w] = i32[this.g + G_CHAIN_HEAD]!;
    i32[this.g + G_CHAIN_HEAD] = ptr + off;
    i32[this.g + G_CHAIN_COUNT]++;
    i32[this.g + G_CHAIN_COOKIE] = a.rcu.getState();
    unlock(i32, this.g + G_LOCK);
    if (idx >= 0) i32[a.recW(a.slot, idx) + Hot.R_KFREE_Q]++;
    this.arm(0);
  }

  /** Move this thread's open block (if any has objects) onto the shared closed list. */
  private closeOwn(): void {
    const a = this.a;
    const i32 = a.i32;
    if (this.rcuOpen.length > 0) this.closeRcuSheaves();
    const b = this.blk;
    if (b === 0) return;
    if (i32[b + B_COUNT] === 0) return; // nothing in it: keep it open
    // On the closed list first, then out of S_CUR: a thread stopped in between leaves
    // the block in both places, and B_OWNER (no longer its slot) tells its adopter not
    // to queue it twice.
    this.pushClosed(pfnOfWord(b));
    i32[this.me + S_CUR] = 0;
    this.blk = 0;
  }

  private pushClosed(pfn: number): void {
    const i32 = this.a.i32;
    const g = this.g;
    const b = pageWord(pfn);
    i32[b + B_NEXT] = 0;
    // get_state_synchronize_rcu(), after the block's last insert (see kfreeRcu).
    i32[b + B_COOKIE] = this.a.rcu.getState();
    lock(i32, g + G_LOCK);
    const t = i32[g + G_CLOSED_TAIL]!;
    if (t === 0) i32[g + G_CLOSED_HEAD] = pfn;
    else i32[pageWord(t) + B_NEXT] = pfn;
    i32[g + G_CLOSED_TAIL] = pfn;
    i32[g + G_NR_CLOSED]++;
    i32[b + B_OWNER] = B_CLOSED;
    unlock(i32, g + G_LOCK);
  }

  // ----------------------------------------------------------------- drain

  /**
   * kfree_rcu_monitor + kfree_rcu_work: free every closed block (and the chained list)
   * whose grace period has completed. With `wait`, the drain lock is waited for (a
   * barrier); otherwise a drain already in progress elsewhere is left to finish it.
   * Returns the number of objects freed.
   */
  drainReady(wait: boolean): number {
    const a = this.a;
    const i32 = a.i32;
    const g = this.g;
    if (wait) lock(i32, g + G_DRAIN_LOCK);
    else if (!tryLock(i32, g + G_DRAIN_LOCK)) return 0;
    try {
      return this.drainLocked();
    } finally {
      unlock(i32, g + G_DRAIN_LOCK);
    }
  }

  private async drainReadyAsync(): Promise<number> {
    const i32 = this.a.i32;
    await lockAsync(i32, this.g + G_DRAIN_LOCK);
    try {
      return this.drainLocked();
    } finally {
      unlock(i32, this.g + G_DRAIN_LOCK);
    }
  }

  /** Under G_DRAIN_LOCK. */
  private drainLocked(): number {
    const i32 = this.a.i32;
    const g = this.g;
    const rcu = this.a.rcu;
    // Detach the ready prefix of the closed list (oldest first; stop at the first block
    // whose GP is still running: later ones were closed later), and the rcu_head lists
    // whose GP is over. Both are published (S_DRAINING, S_DRAIN_CHAIN) inside the same
    // G_LOCK section, so a drainer that dies mid-way leaves them findable: whoever detaches
    // it takes over its drain lock and finishes this drain (finishDrainOf) first.
    this.mark('drain:locked');
    lock(i32, g + G_LOCK);
    const first = i32[g + G_CLOSED_HEAD]!;
    let last = 0;
    let cnt = 0;
    for (let p = first; p !== 0 && rcu.pollState(i32[pageWord(p) + B_COOKIE]!); p = i32[pageWord(p) + B_NEXT]!) {
      last = p;
      cnt++;
    }
    if (last !== 0) {
      Atomics.store(i32, this.me + S_DRAINING, first);
      const rest = i32[pageWord(last) + B_NEXT]!;
      i32[g + G_CLOSED_HEAD] = rest;
      if (rest === 0) i32[g + G_CLOSED_TAIL] = 0;
      i32[pageWord(last) + B_NEXT] = 0;
      i32[g + G_NR_CLOSED] -= cnt;
    }
    let chain = 0;
    if (i32[g + G_CHCL_HEAD] !== 0 && rcu.pollState(i32[g + G_CHCL_COOKIE]!)) {
      chain = i32[g + G_CHCL_HEAD]!;
      i32[g + G_CHCL_HEAD] = 0;
      i32[g + G_CHCL_COUNT] = 0;
    }
    if (i32[g + G_CHAIN_HEAD] !== 0 && rcu.pollState(i32[g + G_CHAIN_COOKIE]!)) {
      // The open list goes in front of the closed one taken (its tail links to it).
      const open = i32[g + G_CHAIN_HEAD]!;
      let t = open;
      while (i32[t >> 2] !== 0) t = i32[t >> 2]!;
      i32[t >> 2] = chain;
      chain = open;
      i32[g + G_CHAIN_HEAD] = 0;
      i32[g + G_CHAIN_COUNT] = 0;
    }
    if (chain !== 0) Atomics.store(i32, this.me + S_DRAIN_CHAIN, chain);
    unlock(i32, g + G_LOCK);
    return this.freeInHand(this.me);
  }

  /**
   * Free the blocks and the rcu_head chain that slot line `w` has in hand (S_DRAINING,
   * S_DRAIN_CHAIN: all past their grace period), advancing those words as each is freed.
   * `w` is this thread's line (drainLocked) or a dead drainer's (finishDrainOf, by the
   * thread that took over its drain lock). Under that drain lock.
   */
  private freeInHand(w: number): number {
    const a = this.a;
    const i32 = a.i32;
    let freed = 0;
    for (let p = Atomics.load(i32, w + S_DRAINING); p !== 0; ) {
      const b = pageWord(p);
      const next = i32[b + B_NEXT]!;
      if (w === this.me && i32[b + B_SHEAF] !== 0 && i32[b + B_ORIGIN] === a.slot && !this.off) {
        // Our own kfree_rcu sheaf: out of S_DRAINING first (a thread stopped in between
        // leaks this sheaf's objects rather than freeing them twice), then onto our
        // ready list, objects untouched.
        const n = i32[b + B_COUNT]!;
        if (this.takeReady(b, next)) {
          freed += n;
          p = next;
          continue;
        }
      }
      this.mark('drain:block');
      freed += this.freeBlock(b);
      Atomics.store(i32, w + S_DRAINING, next);
      this.recyclePage(p);
      p = next;
    }
    for (let link = Atomics.load(i32, w + S_DRAIN_CHAIN); link !== 0; ) {
      // Read the next link before the free (the object's memory is reused by it); name
      // the object in hand, then advance the published chain past it, then free it.
      const next = i32[link >> 2]!;
      const obj = this.objectOfLink(link);
      i32[this.me + S_DRAIN_OBJ] = obj;
      i32[this.me + S_DRAIN_N] = 1;
      Atomics.store(i32, w + S_DRAIN_CHAIN, next);
      this.freeOne(obj);
      i32[this.me + S_DRAIN_OBJ] = 0;
      freed++;
      link = next;
    }
    return freed;
  }

  /**
   * @internal A dead thread's drain: free what it had in hand (S_DRAINING, S_DRAIN_CHAIN),
   * which is past its grace period. Called by the thread that took over the dead thread's
   * G_DRAIN_LOCK (Arena.repairLocked from detachDead's releaseLocksOf), before it releases
   * that lock, so a barrier waiting for the lock finds the drain done (re-queueing it with a
   * fresh cookie, as before, let such a barrier return with it queued); and by adoptSlot,
   * for what a lock broken by its lease left. The object the dead thread was freeing at that
   * instant (S_DRAIN_OBJ / S_DRAIN_N) may or may not have been freed (a free is several
   * steps): it is reported, never freed again (B_COUNT and S_DRAIN_CHAIN were advanced past
   * it before its free). Returns the number of objects freed.
   */
  finishDrainOf(slot: number): number {
    const a = this.a;
    const i32 = a.i32;
    const w = this.slotW(slot);
    const doubt = i32[w + S_DRAIN_OBJ]!;
    const dn = Math.max(1, i32[w + S_DRAIN_N]!);
    if (doubt !== 0) {
      const msg = dn > 1
        ? `kfree_rcu: thread ${slot} died while freeing ${dn} objects of one slab from 0x${doubt.toString(16)}; they may still be allocated`
        : `kfree_rcu: thread ${slot} died while freeing object 0x${doubt.toString(16)}; it may still be allocated`;
      a.warn('kfree-rcu-dead-drain', undefined, msg,
        `${msg}\n${dn > 1 ? 'The slab\'s in-use count may also be stale (it was inside the cache lock). ' : ''}Every other object it had in hand is freed.`);
    }
    i32[w + S_DRAIN_OBJ] = 0;
    i32[w + S_DRAIN_N] = 0;
    if (Atomics.load(i32, w + S_DRAINING) === 0 && Atomics.load(i32, w + S_DRAIN_CHAIN) === 0) return 0;
    return this.freeInHand(w);
  }

  /**
   * kfree_bulk of one block, newest record first. Runs of records in the same slab go
   * back as one detached list (SlabCore.freeGroup), whose commit also shrinks B_COUNT
   * inside the cache lock; so if this thread dies, its adopter re-queues exactly the
   * records not yet freed. Debug and quarantine caches, and large kmalloc blocks, are
   * freed one by one through the checked paths (S_DRAIN_OBJ names the one in hand).
   */
  private freeBlock(b: number): number {
    const a = this.a;
    const i32 = this.i32;
    const meta = this.metaW;
    let freed = 0;
    let k = i32[b + B_COUNT]! - 1;
    while (k >= 0) {
      const obj = i32[b + B_REC + k]!;
      const pfn = headPfnOf(i32, meta, obj);
      const m = pageMeta(meta, pfn);
      const h = (i32[m + Hot.P_FLAGS]! & Hot.PK_MASK) === Hot.PK_SLAB ? this.handle(i32[m + Hot.P_CACHE]!) : undefined;
      if (h === undefined || h.debug || h.quarantine) {
        i32[this.me + S_DRAIN_OBJ] = obj;
        i32[this.me + S_DRAIN_N] = 1;
        i32[b + B_COUNT] = k;
        this.freeOne(obj);
        i32[this.me + S_DRAIN_OBJ] = 0;
        freed++;
        k--;
        continue;
      }
      if (h.sheafCap !== 0 && h.allocOk()) {
        // A cache with sheaves (kernel 7.0: kfree_bulk -> free_to_pcs_bulk): into this
        // thread's main sheaf, where the next allocations find it, not onto its slab
        // (which emptied slabs beyond min_partial that the next allocations rebuilt).
        // Out of the batch first (B_COUNT), then counted and freed: a drainer stopped in
        // between leaves it RCU or CACHED in no batch, in doubt for its adopter and
        // reclaimable by a destroy, never freed twice.
        i32[this.me + S_DRAIN_OBJ] = obj;
        i32[this.me + S_DRAIN_N] = 1;
        i32[b + B_COUNT] = k;
        // Both counters side by side (a stats() reader sees both or neither, almost always),
        // before the free (a drainer stopped after them leaves exact counts).
        i32[h.rec + Hot.R_KFREE_D]++;
        i32[h.rec + R_FREE_SLOW]++;
        if (!a.slab.freeRcuToSheaf(h, obj)) {
          i32[h.rec + R_FREE_SLOW]--; // the checked free below counts its own free
          h.freeExpecting(obj, OS_RCU);
        }
        i32[this.me + S_DRAIN_OBJ] = 0;
        freed++;
        k--;
        continue;
      }
      // Gather the run of older records in the same slab into a detached freelist.
      const fp = h.fp;
      let tail = obj;
      let j = k - 1;
      for (; j >= 0; j--) {
        const q = i32[b + B_REC + j]!;
        const qp = q >>> Hot.PAGE_SHIFT;
        if (qp !== pfn && headOfPage(i32, meta, qp) !== pfn) break;
        i32[(tail + fp) >> 2] = q;
        tail = q;
      }
      const n = k - j;
      // Named for our adopter while the run is in hand (see S_DRAIN_N).
      i32[this.me + S_DRAIN_OBJ] = obj;
      i32[this.me + S_DRAIN_N] = n;
      const grouped = a.slab.freeGroup(h, pfn, obj, tail, n, b + B_COUNT, j + 1, h.rec + Hot.R_KFREE_D);
      i32[this.me + S_DRAIN_OBJ] = 0;
      if (grouped) {
        freed += n;
      } else {
        // Counts do not allow it (a double kfreeRcu): one by one, with reports.
        for (let r = k; r > j; r--) {
          const o = i32[b + B_REC + r]!;
          i32[b + B_COUNT] = r;
          i32[h.rec + Hot.R_KFREE_D]++;
          h.freeExpecting(o, OS_RCU);
          freed++;
        }
      }
      k = j;
    }
    i32[b + B_COUNT] = 0;
    return freed;
  }

  /** The object whose rcu_head word is at `link` (from the page metadata of its slab). */
  private objectOfLink(link: number): number {
    const a = this.a;
    const k = a.kmallocs.classify(link);
    if (k.kind === 'slab') {
      const h = a.internalHandle(k.idx);
      const first = (k.pfn << Hot.PAGE_SHIFT) + h.redLeftPad;
      return first + Math.floor((link - first) / h.size) * h.size;
    }
    if (k.kind === 'large') return k.pfn << Hot.PAGE_SHIFT;
    // A word inside a large kmalloc (the 2-argument form's rcu_head at an offset > 0):
    // classify() refuses interior pointers, so find the block's head page here.
    const i32 = this.i32;
    const pfn = headPfnOf(i32, this.metaW, link);
    if ((i32[pageMeta(this.metaW, pfn) + Hot.P_FLAGS]! & Hot.PK_MASK) === PK_LARGE) return pfn << Hot.PAGE_SHIFT;
    return link;
  }

  private freeOne(ptr: number): void {
    const a = this.a;
    const k = a.kmallocs.classify(ptr);
    if (k.kind === 'slab') {
      a.i32[a.recW(a.slot, k.idx) + Hot.R_KFREE_D]++;
      this.mark('free:one');
      a.internalHandle(k.idx).freeExpecting(ptr, OS_RCU);
    } else {
      a.kfree(ptr);
    }
  }

  private recyclePage(pfn: number): void {
    const a = this.a;
    const i32 = a.i32;
    const ns = i32[this.me + S_NSPARE]!;
    if (ns < MAX_SPARE && !a.isDetached) {
      i32[this.me + S_SPARE + ns] = pfn;
      i32[this.me + S_NSPARE] = ns + 1;
      return;
    }
    i32[a.pm(pfn) + Hot.P_FLAGS] = 0;
    a.pages.free(pfn, 0);
  }

  private closedPending(): boolean {
    const i32 = this.a.i32;
    return i32[this.g + G_CLOSED_HEAD] !== 0 || i32[this.g + G_CHAIN_HEAD] !== 0 || i32[this.g + G_CHCL_HEAD] !== 0;
  }

  // ------------------------------------------------------------------ pump

  /** Make sure a drain tick runs within `ms` (unref'd timer). */
  private arm(ms: number): void {
    if (this.zeroPending) return;
    const due = Date.now() + ms;
    if (this.timer !== undefined && this.timerDue <= due) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDue = due;
    this.zeroPending = ms <= 0;
    this.timer = unref(setTimeout(() => this.tick(), ms));
  }

  /** The monitor: close an old open block, free what is ready, start a GP for the rest. */
  private tick(): void {
    this.timer = undefined;
    this.zeroPending = false;
    const a = this.a;
    if (a.isDetached) return;
    const i32 = a.i32;
    const b = this.blk;
    if (b !== 0 && i32[b + B_COUNT]! > 0) {
      const age = (now31() - i32[this.me + S_OPENED]! + 0x80000000) % 0x80000000;
      if (age >= a.options.kfreeRcuDrainMs) this.closeOwn();
      else this.arm(a.options.kfreeRcuDrainMs - age);
    }
    if (this.rcuOpen.length > 0) {
      // kfree_rcu sheaves: all closed together, kfreeRcuDrainMs after the first opened.
      if (this.rcuOpenedAt === -1) this.rcuOpenedAt = now31();
      const age = (now31() - this.rcuOpenedAt + 0x80000000) % 0x80000000;
      if (age >= a.options.kfreeRcuDrainMs) this.closeRcuSheaves();
      else this.arm(a.options.kfreeRcuDrainMs - age);
    }
    this.drainReady(false);
    if (this.closedPending() && !this.gpRunning) {
      // Closed blocks wait for a grace period: drive one without blocking (kernel:
      // queue_rcu_work, which waits for a normal GP and then runs kfree_rcu_work).
      this.gpRunning = true;
      a.rcu.synchronizeAsync().then(
        () => {
          this.gpRunning = false;
          if (!a.isDetached) this.arm(0);
        },
        () => {
          this.gpRunning = false;
        },
      );
    }
  }

  /**
   * Called periodically by the RCU worker thread (startRcuWorker): free the closed
   * blocks whose grace period has completed, and make sure a GP is on its way for the
   * others (start_poll_synchronize_rcu: the worker drives it).
   */
  driverTick(): void {
    if (!this.closedPending()) return;
    this.drainReady(false);
    if (this.closedPending()) this.a.rcu.startPoll();
  }

  /** REQ_KFREE from another thread: close our open block, take part in draining. */
  serviceRequests(): void {
    const a = this.a;
    this.closeOwn();
    Atomics.add(a.i32, this.me + S_ACK, 1);
    Atomics.notify(a.i32, this.me + S_ACK);
    if (this.closedPending()) this.arm(0);
  }

  // --------------------------------------------------------------- barrier

  /** Slots (other than ours) whose open block holds objects: they must close it for us. */
  private othersWithOpenBlocks(): { slot: number; ack: number; gen: number }[] {
    const a = this.a;
    const i32 = a.i32;
    const out: { slot: number; ack: number; gen: number }[] = [];
    for (let s = 0; s < a.layout.maxThreads; s++) {
      if (s === a.slot) continue;
      const w = this.slotW(s);
      const pfn = Atomics.load(i32, w + S_CUR);
      if ((pfn === 0 || i32[pageWord(pfn) + B_COUNT] === 0) && Atomics.load(i32, w + S_RCU_OPEN) === 0) continue;
      out.push({ slot: s, ack: Atomics.load(i32, w + S_ACK), gen: a.threads.gen(s) });
    }
    for (const o of out) a.threads.post(o.slot, REQ_KFREE);
    return out;
  }

  private closedFor(o: { slot: number; ack: number; gen: number }): boolean {
    const a = this.a;
    const w = this.slotW(o.slot);
    if (Atomics.load(a.i32, w + S_ACK) !== o.ack) return true;
    // Never adopt here: a slot that is not TS_LIVE is inside detachDead (TS_DETACHING) right
    // now, and its detacher adopts it; two adopters would queue its block twice. Its
    // detacher queues the block before endDetach (TS_FREE); a new thread in the slot (new
    // generation) came after that. A dead thread nobody watches stays TS_LIVE and holds
    // its batch (reported unresponsive at the deadline).
    const st = a.threads.state(o.slot);
    if (a.threads.gen(o.slot) !== o.gen || st === TS_FREE) return true;
    if (st !== TS_LIVE) return false;
    return Atomics.load(a.i32, w + S_CUR) === 0 && Atomics.load(a.i32, w + S_RCU_OPEN) === 0;
  }

  private reportUnresponsive(slots: number[]): void {
    if (slots.length === 0) return;
    const who = unanswered(this.a, slots);
    const msg = `kvfree_rcu_barrier: thread(s) ${who.line} did not close their kfree_rcu batch within ${this.a.options.destroyFlushTimeoutMs} ms`;
    this.a.warn('kvfree-rcu-barrier', undefined, msg, `${msg}\n${who.detail}\nA thread serves the request on its next kfreeRcu() call or event-loop turn; a thread that never yields keeps its open batch.`);
  }

  /** "slot 3 (Node threadId 7)" for each slot: what stall reports name. */
  describeThreads(slots: number[]): string {
    return slots.map((s) => `slot ${s} (Node threadId ${this.a.threads.tid(s)})`).join(', ');
  }

  private reportStalled(stalled: number[], gpWaitMs: number): void {
    if (stalled.length === 0) return;
    const msg = `kvfree_rcu_barrier: gave up after ${gpWaitMs} ms waiting for a grace period stalled by thread ${this.describeThreads(stalled)}`;
    this.a.warn('kvfree-rcu-barrier', undefined, msg,
      `${msg}\nThe objects queued before the barrier stay allocated (never freed under a reader that may still see them); ` +
        'they are freed after the grace period completes, once the stalled thread leaves its read section (memb) or passes a quiescent state (qsbr).');
  }

  /**
   * kvfree_rcu_barrier: every object passed to kfreeRcu before the call is freed on return,
   * unless a thread stalls it. Bounded: other threads get until `flushDeadline`
   * (performance.now() time) to close their open batches, and the grace period
   * `gpWaitMs` (stalledWaitMs: rcuStallTimeoutMs + 250 ms). Returns the slots that did
   * not close their batch in time and the slots that stalled the grace period (then
   * nothing is freed that the grace period protects). Reports nothing itself.
   */
  barrierBounded(flushDeadline: number, gpWaitMs: number): { unresponsive: number[]; stalled: number[] } {
    const a = this.a;
    this.mark('barrier:start');
    this.closeOwn();
    let waiting = this.othersWithOpenBlocks();
    while (waiting.length && performance.now() < flushDeadline) {
      a.serviceRequests();
      this.closeOwn();
      nap(1);
      waiting = waiting.filter((o) => !this.closedFor(o));
      this.mark('barrier:poll');
    }
    // Close the rcu_head chain, wait for a GP, drain; again if the closed chain was taken
    // (another barrier's, whose GP our synchronize covers: the drain frees it).
    const t0 = performance.now();
    let stalled: number[];
    for (;;) {
      const closed = this.closeChain();
      stalled = a.rcu.synchronizeBounded(Math.max(0, gpWaitMs - (performance.now() - t0)));
      this.mark('barrier:drain');
      this.drainReady(true);
      if (closed || stalled.length > 0) break;
    }
    return { unresponsive: waiting.map((o) => o.slot), stalled };
  }

  /** barrierBounded without blocking the event loop. */
  async barrierBoundedAsync(flushDeadline: number, gpWaitMs: number): Promise<{ unresponsive: number[]; stalled: number[] }> {
    this.mark('barrier:start');
    this.closeOwn();
    let waiting = this.othersWithOpenBlocks();
    while (waiting.length && performance.now() < flushDeadline) {
      await new Promise<void>((r) => setTimeout(r, 1));
      this.closeOwn();
      waiting = waiting.filter((o) => !this.closedFor(o));
      this.mark('barrier:poll');
    }
    const t0 = performance.now();
    let stalled: number[];
    for (;;) {
      const closed = this.closeChain();
      stalled = await this.a.rcu.synchronizeAsyncBounded(Math.max(0, gpWaitMs - (performance.now() - t0)));
      this.mark('barrier:drain');
      await this.drainReadyAsync();
      if (closed || stalled.length > 0) break;
    }
    return { unresponsive: waiting.map((o) => o.slot), stalled };
  }

  /**
   * The barrier's step of the rcu_head chain (kernel: krcp->head moves to krwp->head_free
   * with head_free_gp_snap): under G_LOCK, the open chain becomes the closed chain, with a
   * cookie taken now, after every object the barrier waits for; later inserts start a new
   * open chain and cannot refresh it. False if the closed chain was not empty (the open
   * chain stays open: the caller's GP covers the closed one's cookie, its drain frees it,
   * and it tries again).
   */
  private closeChain(): boolean {
    const i32 = this.a.i32;
    const g = this.g;
    lock(i32, g + G_LOCK);
    let ok = true;
    if (i32[g + G_CHAIN_HEAD] !== 0) {
      if (i32[g + G_CHCL_HEAD] === 0) {
        i32[g + G_CHCL_HEAD] = i32[g + G_CHAIN_HEAD]!;
        i32[g + G_CHCL_COUNT] = i32[g + G_CHAIN_COUNT]!;
        i32[g + G_CHCL_COOKIE] = this.a.rcu.getState();
        i32[g + G_CHAIN_HEAD] = 0;
        i32[g + G_CHAIN_COUNT] = 0;
      } else {
        ok = false;
      }
    }
    unlock(i32, g + G_LOCK);
    return ok;
  }

  /** The bound of the grace-period part of the barriers (stalledWaitMs). */
  gpWaitMs(): number {
    return stalledWaitMs(this.a.options.rcuStallTimeoutMs);
  }

  /**
   * kvfree_rcu_barrier: every object passed to kfreeRcu before the call is freed on return.
   * Returns within destroyFlushTimeoutMs + rcuStallTimeoutMs + 250 ms; a thread that kept
   * its batch or stalled the grace period is named in a `kvfree_rcu_barrier` warning.
   */
  barrier(): void {
    const a = this.a;
    a.checkAttached();
    if (a.rcu.inReadSection) throw new Error('slabrcu: kvfreeRcuBarrier() inside an RCU read-side critical section would deadlock');
    const gp = this.gpWaitMs();
    const r = this.barrierBounded(performance.now() + a.options.destroyFlushTimeoutMs, gp);
    this.reportUnresponsive(r.unresponsive);
    this.reportStalled(r.stalled, gp);
  }

  async barrierAsync(): Promise<void> {
    const a = this.a;
    a.checkAttached();
    if (a.rcu.inReadSection) throw new Error('slabrcu: kvfreeRcuBarrierAsync() inside an RCU read-side critical section would deadlock');
    const gp = this.gpWaitMs();
    const r = await this.barrierBoundedAsync(performance.now() + a.options.destroyFlushTimeoutMs, gp);
    this.reportUnresponsive(r.unresponsive);
    this.reportStalled(r.stalled, gp);
  }

  /** Objects of cache idx queued and not yet freed, over all threads. */
  pendingForCache(idx: number): number {
    const a = this.a;
    const i32 = a.i32;
    const d = a.descW(idx);
    // Under the cache lock, as stats' counters: a detaching thread folds its record into
    // C_FOLD_KQ/KD under it (arena flushAndFold), so the sum never sees it twice.
    lock(i32, d + C_LOCK);
    let q = (Atomics.load(i32, d + C_FOLD_KQ) - Atomics.load(i32, d + C_FOLD_KD)) | 0;
    for (let s = 0; s < a.layout.maxThreads; s++) {
      const r = a.recW(s, idx);
      q = (q + i32[r + Hot.R_KFREE_Q]! - i32[r + Hot.R_KFREE_D]!) | 0;
    }
    unlock(i32, d + C_LOCK);
    return q;
  }

  /**
   * Whether barrierOnCache must run the barrier for cache idx. A drainer counts an object
   * freed (R_KFREE_D, freeOne) just before it frees it, and takes blocks off the closed
   * list before it frees them: pendingForCache = 0 with an empty closed list does not mean
   * the frees are done while some drainer holds G_DRAIN_LOCK. So: read the counts first,
   * then the drain lock (Atomics.load; a drainer takes it before it takes or counts
   * anything, and releases it after its last free): unheld means every counted free is done.
   * A dead drainer's lock stays held until its detacher has finished its drain.
   */
  private mayHavePending(idx: number): boolean {
    if (this.pendingForCache(idx) > 0 || this.closedPending()) return true;
    return Atomics.load(this.a.i32, this.g + G_DRAIN_LOCK) !== 0;
  }

  /**
   * kvfree_rcu_barrier_on_cache (destroy): nothing to wait for if no object of it is
   * pending (mayHavePending); else barrierBounded, whose outcome the destroy report carries.
   */
  barrierOnCacheSync(idx: number, flushDeadline: number, gpWaitMs: number): { unresponsive: number[]; stalled: number[] } {
    if (!this.mayHavePending(idx)) return { unresponsive: [], stalled: [] };
    return this.barrierBounded(flushDeadline, gpWaitMs);
  }

  async barrierOnCacheAsync(idx: number, flushDeadline: number, gpWaitMs: number): Promise<{ unresponsive: number[]; stalled: number[] }> {
    if (!this.mayHavePending(idx)) return { unresponsive: [], stalled: [] };
    return this.barrierBoundedAsync(flushDeadline, gpWaitMs);
  }

  /** Total objects waiting (all threads, all caches): open and closed blocks and the chain. */
  pending(): number {
    const a = this.a;
    const i32 = a.i32;
    let n = i32[this.g + G_CHAIN_COUNT]! + i32[this.g + G_CHCL_COUNT]!;
    for (let s = 0; s < a.layout.maxThreads; s++) {
      const pfn = i32[this.slotW(s) + S_CUR]!;
      if (pfn) n += i32[pageWord(pfn) + B_COUNT]!;
      if (i32[this.slotW(s) + S_RCU_OPEN] !== 0) {
        for (let idx = 0; idx < a.layout.maxCaches; idx++) {
          const rp = i32[a.recW(s, idx) + R_RCU_SHEAF]!;
          if (rp) n += i32[pageWord(rp) + B_COUNT]!;
        }
      }
    }
    lock(i32, this.g + G_LOCK);
    for (let p = i32[this.g + G_CLOSED_HEAD]!; p !== 0; p = i32[pageWord(p) + B_NEXT]!) {
      n += i32[pageWord(p) + B_COUNT]!;
    }
    unlock(i32, this.g + G_LOCK);
    return n;
  }

  // ------------------------------------------------------- memory pressure

  /**
   * The kfree_rcu shrinker: free ready batches, give back spare pages; if that freed
   * nothing and batches wait, expedite a grace period and free them. True if anything
   * was freed.
   */
  reclaim(): boolean {
    const a = this.a;
    const i32 = a.i32;
    let any = false;
    const ns = i32[this.me + S_NSPARE]!;
    for (let k = 0; k < ns; k++) {
      const pfn = i32[this.me + S_SPARE + k]!;
      i32[a.pm(pfn) + Hot.P_FLAGS] = 0;
      a.pages.free(pfn, 0);
      any = true;
    }
    i32[this.me + S_NSPARE] = 0;
    this.closeOwn();
    if (this.drainReady(true) > 0) any = true;
    if (this.dropAllReady()) any = true;
    if (this.closedPending() && a.rcu.mayWaitImplicitly) {
      a.rcu.synchronize();
      if (this.drainReady(true) > 0) any = true;
      if (this.dropAllReady()) any = true;
    }
    return any;
  }

  // ---------------------------------------------------------------- threads

  /** This thread leaves: close its block, give back spare pages, ask live threads to drain. */
  detach(): void {
    const a = this.a;
    this.off = true;
    this.closeOwn();
    this.dropAllReady();
    const b = this.blk;
    if (b !== 0) {
      // An empty open block: give the page back.
      this.blk = 0;
      a.i32[this.me + S_CUR] = 0;
      a.i32[a.pm(pfnOfWord(b)) + Hot.P_FLAGS] = 0;
      a.pages.free(pfnOfWord(b), 0);
    }
    this.releaseSpares(a.slot);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.zeroPending = false;
    this.handOver();
  }

  private releaseSpares(slot: number): void {
    const a = this.a;
    const i32 = a.i32;
    const w = this.slotW(slot);
    const ns = i32[w + S_NSPARE]!;
    for (let k = 0; k < ns; k++) {
      const pfn = i32[w + S_SPARE + k]!;
      i32[a.pm(pfn) + Hot.P_FLAGS] = 0;
      a.pages.free(pfn, 0);
    }
    i32[w + S_NSPARE] = 0;
  }

  /** Closed blocks need a live drainer: ask every live thread (they arm their pump). */
  private handOver(): void {
    const a = this.a;
    if (!this.closedPending()) return;
    for (const s of a.threads.liveSlots()) if (s !== a.slot) a.threads.post(s, REQ_KFREE);
  }

  /** A dead thread's open block is closed for it (kernel: no loss on CPU offline). */
  private adoptSlot(slot: number): void {
    const a = this.a;
    const i32 = a.i32;
    const w = this.slotW(slot);
    // Its drain in hand: finished already by whoever took over its drain lock (detachDead:
    // releaseLocksOf -> repairLocked -> finishDrainOf); what is left here comes from a lock
    // broken by its lease meanwhile. Finished the same way (past its grace period).
    this.finishDrainOf(slot);
    const pfn = i32[w + S_CUR]!;
    if (pfn !== 0) {
      this.mark('adopt:read');
      const b = pageWord(pfn);
      // Queued first, then out of S_CUR (the order closeOwn uses): a barrier that looks in
      // between sees the block open (and waits for this detach: closedFor) or closed (with a
      // cookie taken before the barrier's GP), never neither.
      if (i32[b + B_OWNER] !== slot) {
        /* it died between queueing the block and clearing S_CUR: the block is on the
           closed list already (B_CLOSED), or was drained and reused by another thread */
      } else if (i32[b + B_COUNT]! > 0) {
        this.mark('adopt:checked');
        this.pushClosed(pfn);
        this.mark('adopt:queued');
      } else {
        i32[a.pm(pfn) + Hot.P_FLAGS] = 0;
        a.pages.free(pfn, 0);
      }
      i32[w + S_CUR] = 0;
      this.mark('adopt:cleared');
    }
    // Its open kfree_rcu sheaves (B_OWNER as for its block), and its ready ones: free
    // objects of its records, given back to the slabs (its records are flushed next).
    for (let idx = 0; idx < a.layout.maxCaches; idx++) {
      const r = a.recW(slot, idx);
      const rp = i32[r + R_RCU_SHEAF]!;
      if (rp !== 0) {
        const b = pageWord(rp);
        if (i32[b + B_OWNER] !== slot) {
          /* already on the closed list (see above) */
        } else if (i32[b + B_COUNT]! > 0) this.pushClosed(rp);
        else {
          i32[a.pm(rp) + Hot.P_FLAGS] = 0;
          a.pages.free(rp, 0);
        }
        i32[r + R_RCU_SHEAF] = 0; // queued first, then out of the record (as the block)
      }
      if (i32[r + R_RCU_READY] !== 0) this.dropReady(a.internalHandle(idx), r);
    }
    i32[w + S_RCU_OPEN] = 0;
    this.releaseSpares(slot);
  }

  /** Called by whoever detaches a dead thread. */
  adoptDead(slot: number, _gen: number): void {
    this.adoptSlot(slot);
    if (this.closedPending()) {
      this.arm(0);
      this.handOver();
    }
  }

  /** @internal fold a detached slot's per-cache kfree counters (called from the arena's fold). */
  static foldInto(i32: Int32Array, d: number, r: number): void {
    const q = i32[r + Hot.R_KFREE_Q]!;
    const dd = i32[r + Hot.R_KFREE_D]!;
    if (q) Atomics.add(i32, d + C_FOLD_KQ, q);
    if (dd) Atomics.add(i32, d + C_FOLD_KD, dd);
    i32[r + Hot.R_KFREE_Q] = 0;
    i32[r + Hot.R_KFREE_D] = 0;
  }
}
