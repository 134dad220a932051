/**
 * Page allocator: a binary buddy allocator over the arena's 4 KiB pages
 * (kernel: mm/page_alloc.c, __rmqueue_smallest / __free_one_page).
 *
 * Shared words and their rules:
 * - H_BUDDY_HEAD[order], page meta P_NEXT/P_PREV of free block heads, P_FLAGS of
 *   every page, H_NR_FREE, H_NR_USABLE, H_NR_PAGES: written only under H_BUDDY_LOCK
 *   (the zone lock); the lock's seq-cst acquire/release orders them.
 * - H_NR_PAGES is also read without the lock (range checks on free) with Atomics.load:
 *   it only grows, so a stale read errs on the side of "not yet committed".
 * - P_FLAGS of pages handed out is afterwards owned by the caller (the slab layer
 *   writes kind SLAB/TAIL under its cache lock before publishing the slab).
 *
 * A free block of order k starts at a pfn that is a multiple of 2^k; its buddy is
 * pfn ^ (1 << k). Blocks never extend below firstPage or beyond H_NR_PAGES.
 *
 * Growth: when the arena's SharedArrayBuffer is growable and a request cannot be met,
 * the buffer grows (by at least a quarter of its size, capped at maxBytes) under the
 * lock and the new pages are carved into aligned blocks. Every thread sees the new
 * length through its length-tracking views.
 */
import {
  H_BUDDY_HEAD, H_BUDDY_LOCK, H_NR_FREE, H_NR_PAGES, H_NR_USABLE, MAX_ORDER, P_CACHE, P_FLAGS, P_NEXT,
  P_PREV, PAGE_SHIFT, PAGE_SIZE, PK_BUDDY, PK_MASK, PK_NONE, PK_TAIL, pageMeta, type ArenaLayout,
  flagsOrder, pageFlags,
} from '../layout.js';
import { lock, unlock } from '../sync/mutex.js';

export class PageAllocator {
  private readonly meta: number; // word index of page meta for pfn 0

  constructor(
    private readonly i32: Int32Array,
    private readonly sab: SharedArrayBuffer,
    private readonly layout: ArenaLayout,
  ) {
    this.meta = layout.metaBase >> 2;
  }

  /** Word index of page `pfn`'s metadata. */
  pm(pfn: number): number {
    return pageMeta(this.meta, pfn);
  }

  /** Called once by Arena.create: every page from firstPage to nrPages becomes free. */
  init(nrPages: number): void {
    const i32 = this.i32;
    for (let o = 0; o <= MAX_ORDER; o++) i32[H_BUDDY_HEAD + o] = 0;
    i32[H_NR_FREE] = 0;
    i32[H_NR_USABLE] = 0;
    Atomics.store(i32, H_NR_PAGES, this.layout.firstPage);
    this.addRange(this.layout.firstPage, nrPages);
  }

  get nrPages(): number {
    return Atomics.load(this.i32, H_NR_PAGES);
  }

  get nrFree(): number {
    return Atomics.load(this.i32, H_NR_FREE);
  }

  get nrUsable(): number {
    return Atomics.load(this.i32, H_NR_USABLE);
  }

  /** Add pages [from, to) to the free lists as maximal aligned blocks (under the lock or at init). */
  private addRange(from: number, to: number): void {
    const i32 = this.i32;
    let pfn = from;
    while (pfn < to) {
      let order = MAX_ORDER;
      while (order > 0 && ((pfn & ((1 << order) - 1)) !== 0 || pfn + (1 << order) > to)) order--;
      // Mark the block's pages as not-a-head before the head goes on its list.
      for (let p = pfn + 1; p < pfn + (1 << order); p++) {
        i32[this.pm(p) + P_FLAGS] = PK_NONE;
      }
      this.pushFree(pfn, order);
      i32[H_NR_FREE] += 1 << order;
      i32[H_NR_USABLE] += 1 << order;
      pfn += 1 << order;
    }
    Atomics.store(i32, H_NR_PAGES, to);
  }

  private pushFree(pfn: number, order: number): void {
    const i32 = this.i32;
    const m = this.pm(pfn);
    const head = i32[H_BUDDY_HEAD + order];
    i32[m + P_FLAGS] = pageFlags(PK_BUDDY, order);
    i32[m + P_NEXT] = head;
    i32[m + P_PREV] = 0;
    if (head !== 0) i32[this.pm(head) + P_PREV] = pfn;
    i32[H_BUDDY_HEAD + order] = pfn;
  }

  private unlinkFree(pfn: number, order: number): void {
    const i32 = this.i32;
    const m = this.pm(pfn);
    const next = i32[m + P_NEXT];
    const prev = i32[m + P_PREV];
    if (prev !== 0) i32[this.pm(prev) + P_NEXT] = next;
    else i32[H_BUDDY_HEAD + order] = next;
    if (next !== 0) i32[this.pm(next) + P_PREV] = prev;
    i32[m + P_FLAGS] = PK_NONE;
    i32[m + P_NEXT] = 0;
    i32[m + P_PREV] = 0;
  }

  /**
   * Allocate 2^order contiguous pages. Returns the first pfn, or 0 when no block can be
   * had (never throws for exhaustion). The caller sets the pages' kind.
   */
  alloc(order: number): number {
    if (order < 0 || order > MAX_ORDER) throw new RangeError(`page order ${order} is outside 0..${MAX_ORDER}`);
    const i32 = this.i32;
    lock(i32, H_BUDDY_LOCK);
    try {
      let pfn = this.take(order);
      if (pfn === 0 && this.grow(order)) pfn = this.take(order);
      return pfn;
    } finally {
      unlock(i32, H_BUDDY_LOCK);
    }
  }

  /** __rmqueue_smallest + expand: take the smallest block >= order, split the rest back. */
  private take(order: number): number {
    const i32 = this.i32;
    for (let o = order; o <= MAX_ORDER; o++) {
      const pfn = i32[H_BUDDY_HEAD + o];
      if (pfn === 0) continue;
      this.unlinkFree(pfn, o);
      // Split: the upper halves go back to the free lists.
      for (let k = o; k > order; k--) this.pushFree(pfn + (1 << (k - 1)), k - 1);
      i32[H_NR_FREE] -= 1 << order;
      return pfn;
    }
    return 0;
  }

  /** Grow a growable SharedArrayBuffer so that a block of `order` fits (under the lock). */
  private grow(order: number): boolean {
    const sab = this.sab as SharedArrayBuffer & { growable?: boolean; maxByteLength?: number; grow?(n: number): void };
    if (!sab.growable || !sab.grow) return false;
    const cur = Atomics.load(this.i32, H_NR_PAGES);
    const maxPages = Math.min(this.layout.maxPages, Math.floor((sab.maxByteLength ?? 0) / PAGE_SIZE));
    const need = 1 << order;
    // Round the start of the new range up so an aligned block of this order fits.
    const alignedStart = (cur + need - 1) & ~(need - 1);
    let target = Math.max(alignedStart + need, cur + Math.max(16, cur >> 2));
    target = Math.min(target, maxPages);
    if (target < alignedStart + need) return false;
    if (sab.byteLength < target * PAGE_SIZE) sab.grow(target * PAGE_SIZE);
    this.addRange(cur, target);
    return true;
  }

  /** Free 2^order pages starting at pfn, merging with free buddies (__free_one_page). */
  free(pfn: number, order: number): void {
    const i32 = this.i32;
    lock(i32, H_BUDDY_LOCK);
    try {
      for (let p = pfn + 1; p < pfn + (1 << order); p++) {
        const m = this.pm(p);
        i32[m + P_FLAGS] = PK_NONE;
        i32[m + P_CACHE] = 0;
      }
      i32[H_NR_FREE] += 1 << order;
      const first = this.layout.firstPage;
      const end = Atomics.load(i32, H_NR_PAGES);
      while (order < MAX_ORDER) {
        const buddy = pfn ^ (1 << order);
        if (buddy < first || buddy + (1 << order) > end) break;
        const f = i32[this.pm(buddy) + P_FLAGS];
        if (f !== (pageFlags(PK_BUDDY, order))) break;
        this.unlinkFree(buddy, order);
        i32[this.pm(Math.max(pfn, buddy)) + P_FLAGS] = PK_NONE;
        pfn = Math.min(pfn, buddy);
        order++;
      }
      const m = this.pm(pfn);
      i32[m + P_CACHE] = 0;
      this.pushFree(pfn, order);
    } finally {
      unlock(i32, H_BUDDY_LOCK);
    }
  }

  /**
   * Repair after a thread died holding H_BUDDY_LOCK (the caller now holds it): the free
   * lists and H_NR_FREE are rebuilt from the page kinds, which are authoritative: a page
   * whose kind is PK_BUDDY heads a free block of the order in its flags (pushFree writes
   * the kind before it links; unlinkFree clears it when it unlinks, and a merge clears the
   * absorbed buddy's), and no such head lies inside an allocated block. A block the dead
   * thread was splitting or merging at that instant is lost with it. Returns free pages.
   */
  rebuildFreeLists(): number {
    const i32 = this.i32;
    for (let o = 0; o <= MAX_ORDER; o++) i32[H_BUDDY_HEAD + o] = 0;
    let nr = 0;
    const end = Atomics.load(i32, H_NR_PAGES);
    for (let pfn = this.layout.firstPage; pfn < end; ) {
      const f = i32[this.pm(pfn) + P_FLAGS]!;
      if ((f & PK_MASK) === PK_BUDDY) {
        const o = flagsOrder(f);
        if (o <= MAX_ORDER && (pfn & ((1 << o) - 1)) === 0 && pfn + (1 << o) <= end) {
          this.pushFree(pfn, o);
          nr += 1 << o;
          pfn += 1 << o;
          continue;
        }
        i32[this.pm(pfn) + P_FLAGS] = PK_NONE;
      }
      pfn++;
    }
    i32[H_NR_FREE] = nr;
    return nr;
  }

  /** Mark pages pfn+1 .. pfn+2^order-1 as tails of the block at pfn (compound page). */
  markTails(pfn: number, order: number): void {
    const i32 = this.i32;
    for (let p = pfn + 1; p < pfn + (1 << order); p++) {
      const m = this.pm(p);
      i32[m + P_CACHE] = pfn;
      Atomics.store(i32, m + P_FLAGS, PK_TAIL);
    }
  }

  /** Consistency walk for tests: free pages on the lists == H_NR_FREE. */
  countFreeLists(): number {
    const i32 = this.i32;
    let n = 0;
    lock(i32, H_BUDDY_LOCK);
    try {
      for (let o = 0; o <= MAX_ORDER; o++) {
        for (let p = i32[H_BUDDY_HEAD + o]; p !== 0; p = i32[this.pm(p) + P_NEXT]) n += 1 << o;
      }
    } finally {
      unlock(i32, H_BUDDY_LOCK);
    }
    return n;
  }

  /** Page frame number of a byte pointer. */
  static pfnOf(ptr: number): number {
    return ptr >>> PAGE_SHIFT;
  }
}
