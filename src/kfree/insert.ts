/**
 * The kfreeRcu enqueue (kernel: kvfree_call_rcu, add_ptr_to_bulk_krc_lock): the per-thread
 * fast path, the checked slow path, the open block and its close with its GP cookie, and
 * the rcu_head fallback chain.
 *
 * Per thread, one open block page in shared memory collects pointers (4 bytes each; a
 * plain store of the record and the count: the block is owner-only while open). Its GP
 * cookie is taken when it is closed (blocks.ts pushClosed), after its newest insert: the
 * kernel refreshes it on every insert; a later snapshot is just as safe (a GP that began
 * after it began after every insert) and keeps the insert to three stores. A block is
 * closed when full (KVFREE_BULK_MAX_ENTR records, or DRAINED_BLOCK_ENTR while closes find
 * their GP complete: blkLimit) and then drained at once if one attempt at its GP succeeds
 * (pump.ts fullClosed), else on the next event-loop turn; or `kfreeRcuDrainMs` after its
 * first object (KFREE_DRAIN_JIFFIES, 5 s; pump.ts). Objects of a cache with sheaves go into
 * the thread's kfree_rcu sheaf of that cache instead (sheaves.ts).
 *
 * When no page can be had for a block (arena exhausted, no spare page), the object is
 * chained through its own memory onto a shared list with a GP cookie (kernel: the
 * rcu_head path, channel 3): the word used is the cache's free pointer word, or the
 * `rcuHeadOffset` the caller names (the 2-argument kfree_rcu). Never blocks, never loses.
 * That open chain's cookie is refreshed by every insert; a barrier first closes it
 * (blocks.ts closeChain), so inserts during its grace period cannot starve the objects it
 * waits for.
 *
 * Shared words:
 * - The object's state byte (slab/objstate.ts): checked ALLOC, then RCU, plain load and
 *   store by the thread that queues it (objstate.ts says who else writes it).
 * - The open block's records and B_COUNT, S_CUR, S_OPENED: owner-only, plain stores (a
 *   barrier reads S_CUR and B_COUNT with Atomics.load / plain reads as a hint only, and
 *   asks the owner to close: barrier.ts).
 * - R_KFREE_Q of this thread's cpu record: owner-only, a plain increment (stats read it
 *   under the cache lock, counts.ts; a stale read is off by in-flight objects only).
 * - The rcu_head chain (G_CHAIN_HEAD / COUNT / COOKIE, the object's rcu_head word): under
 *   G_LOCK, which takes nothing else (global order, src/layout.ts).
 *
 * Thread death: between the state byte and the B_COUNT store the object is RCU in no
 * batch (a destroy gives it back: src/slab/repair.ts reclaimOrphans). A
 * thread killed with an open block leaves it in S_CUR for its detacher (adopt.ts). closeOwn
 * queues first and clears S_CUR after (see there). A thread killed inside the chain's
 * G_LOCK section: see blocks.ts.
 *
 * The fast path is a per-instance closure (makeFastPath) with its constants copied in at
 * construction: V8 inlines it into the caller's loop only while it stays under TurboFan's
 * inlining budget (460 bytes of bytecode; it is about 445). Do not add property chains or
 * calls to it.
 */
import type { Cache } from '../slab/cache.js';
import { Hot, PAGE_SIZE, pageWord, pfnOfWord } from '../layout.js';
import { lock, unlock } from '../sync/mutex.js';
import { KHot } from './layout.js';
import { now31, type KfreeState } from './state.js';

// Module constants of this file (not imports) because the fast path reads them: V8 loads
// an imported binding from its module cell with a hole check on every use (src/layout.ts Hot).
export const DESC_WORDS = Hot.CACHE_BYTES >> 2;
export const REC_WORDS = Hot.CPU_REC_BYTES >> 2;
/** Records per block while blocks are drained at their close (KfreeInsert.blkLimit): 8 sheaves of 60. */
export const DRAINED_BLOCK_ENTR = 480;

export class KfreeInsert {
  /** Word index of the open block's page (pfn << 10), 0 when none: a JS copy of S_CUR for the fast path. */
  blk = 0;
  /**
   * Records at which the open block is closed: KVFREE_BULK_MAX_ENTR (a full page), or
   * DRAINED_BLOCK_ENTR while the last close found its GP complete and drained the block at
   * once (pump.ts fullClosed). Such a block comes back within one close, so a smaller one
   * costs no memory, and its objects fit the barn's full sheaves (10 sheaves of up to 60)
   * instead of spilling to slabs. A close whose GP a reader blocks goes back to full pages:
   * pending objects cost 4 bytes each.
   */
  blkLimit: number = KHot.KVFREE_BULK_MAX_ENTR;
  /** kvfree_call_rcu, one argument (a per-instance closure: see makeFastPath). */
  readonly kfreeRcu: (ptr: number) => void;

  constructor(private readonly s: KfreeState) {
    const pfn = s.i32[s.me + KHot.S_CUR]!;
    this.blk = pfn ? pageWord(pfn) : 0;
    this.kfreeRcu = this.makeFastPath();
  }

  /** Builds kfreeRcu. */
  private makeFastPath(): (ptr: number) => void {
    // A per-instance closure (one per thread) rather than a method: its constants live in
    // its context (immutable slots TurboFan folds when it inlines the closure), instead of
    // field loads from `this`.
    const self = this;
    const host = this.s.host;
    const i32 = this.s.i32;
    const metaW = this.s.metaW;
    const maxPages = host.maxPages;
    const descW0 = this.s.descW0;
    const recW0 = this.s.recW0;
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
    // The open block's insert (its GP cookie is taken when it is closed: see the header).
    const blockInsert = (ptr: number, idx: number): boolean => {
      const b = self.blk;
      const n = i32[b + KHot.B_COUNT]!; // b = 0: a header word, never used
      if (b === 0 || n === 0 || n >= self.blkLimit) return false;
      i32[b + KHot.B_REC + n] = ptr;
      i32[b + KHot.B_COUNT] = n + 1;
      i32[recW0 + idx * REC_WORDS + Hot.R_KFREE_Q]++;
      return true;
    };
    const f64 = host.f64;
    const u8 = host.u8;
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

  private firstInsert(): void {
    this.s.i32[this.s.me + KHot.S_OPENED] = now31();
    this.s.pump.arm(this.s.host.options.kfreeRcuDrainMs);
  }

  /** The checked insert: every pointer the fast path did not take, and the 2-argument form. */
  kfreeRcuSlow(ptr: number, rcuHeadOffset: number | undefined): void {
    if (ptr === 0) return; // kfree_rcu(NULL) is a no-op
    const s = this.s;
    const host = s.host;
    host.checkAttached();
    // Refuse what is not an allocated object: never queue garbage.
    const k = host.classify(ptr);
    let idx = -1;
    if (k.kind === 'slab') {
      const h = s.handle(k.idx);
      h.checkNotReleased('kfreeRcu');
      if (h.slabOf(ptr) < 0) return; // reported (interior pointer)
      // The 2-argument form's rcu_head must be a word of this object, checked before
      // anything is queued: the chain fallback writes it and recovers the object from
      // its address (an offset past the object named, and freed, the neighbour).
      if (rcuHeadOffset !== undefined && !this.headInside(ptr, rcuHeadOffset, h.objectSize, h.cacheName)) return;
      const st = h.stateOf(ptr);
      if (st !== Hot.OS_ALLOC) {
        // Refused before anything is queued: a double kfreeRcu, or a freed object.
        host.reportStateMisuse(h, ptr, 'kfreeRcu', st);
        return;
      }
      // Every path below queues the object (the rcu_head fallback never fails).
      h.setState(ptr, Hot.OS_RCU);
      idx = k.idx;
      if (rcuHeadOffset === undefined && h.rcuSheafCap !== 0 && h.allocOk() && s.sheaves.insert(h, ptr)) return;
    } else if (k.kind === 'none') {
      host.reportInvalidFree(undefined, ptr, `kfreeRcu: ${k.why}`);
      return;
    } else if (rcuHeadOffset !== undefined && !this.headInside(ptr, rcuHeadOffset, PAGE_SIZE << k.order, undefined)) {
      return;
    }
    const i32 = s.i32;
    let b = this.blk;
    let n = b ? i32[b + KHot.B_COUNT]! : KHot.KVFREE_BULK_MAX_ENTR;
    if (n >= this.blkLimit) {
      b = this.openBlock();
      if (b === 0) {
        this.chainFallback(ptr, idx, rcuHeadOffset);
        return;
      }
      n = 0;
    }
    i32[b + KHot.B_REC + n] = ptr;
    i32[b + KHot.B_COUNT] = n + 1;
    if (idx >= 0) i32[host.recW(s.slot, idx) + Hot.R_KFREE_Q]++;
    if (n === 0) this.firstInsert();
  }

  /**
   * kvfree_call_rcu's rcu_head (the kernel checks its offset at build time): a 4-byte
   * aligned word inside the object, 0 <= off <= objectSize - 4. Else a report and false
   * (the caller queues nothing).
   */
  private headInside(ptr: number, off: number, objectSize: number, cache: string | undefined): boolean {
    if (Number.isInteger(off) && off >= 0 && off <= objectSize - KHot.RCU_HEAD_BYTES && off % KHot.RCU_HEAD_BYTES === 0) return true;
    this.s.reports.badHead(ptr, off, objectSize, cache);
    return false;
  }

  /** The open block is full (or there is none): close it and open another. Returns its word index or 0. */
  private openBlock(): number {
    const s = this.s;
    if (this.blk !== 0) {
      this.closeOwn();
      // Drained now if no reader blocks its GP, else on the next tick (see blkLimit).
      this.blkLimit = s.pump.fullClosed() ? DRAINED_BLOCK_ENTR : KHot.KVFREE_BULK_MAX_ENTR;
    }
    let pfn = s.blocks.takePage();
    if (pfn === 0) {
      // Try to recycle ready blocks before giving up on a page.
      s.drain.drainReady(false);
      pfn = s.blocks.takeSpare();
      if (pfn === 0) return 0;
    }
    const b = s.blocks.initBlock(pfn, 0);
    s.i32[s.me + KHot.S_CUR] = pfn;
    this.blk = b;
    return b;
  }

  /** The rcu_head path: chain the object through its own memory (no page for a block). */
  private chainFallback(ptr: number, idx: number, rcuHeadOffset: number | undefined): void {
    const s = this.s;
    const host = s.host;
    const i32 = s.i32;
    const g = s.g;
    let off = 0;
    if (rcuHeadOffset !== undefined) off = rcuHeadOffset; // a word inside the object: checked by kfreeRcuSlow (headInside)
    else if (idx >= 0) off = host.internalHandle(idx).fp;
    const w = (ptr + off) >> 2;
    lock(i32, g + KHot.G_LOCK);
    // The list links rcu_head words (not objects); each object is recovered from its
    // link's address and the slab geometry when the list is freed (drain.ts objectOfLink).
    // The cookie first (a later snapshot is as safe for the older links), then the link,
    // then the head that publishes it: a thread killed in between leaves the chain with a
    // cookie no older than any of its objects (never freed before their grace period);
    // the object not yet linked is lost in state RCU, for a destroy to reclaim.
    i32[g + KHot.G_CHAIN_COOKIE] = host.rcu.getState();
    i32[w] = i32[g + KHot.G_CHAIN_HEAD]!;
    i32[g + KHot.G_CHAIN_HEAD] = ptr + off;
    i32[g + KHot.G_CHAIN_COUNT]++;
    unlock(i32, g + KHot.G_LOCK);
    if (idx >= 0) i32[host.recW(s.slot, idx) + Hot.R_KFREE_Q]++;
    s.pump.arm(0);
  }

  /** Move this thread's open block (if any has objects) and its kfree_rcu sheaves onto the shared closed list. */
  closeOwn(): void {
    const s = this.s;
    const i32 = s.i32;
    if (s.sheaves.open.length > 0) s.sheaves.closeAll();
    const b = this.blk;
    if (b === 0) return;
    if (i32[b + KHot.B_COUNT] === 0) return; // nothing in it: keep it open
    // On the closed list first, then out of S_CUR: a thread stopped in between leaves
    // the block in both places, and B_OWNER (no longer its slot) tells its adopter not
    // to queue it twice.
    s.blocks.pushClosed(pfnOfWord(b));
    i32[s.me + KHot.S_CUR] = 0;
    this.blk = 0;
  }

  /** This thread leaves: an empty open block's page goes back (closeOwn queued a non-empty one). */
  releaseEmpty(): void {
    const s = this.s;
    const b = this.blk;
    if (b === 0) return;
    this.blk = 0;
    s.i32[s.me + KHot.S_CUR] = 0;
    s.freePage(pfnOfWord(b));
  }
}
