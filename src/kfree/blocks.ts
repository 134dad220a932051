/**
 * Block page storage and the shared lists of closed batches (kernel: the
 * kvfree_rcu_bulk_data pages, krcp's page cache, and the list kfree_rcu_monitor hands to
 * kfree_rcu_work).
 *
 * Shared words (layout.ts in this folder names them all):
 * - S_NSPARE / S_SPARE..: this thread's cached free block pages (at most MAX_SPARE; kernel:
 *   rcu_min_cached_objs). Written by the owner with plain stores, or by whoever detaches a
 *   dead owner (releaseSpares), never both: a slot is detached only once its owner is gone.
 * - Block header (B_NEXT, B_COOKIE, B_COUNT, B_OWNER, B_SHEAF, B_GEN, B_ORIGIN): plain words
 *   of a page only its owner writes while it is open (B_OWNER = its slot). Once closed,
 *   B_NEXT and B_OWNER change only under G_LOCK (pushClosed), and the block belongs to the
 *   closed list, then to the drainer that unlinks it (drain.ts).
 * - G_CLOSED_HEAD / G_CLOSED_TAIL / G_NR_CLOSED and the rcu_head chains (G_CHAIN_*,
 *   G_CHCL_*): written only under G_LOCK. closedPending reads the heads without it (plain
 *   reads: a hint for the pump and the barrier, re-read under G_LOCK by the drain).
 * - Page metadata P_FLAGS of a block page: PK_PAGES stored (Atomics.store) when the page
 *   is taken, 0 before it goes back to the buddy allocator (which takes the zone lock).
 *
 * Locks (global order in src/layout.ts): G_LOCK is held only to link or unlink batches and
 * takes nothing else (getState reads RCU words without the GP mutex). takePage and
 * freePage take the zone lock inside the page allocator, never with G_LOCK held.
 *
 * Thread death: a thread killed between the two words of a spare push/pop leaks at most
 * that page (S_NSPARE is the last store). pushClosed links the block and sets B_OWNER =
 * B_CLOSED in one G_LOCK section, and the caller clears its own reference (S_CUR,
 * R_RCU_SHEAF) after it: a thread stopped in between leaves the block in both places, and
 * its adopter, seeing B_OWNER no longer its slot, does not queue it twice (adopt.ts). A
 * thread killed inside a G_LOCK section (a few plain stores) has the lock taken over by
 * its detacher (src/arena/hotplug.ts repairLocked), which repairs what the half-done section left
 * (repairLists) before it releases it: each section stores its publishing word last, so
 * the repair either undoes or completes it; no batch stays both queued and in hand.
 */
import { Hot, pageWord } from '../layout.js';
import { lock, unlock } from '../sync/mutex.js';
import { KHot } from './layout.js';
import type { KfreeState } from './state.js';

export class KfreeBlocks {
  constructor(private readonly s: KfreeState) {}

  /** A block page: a spare one, else a new page from the buddy allocator. 0 if none. */
  takePage(): number {
    const spare = this.takeSpare();
    if (spare !== 0) return spare;
    const host = this.s.host;
    const pfn = host.pages.alloc(0);
    if (pfn !== 0) Atomics.store(this.s.i32, host.pm(pfn) + Hot.P_FLAGS, Hot.PK_PAGES);
    return pfn;
  }

  /** One of this thread's spare block pages (kernel: the per-cpu page cache), 0 if none. */
  takeSpare(): number {
    const i32 = this.s.i32;
    const me = this.s.me;
    const ns = i32[me + KHot.S_NSPARE]!;
    if (ns === 0) return 0;
    i32[me + KHot.S_NSPARE] = ns - 1;
    return i32[me + KHot.S_SPARE + ns - 1]!;
  }

  /** A drained block page: kept as a spare while this thread is attached and has room, else freed. */
  recyclePage(pfn: number): void {
    const s = this.s;
    const i32 = s.i32;
    const ns = i32[s.me + KHot.S_NSPARE]!;
    if (ns < KHot.MAX_SPARE && !s.host.isDetached()) {
      i32[s.me + KHot.S_SPARE + ns] = pfn;
      i32[s.me + KHot.S_NSPARE] = ns + 1;
      return;
    }
    s.freePage(pfn);
  }

  /** Free every spare page of `slot` (this thread's, or a dead thread's by its detacher). */
  releaseSpares(slot: number): void {
    const s = this.s;
    const i32 = s.i32;
    const w = s.slotW(slot);
    const ns = i32[w + KHot.S_NSPARE]!;
    for (let k = 0; k < ns; k++) s.freePage(i32[w + KHot.S_SPARE + k]!);
    i32[w + KHot.S_NSPARE] = 0;
  }

  /**
   * Fresh header of block page `pfn`, owned by this thread, GP snapshot now; `sheaf` is
   * B_SHEAF (cache index + 1 for a kfree_rcu sheaf, 0 for a batch block). Returns its word index.
   */
  initBlock(pfn: number, sheaf: number): number {
    const s = this.s;
    const i32 = s.i32;
    const b = pageWord(pfn);
    i32[b + KHot.B_NEXT] = 0;
    i32[b + KHot.B_COUNT] = 0;
    i32[b + KHot.B_COOKIE] = s.host.rcu.getState();
    i32[b + KHot.B_OWNER] = s.slot;
    i32[b + KHot.B_SHEAF] = sheaf;
    return b;
  }

  /** Block (or kfree_rcu sheaf) `pfn` onto the tail of the closed list, with its GP cookie taken now. */
  pushClosed(pfn: number): void {
    const s = this.s;
    const i32 = s.i32;
    const g = s.g;
    const b = pageWord(pfn);
    i32[b + KHot.B_NEXT] = 0;
    // get_state_synchronize_rcu(), after the block's last insert (see insert.ts).
    i32[b + KHot.B_COOKIE] = s.host.rcu.getState();
    lock(i32, g + KHot.G_LOCK);
    const t = i32[g + KHot.G_CLOSED_TAIL]!;
    if (t === 0) i32[g + KHot.G_CLOSED_HEAD] = pfn;
    else i32[pageWord(t) + KHot.B_NEXT] = pfn;
    i32[g + KHot.G_CLOSED_TAIL] = pfn;
    i32[g + KHot.G_NR_CLOSED]++;
    i32[b + KHot.B_OWNER] = KHot.B_CLOSED;
    unlock(i32, g + KHot.G_LOCK);
  }

  /** Anything closed waits for a drain: blocks, the open or the closed rcu_head chain. */
  closedPending(): boolean {
    const i32 = this.s.i32;
    const g = this.s.g;
    return i32[g + KHot.G_CLOSED_HEAD] !== 0 || i32[g + KHot.G_CHAIN_HEAD] !== 0 || i32[g + KHot.G_CHCL_HEAD] !== 0;
  }

  /**
   * The barrier's step of the rcu_head chain (kernel: krcp->head moves to krwp->head_free
   * with head_free_gp_snap): under G_LOCK, the open chain becomes the closed chain, with a
   * cookie taken now, after every object the barrier waits for; later inserts start a new
   * open chain and cannot refresh it. False if the closed chain was not empty (the open
   * chain stays open: the caller's GP covers the closed one's cookie, its drain frees it,
   * and it tries again).
   */
  closeChain(): boolean {
    const s = this.s;
    const i32 = s.i32;
    const g = s.g;
    lock(i32, g + KHot.G_LOCK);
    let ok = true;
    if (i32[g + KHot.G_CHAIN_HEAD] !== 0) {
      if (i32[g + KHot.G_CHCL_HEAD] === 0) {
        // Cookie and count before the head that publishes them; the open chain is cleared
        // last (a thread killed before that leaves both heads naming one chain: the G_LOCK
        // repair, repairLists, clears the open one).
        i32[g + KHot.G_CHCL_COOKIE] = s.host.rcu.getState();
        i32[g + KHot.G_CHCL_COUNT] = i32[g + KHot.G_CHAIN_COUNT]!;
        i32[g + KHot.G_CHCL_HEAD] = i32[g + KHot.G_CHAIN_HEAD]!;
        i32[g + KHot.G_CHAIN_HEAD] = 0;
        i32[g + KHot.G_CHAIN_COUNT] = 0;
      } else {
        ok = false;
      }
    }
    unlock(i32, g + KHot.G_LOCK);
    return ok;
  }

  /**
   * G_LOCK was taken over from a dead holder (src/arena/hotplug.ts repairLocked; the taker holds
   * it): finish or undo the half-done section it left, so that no batch is both on a
   * shared list and in a dead thread's hands, and the list words agree with the list.
   * - A drainer (drain.ts drainLocked) publishes S_DRAINING = the first ready block, then
   *   unlinks the prefix (G_CLOSED_HEAD, G_CLOSED_TAIL, the last block's B_NEXT, G_NR_CLOSED).
   *   If G_CLOSED_HEAD still names that block, nothing was unlinked: S_DRAINING is cleared
   *   (the blocks stay queued, for the next drain). Otherwise the prefix is cut off the
   *   list where it meets G_CLOSED_HEAD (finishDrainOf then frees exactly the prefix).
   * - closeChain: both heads naming one chain: the open one is cleared.
   * - pushClosed: the list is walked from its head: G_CLOSED_TAIL, G_NR_CLOSED and each
   *   block's B_OWNER (B_CLOSED: its adopter must not queue it again) are set from it.
   * `deadSlot` is undefined for a lock broken by its lease (its holder's S_DRAINING is
   * not known): only the list words are rebuilt. Returns what was done, for the report.
   */
  repairLists(deadSlot: number | undefined, maxPages: number): string {
    const s = this.s;
    const i32 = s.i32;
    const g = s.g;
    const done: string[] = [];
    if (deadSlot !== undefined) {
      const w = s.slotW(deadSlot);
      const first = Atomics.load(i32, w + KHot.S_DRAINING);
      if (first !== 0) {
        const head = i32[g + KHot.G_CLOSED_HEAD]!;
        if (head === first) {
          Atomics.store(i32, w + KHot.S_DRAINING, 0);
          done.push('its drain had unlinked nothing (left queued)');
        } else if (head !== 0) {
          let p = first;
          for (let k = 0; k < maxPages && p !== 0; k++) {
            const next = i32[pageWord(p) + KHot.B_NEXT]!;
            if (next === head) {
              i32[pageWord(p) + KHot.B_NEXT] = 0;
              done.push('its drain cut off the queue');
              break;
            }
            p = next;
          }
        }
      }
    }
    if (i32[g + KHot.G_CHAIN_HEAD] !== 0 && i32[g + KHot.G_CHAIN_HEAD] === i32[g + KHot.G_CHCL_HEAD]) {
      i32[g + KHot.G_CHAIN_HEAD] = 0;
      i32[g + KHot.G_CHAIN_COUNT] = 0;
      done.push('the rcu_head chain closed once');
    }
    let n = 0;
    let tail = 0;
    for (let p = i32[g + KHot.G_CLOSED_HEAD]!; p !== 0 && n < maxPages; p = i32[pageWord(p) + KHot.B_NEXT]!) {
      i32[pageWord(p) + KHot.B_OWNER] = KHot.B_CLOSED;
      tail = p;
      n++;
    }
    i32[g + KHot.G_CLOSED_TAIL] = tail;
    i32[g + KHot.G_NR_CLOSED] = n;
    done.push(`closed list rebuilt (${n} blocks)`);
    return done.join('; ');
  }
}
