/**
 * kfree_rcu sheaves (kernel: __kfree_rcu_sheaf, the rcu_free sheaf of slub_percpu_sheaves):
 * an object of a cache with percpu sheaves goes into this thread's kfree_rcu sheaf of that
 * cache: a block page like the batch blocks (so barriers, adoption, pending counts and the
 * drain treat it as one), named after the cache (B_SHEAF, B_GEN), holding up to sheafCap
 * objects. When full it is closed onto the shared list with its GP cookie. After the GP,
 * if the thread that filled it (B_ORIGIN) drains it, the sheaf goes onto that thread's
 * ready list (R_RCU_READY) and its objects are reused by its allocations directly
 * (allocFromReady); any other drainer frees them to their slabs.
 *
 * Shared words:
 * - R_RCU_SHEAF, R_RCU_READY of a cpu record, S_RCU_OPEN of the slot line: owner-only,
 *   plain stores; a barrier reads S_RCU_OPEN (Atomics.load) as a hint, and a dead owner's
 *   are read and cleared by its detacher only (adopt.ts). R_RCU_READY is also emptied by
 *   flushRecord (slab/core.ts, through dropReady) for this thread's record or a dead one's.
 * - The sheaf's records and B_COUNT: as a block's (blocks.ts): owner-only while open.
 * - R_KFREE_Q / R_KFREE_D / R_FREE_SLOW / R_ALLOC_SLOW: owner-only counters, plain.
 * - Object state bytes: RCU -> CACHED (takeReady), under G_DRAIN_LOCK, for objects no one
 *   else may touch (past their grace period, in no list).
 *
 * Locks: takeReady runs under G_DRAIN_LOCK (drain.ts); dropReady takes the cache's locks
 * inside SlabCore.freeUncounted; allocFromReady runs from SlabCore.allocSlow with no lock
 * held (global order: src/layout.ts).
 *
 * Thread death: closeOne queues the sheaf before it clears R_RCU_SHEAF (as closeOwn for
 * a block): a thread stopped in between leaves it in both places and B_OWNER tells its
 * adopter. takeReady takes the sheaf out of S_DRAINING before it marks its objects
 * (a thread stopped in between leaks the sheaf's objects rather than freeing them twice).
 */
import type { Cache } from '../slab/cache.js';
import { Hot, pageWord, pfnOfWord } from '../layout.js';
import { KHot } from './layout.js';
import { REC_WORDS } from './insert.js';
import { now31, type KfreeState } from './state.js';

/** KfreeSheaves.openedAt while a zero-delay tick is pending: that tick stamps the age. */
export const OPENED_AT_NEXT_TICK = -1;

export class KfreeSheaves {
  /** Cache indexes with an open kfree_rcu sheaf in this thread (owner-only). */
  readonly open: number[] = [];
  /** now31() when the first of `open` was opened (or OPENED_AT_NEXT_TICK). */
  openedAt = 0;

  constructor(private readonly s: KfreeState) {}

  /**
   * The slow-path insert into this thread's kfree_rcu sheaf of h's cache (a full one is
   * closed and a new one opened). Returns false if no page can be had (the caller takes
   * the block path).
   */
  insert(h: Cache, ptr: number): boolean {
    const s = this.s;
    const i32 = s.i32;
    const rec = h.rec;
    const cap = Math.min(h.rcuSheafCap, KHot.KVFREE_BULK_MAX_ENTR);
    let rp = i32[rec + Hot.R_RCU_SHEAF]!;
    if (rp !== 0) {
      const w = pageWord(rp);
      const n = i32[w + KHot.B_COUNT]!;
      if (n > 0 && i32[w + KHot.B_REC + n - 1] === ptr) {
        s.host.reportDoubleFree(h, ptr);
        return true;
      }
      if (n >= cap) {
        this.closeOne(h.idx);
        s.pump.fullClosed(); // drained now if no reader blocks its GP, else on the next tick
        rp = 0;
      }
    }
    if (rp === 0) {
      rp = s.blocks.takePage();
      if (rp === 0) return false;
      s.blocks.initBlock(rp, h.idx + 1);
      const w = pageWord(rp);
      i32[w + KHot.B_GEN] = h.gen;
      i32[w + KHot.B_ORIGIN] = s.slot;
      i32[rec + Hot.R_RCU_SHEAF] = rp;
      if (this.open.length === 0) {
        // With a zero-delay tick pending (a sheaf just closed), that tick stamps the age.
        if (s.pump.zeroPending) {
          this.openedAt = OPENED_AT_NEXT_TICK;
        } else {
          this.openedAt = now31();
          s.pump.arm(s.host.options.kfreeRcuDrainMs);
        }
      }
      this.open.push(h.idx);
      i32[s.me + KHot.S_RCU_OPEN] = this.open.length;
    }
    const w = pageWord(rp);
    const n = i32[w + KHot.B_COUNT]!;
    i32[w + KHot.B_REC + n] = ptr;
    i32[w + KHot.B_COUNT] = n + 1;
    i32[rec + Hot.R_KFREE_Q]++;
    return true;
  }

  /** Close this thread's kfree_rcu sheaf of cache idx: onto the closed list (or recycled if empty). */
  private closeOne(idx: number): void {
    const s = this.s;
    const i32 = s.i32;
    const rec = s.recW0 + idx * REC_WORDS;
    const rp = i32[rec + Hot.R_RCU_SHEAF]!;
    if (rp === 0) return;
    // Closed list first, then out of the record (see insert.ts closeOwn for why).
    if (i32[pageWord(rp) + KHot.B_COUNT]! > 0) s.blocks.pushClosed(rp);
    else s.blocks.recyclePage(rp);
    i32[rec + Hot.R_RCU_SHEAF] = 0;
    const k = this.open.indexOf(idx);
    if (k >= 0) this.open.splice(k, 1);
    i32[s.me + KHot.S_RCU_OPEN] = this.open.length;
  }

  /** Close every open kfree_rcu sheaf of this thread. */
  closeAll(): void {
    while (this.open.length > 0) this.closeOne(this.open[this.open.length - 1]!);
  }

  /**
   * Under G_DRAIN_LOCK, a ready kfree_rcu sheaf this thread filled: its objects become
   * free objects of this thread's record (counted freed now), kept on R_RCU_READY for
   * its next allocations. False if the cache no longer allows that (the caller frees
   * the block to the slabs).
   */
  takeReady(b: number, next: number): boolean {
    const s = this.s;
    const i32 = s.i32;
    const idx = i32[b + KHot.B_SHEAF]! - 1;
    const h = s.handle(idx);
    if (h.gen !== i32[b + KHot.B_GEN] || h.rcuSheafCap === 0 || !h.allocOk()) return false;
    // At most one ready sheaf per thread and cache: nothing per thread grows without a
    // bound; the next one is freed into the drainer's sheaves like any batch.
    if (i32[h.rec + Hot.R_RCU_READY] !== 0) return false;
    Atomics.store(i32, s.me + KHot.S_DRAINING, next);
    const rec = h.rec;
    const n = i32[b + KHot.B_COUNT]!;
    // Pending -> cached: the objects are free ones of this thread's record now.
    for (let k = 0; k < n; k++) h.setState(i32[b + KHot.B_REC + k]!, Hot.OS_CACHED);
    i32[rec + Hot.R_KFREE_D] += n;
    i32[rec + Hot.R_FREE_SLOW] += n;
    i32[b + KHot.B_OWNER] = KHot.B_READY;
    i32[b + KHot.B_NEXT] = i32[rec + Hot.R_RCU_READY]!;
    i32[rec + Hot.R_RCU_READY] = pfnOfWord(b);
    return true;
  }

  /**
   * SlabCore.allocSlow of a sheaf cache with ready kfree_rcu sheaves: refill the (empty)
   * main sheaf from the newest ready one and return one object (counted as a slow-path
   * alloc). 0 if nothing could be taken.
   */
  allocFromReady(c: Cache): number {
    const s = this.s;
    const i32 = s.i32;
    const rec = c.rec;
    const rp = i32[rec + Hot.R_RCU_READY]!;
    if (rp === 0 || c.sheafCap === 0) return 0;
    const w = pageWord(rp);
    let n = i32[w + KHot.B_COUNT]!;
    let obj = 0;
    if (n > 0) {
      if (s.host.slab.ensureSheaf(c) && i32[rec + Hot.R_RCU_READY] === rp) {
        const sb = i32[rec + Hot.R_SHEAF]! >> 2;
        const sn = i32[rec + Hot.R_SHEAF_TOP]! - sb;
        const take = Math.min(c.sheafCap - sn, n);
        if (take > 0) {
          i32.copyWithin(sb + sn, w + KHot.B_REC + n - take, w + KHot.B_REC + n);
          n -= take;
          i32[w + KHot.B_COUNT] = n;
        }
        const top = sn + take - 1;
        if (top >= 0) {
          obj = i32[sb + top]!;
          i32[rec + Hot.R_SHEAF_TOP] = sb + top;
        }
      } else if (i32[rec + Hot.R_RCU_READY] === rp) {
        // No main sheaf to be had: hand out the sheaf's objects one at a time.
        n--;
        obj = i32[w + KHot.B_REC + n]!;
        i32[w + KHot.B_COUNT] = n;
      } else {
        return 0; // flushed meanwhile (ensureSheaf served a request)
      }
    }
    if (n === 0) {
      i32[rec + Hot.R_RCU_READY] = i32[w + KHot.B_NEXT]!;
      s.blocks.recyclePage(rp);
    }
    if (obj !== 0) i32[rec + Hot.R_ALLOC_SLOW]++;
    return obj;
  }

  /**
   * flushRecord: give record `rec`'s ready kfree_rcu sheaves back to the slabs (this
   * thread's record or a dead thread's). Their objects were counted freed already.
   */
  dropReady(c: Cache, rec: number): number {
    const s = this.s;
    const i32 = s.i32;
    let freed = 0;
    for (let p = i32[rec + Hot.R_RCU_READY]!; p !== 0; ) {
      const w = pageWord(p);
      const next = i32[w + KHot.B_NEXT]!;
      i32[rec + Hot.R_RCU_READY] = next;
      const n = i32[w + KHot.B_COUNT]!;
      i32[w + KHot.B_COUNT] = 0;
      for (let k = 0; k < n; k++) s.host.slab.freeUncounted(c, rec, i32[w + KHot.B_REC + k]!);
      freed += n;
      s.freePage(p);
      p = next;
    }
    return freed;
  }

  /** Ready kfree_rcu sheaves of every cache of this thread back to the slabs (memory pressure, detach). */
  dropAllReady(): boolean {
    const s = this.s;
    const i32 = s.i32;
    let any = false;
    for (let idx = 0; idx < s.host.maxCaches; idx++) {
      const rec = s.recW0 + idx * REC_WORDS;
      if (i32[rec + Hot.R_RCU_READY] !== 0 && this.dropReady(s.host.internalHandle(idx), rec) > 0) any = true;
    }
    return any;
  }
}
