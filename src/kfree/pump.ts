/**
 * When draining happens (kernel: kfree_rcu_monitor's delayed work, the kfree_rcu shrinker):
 * at the close of a full block or kfree_rcu sheaf when one attempt at its GP succeeds
 * (fullClosed: Rcu.tryGp, never waiting), this thread's drain timer, the RCU worker's
 * tick, REQ_KFREE requests from other threads, and memory pressure.
 *
 * The timer runs on this thread's event loop only while this thread has an open block or
 * sees closed blocks; its timers are unref'd (never keep a process alive). arm() keeps one
 * timer, the earliest due; a zero-delay tick pending (zeroPending) re-reads every age and
 * re-arms for what is left, so arm() has nothing to add until it ran (and skips its clock
 * read: at one full kfree_rcu sheaf per 32..255 objects, Date.now() was a tenth of the
 * per-object cost).
 *
 * Shared words:
 * - S_OPENED: owner-only (insert.ts writes it, tick reads it).
 * - S_ACK: bumped with Atomics.add (and notified) after serviceRequests closed our batches:
 *   the barrier that asked reads it with Atomics.load (barrier.ts closedFor).
 * - Everything else through the drain (drain.ts), the closes (insert.ts, sheaves.ts) and
 *   RCU (startPoll, tryGp, synchronizeAsync: the GP mutex, a leaf of the global order;
 *   tryGp only ever try-locks it, with nothing else held).
 * The JS fields here are thread-local.
 *
 * Locks: none of its own; reclaim frees spare pages (the zone lock, inside the page
 * allocator) with nothing held, and drains with G_DRAIN_LOCK waited for.
 *
 * Thread death: a thread killed inside fullClosed's tryGp holds the GP mutex with a GP
 * possibly in progress: a GP holder that died (rcu/core.ts gpBody completes it; the mutex
 * is broken for its detacher); killed in its drain, as any drainer (drain.ts).
 * A thread killed between closing its batches and bumping S_ACK: the barrier
 * that asked sees its batches closed (S_CUR, S_RCU_OPEN cleared) or its slot detached
 * (barrier.ts closedFor). A dead thread's timer never fires; what it would have drained
 * is drained by the next drainer (its detacher asks every live thread: adopt.ts).
 */
import { stalledWaitMs } from '../rcu/stall.js';
import { B_COUNT, S_ACK, S_NSPARE, S_OPENED } from './layout.js';
import { OPENED_AT_NEXT_TICK } from './sheaves.js';
import { ageMs, now31, type KfreeState } from './state.js';

type Timer = ReturnType<typeof setTimeout>;
const unref = (t: Timer): Timer => {
  (t as { unref?: () => void }).unref?.();
  return t;
};

export class KfreePump {
  private timer: Timer | undefined = undefined;
  private timerDue = 0;
  /** A zero-delay tick is scheduled (see the header). */
  zeroPending = false;
  /** A grace period driven by tick is on its way (synchronizeAsync). */
  private gpRunning = false;

  constructor(private readonly s: KfreeState) {}

  /** Make sure a drain tick runs within `ms` (unref'd timer). */
  arm(ms: number): void {
    if (this.zeroPending) return;
    const due = Date.now() + ms;
    if (this.timer !== undefined && this.timerDue <= due) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDue = due;
    this.zeroPending = ms <= 0;
    this.timer = unref(setTimeout(() => this.tick(), ms));
  }

  /**
   * A full block or kfree_rcu sheaf was just closed (kernel: kvfree_call_rcu, whose full
   * bulk page goes to the monitor at once, and the polled GP API the monitor uses to find
   * batches already past their GP). One attempt at the GP that covers it, never waiting
   * (Rcu.tryGp: it gives up at the first reader in a section, this thread's too, and a
   * qsbr thread online never tries), then the ready batches are drained here, on this
   * thread, without waiting for the drain lock. So a thread that frees through kfreeRcu
   * with no reader in the way gets its objects back within a block's worth of inserts,
   * where its allocations find them (sheaves, barn), instead of at the next event-loop
   * turn, which a synchronous loop may not give for a long time. What is not ready is
   * drained by the next tick, as before. True if the GP was complete (insert.ts blkLimit).
   */
  fullClosed(): boolean {
    const s = this.s;
    const rcu = s.host.rcu;
    const done = rcu.tryGp(rcu.getState());
    if (done) s.drain.drainReady(false);
    if (s.blocks.closedPending()) this.arm(0);
    return done;
  }

  /** This thread leaves: no more ticks. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.zeroPending = false;
  }

  /** The monitor: close an old open block, free what is ready, start a GP for the rest. */
  private tick(): void {
    this.timer = undefined;
    this.zeroPending = false;
    const s = this.s;
    const host = s.host;
    if (host.isDetached()) return;
    const i32 = s.i32;
    const drainMs = host.options.kfreeRcuDrainMs;
    const b = s.insert.blk;
    if (b !== 0 && i32[b + B_COUNT]! > 0) {
      const age = ageMs(i32[s.me + S_OPENED]!);
      if (age >= drainMs) s.insert.closeOwn();
      else this.arm(drainMs - age);
    }
    const sheaves = s.sheaves;
    if (sheaves.open.length > 0) {
      // kfree_rcu sheaves: all closed together, kfreeRcuDrainMs after the first opened.
      if (sheaves.openedAt === OPENED_AT_NEXT_TICK) sheaves.openedAt = now31();
      const age = ageMs(sheaves.openedAt);
      if (age >= drainMs) sheaves.closeAll();
      else this.arm(drainMs - age);
    }
    s.drain.drainReady(false);
    if (s.blocks.closedPending() && !this.gpRunning) {
      // Closed blocks wait for a grace period: drive one without blocking (kernel:
      // queue_rcu_work, which waits for a normal GP and then runs kfree_rcu_work).
      this.gpRunning = true;
      host.rcu.synchronizeAsync().then(
        () => {
          this.gpRunning = false;
          if (!host.isDetached()) this.arm(0);
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
    const s = this.s;
    if (!s.blocks.closedPending()) return;
    s.drain.drainReady(false);
    if (s.blocks.closedPending()) s.host.rcu.startPoll();
  }

  /** REQ_KFREE from another thread: close our open block, take part in draining. */
  serviceRequests(): void {
    const s = this.s;
    s.insert.closeOwn();
    Atomics.add(s.i32, s.me + S_ACK, 1);
    Atomics.notify(s.i32, s.me + S_ACK);
    if (s.blocks.closedPending()) this.arm(0);
  }

  /**
   * The kfree_rcu shrinker: free ready batches, give back spare pages; if that freed
   * nothing and batches wait, expedite a grace period and free them. True if anything
   * was freed.
   */
  reclaim(): boolean {
    const s = this.s;
    const host = s.host;
    const i32 = s.i32;
    s.mark('reclaim:start');
    let any = i32[s.me + S_NSPARE]! > 0;
    s.blocks.releaseSpares(s.slot);
    s.insert.closeOwn();
    if (s.drain.drainReady(true) > 0) any = true;
    if (s.sheaves.dropAllReady()) any = true;
    if (s.blocks.closedPending() && host.rcu.mayWaitImplicitly) {
      // Bounded (rcuStallTimeoutMs + 250 ms): with a stalled reader the allocation that
      // asked fails (returns 0) after the stall warning names the reader, instead of
      // waiting for it forever. What is ready by then is drained either way.
      host.rcu.synchronizeBounded(stalledWaitMs(host.options.rcuStallTimeoutMs));
      if (s.drain.drainReady(true) > 0) any = true;
      if (s.sheaves.dropAllReady()) any = true;
    }
    return any;
  }
}
