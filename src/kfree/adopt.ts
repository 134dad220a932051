/**
 * Threads leaving (kernel: no loss on CPU offline): this thread's detach, and the adoption
 * of a dead thread's batches by whoever detaches it (Arena.detachDead). Because blocks
 * live in the arena, a dead thread's open block is adopted and nothing is lost.
 *
 * Shared words of the leaving slot (its line and its cpu records' R_RCU_SHEAF /
 * R_RCU_READY): written by the owner while it lives, then by its detacher only (the slot
 * is TS_DETACHING, threads.ts beginDetach, so no two detachers and no new owner), with
 * plain stores. A block's B_OWNER says whether it is still the slot's own (its slot) or
 * already queued (B_CLOSED, set under G_LOCK by pushClosed), or drained and reused.
 *
 * Order: a dead thread's drain in hand is finished first (by whoever took over its
 * G_DRAIN_LOCK: detachDead's releaseLocksOf -> repairLocked -> finishDrainOf, before this
 * runs); its open block and sheaves are queued first, then cleared from S_CUR /
 * R_RCU_SHEAF (the order closeOwn uses): a barrier that looks in between sees the block
 * open (and waits for this detach: barrier.ts closedFor) or closed (with a cookie taken
 * before the barrier's GP), never neither. Then its spare pages go back, and every live
 * thread is asked (REQ_KFREE) to drain what is closed.
 *
 * Locks: pushClosed takes G_LOCK alone; page frees take the zone lock alone; dropReady
 * takes cache locks alone (global order: src/layout.ts).
 *
 * Thread death of the adopter itself (killed inside detachDead): the adopted slot stays
 * TS_DETACHING (endDetach never runs), so nobody adopts it again; what had not been queued
 * yet stays in that slot's words, and a barrier waiting for the slot gives up at its
 * deadline (barrier.ts closedFor). This thread's own detach runs with no lock held between
 * its steps; a thread killed inside it is detached by another as a dead thread.
 */
import { R_RCU_READY, R_RCU_SHEAF, REQ_KFREE, pageWord } from '../layout.js';
import { B_COUNT, B_OWNER, S_CUR, S_RCU_OPEN } from './layout.js';
import type { KfreeState } from './state.js';

export class KfreeAdopt {
  constructor(private readonly s: KfreeState) {}

  /** This thread leaves: close its block, give back spare pages, ask live threads to drain. */
  detach(): void {
    const s = this.s;
    s.off = true;
    s.insert.closeOwn();
    s.sheaves.dropAllReady();
    s.insert.releaseEmpty();
    s.blocks.releaseSpares(s.slot);
    s.pump.stop();
    this.handOver();
  }

  /** Closed blocks need a live drainer: ask every live thread (they arm their pump). */
  private handOver(): void {
    const s = this.s;
    if (!s.blocks.closedPending()) return;
    const threads = s.host.threads;
    for (const slot of threads.liveSlots()) if (slot !== s.slot) threads.post(slot, REQ_KFREE);
  }

  /** A dead thread's open block and sheaves are closed for it (see the header). */
  private adoptSlot(slot: number): void {
    const s = this.s;
    const host = s.host;
    const i32 = s.i32;
    const w = s.slotW(slot);
    // Its drain in hand: finished already by whoever took over its drain lock (detachDead:
    // releaseLocksOf -> repairLocked -> finishDrainOf); what is left here comes from a lock
    // broken by its lease meanwhile. Finished the same way (past its grace period).
    s.drain.finishDrainOf(slot);
    const pfn = i32[w + S_CUR]!;
    if (pfn !== 0) {
      s.mark('adopt:read');
      const b = pageWord(pfn);
      if (i32[b + B_OWNER] !== slot) {
        /* it died between queueing the block and clearing S_CUR: the block is on the
           closed list already (B_CLOSED), or was drained and reused by another thread */
      } else if (i32[b + B_COUNT]! > 0) {
        s.mark('adopt:checked');
        s.blocks.pushClosed(pfn);
        s.mark('adopt:queued');
      } else {
        s.freePage(pfn);
      }
      i32[w + S_CUR] = 0;
      s.mark('adopt:cleared');
    }
    // Its open kfree_rcu sheaves (B_OWNER as for its block), and its ready ones: free
    // objects of its records, given back to the slabs (its records are flushed next).
    for (let idx = 0; idx < host.maxCaches; idx++) {
      const r = host.recW(slot, idx);
      const rp = i32[r + R_RCU_SHEAF]!;
      if (rp !== 0) {
        const b = pageWord(rp);
        if (i32[b + B_OWNER] !== slot) {
          /* already on the closed list (see above) */
        } else if (i32[b + B_COUNT]! > 0) s.blocks.pushClosed(rp);
        else s.freePage(rp);
        i32[r + R_RCU_SHEAF] = 0; // queued first, then out of the record (as the block)
      }
      if (i32[r + R_RCU_READY] !== 0) s.sheaves.dropReady(host.internalHandle(idx), r);
    }
    i32[w + S_RCU_OPEN] = 0;
    s.blocks.releaseSpares(slot);
  }

  /** Called by whoever detaches a dead thread. */
  adoptDead(slot: number): void {
    this.adoptSlot(slot);
    if (this.s.blocks.closedPending()) {
      this.s.pump.arm(0);
      this.handOver();
    }
  }
}
