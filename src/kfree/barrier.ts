/**
 * kvfree_rcu_barrier and kvfree_rcu_barrier_on_cache: every object passed to kfreeRcu
 * before the call is freed on return, unless a thread stalls it. One generator body
 * (barrierBody) for the blocking and the async forms, driven by wait.ts.
 *
 * Steps: close our own batches; ask every other thread whose slot shows an open batch to
 * close it (REQ_KFREE, served by its serviceRequests: pump.ts) and poll for its answer
 * until `flushDeadline`; close the rcu_head chain (blocks.ts closeChain), wait for a grace
 * period (bounded by gpWaitMs: stalledWaitMs), drain with the drain lock waited for;
 * again if the closed chain was another barrier's.
 *
 * Shared words (read only, except through the calls named):
 * - S_CUR, S_RCU_OPEN, S_ACK of other slots: Atomics.load. S_CUR and S_RCU_OPEN are the
 *   owner's (plain stores) and only a hint; S_ACK is bumped by the owner (Atomics.add) after
 *   it closed its batches, so a changed S_ACK means everything it had queued before our
 *   request is on the closed list, with a cookie taken after our call began.
 * - B_COUNT of another slot's open block: a plain read; an insert ordered before the
 *   barrier call (by whatever synchronized the two threads) is visible to it.
 * - The thread table (T_STATE, T_GEN: threads.ts) to tell a slot that went away.
 * - G_DRAIN_LOCK (mayHavePending): Atomics.load, see there.
 *
 * Locks: none held across the waits; the drain takes G_DRAIN_LOCK -> G_LOCK (drain.ts);
 * pendingForCache takes one cache's C_LOCK alone (counts.ts). Global order: src/layout.ts.
 *
 * Thread death: of another thread: a slot that is not TS_LIVE is inside detachDead, whose
 * detacher queues its batches (adopt.ts) before endDetach (TS_FREE); closedFor waits for
 * that and never adopts itself (two adopters would queue a block twice). A dead thread
 * nobody watches stays TS_LIVE and holds its batch: named unresponsive at the deadline.
 * Of the barrier caller: nothing is half done outside the drain (drain.ts).
 */
import { REQ_KFREE, TS_FREE, TS_LIVE, pageWord } from '../layout.js';
import { stalledWaitMs } from '../rcu/stall.js';
import { B_COUNT, G_DRAIN_LOCK, S_ACK, S_CUR, S_RCU_OPEN } from './layout.js';
import type { KfreeState } from './state.js';
import { StepKind, runAsync, runSync, type Body, type Step } from './wait.js';

/** A slot the barrier asked to close its batch: its S_ACK and generation when asked. */
interface Asked {
  slot: number;
  ack: number;
  gen: number;
}

/** What a bounded barrier could not do: slots that kept their batch, slots that stalled the grace period. */
export interface BarrierOutcome {
  unresponsive: number[];
  stalled: number[];
}

/** Interval (ms) at which a barrier re-checks the threads it asked to close their batches. */
export const BARRIER_POLL_MS = 1;
const SERVE_STEP: Step = { kind: StepKind.SERVE, arg: BARRIER_POLL_MS };
const NAP_STEP: Step = { kind: StepKind.NAP, arg: BARRIER_POLL_MS };

export class KfreeBarrier {
  constructor(private readonly s: KfreeState) {}

  /** Slots (other than ours) whose open block holds objects: they must close it for us. */
  private othersWithOpenBlocks(): Asked[] {
    const s = this.s;
    const host = s.host;
    const i32 = s.i32;
    const out: Asked[] = [];
    for (let slot = 0; slot < host.maxThreads; slot++) {
      if (slot === s.slot) continue;
      const w = s.slotW(slot);
      const pfn = Atomics.load(i32, w + S_CUR);
      if ((pfn === 0 || i32[pageWord(pfn) + B_COUNT] === 0) && Atomics.load(i32, w + S_RCU_OPEN) === 0) continue;
      out.push({ slot, ack: Atomics.load(i32, w + S_ACK), gen: host.threads.gen(slot) });
    }
    for (const o of out) host.threads.post(o.slot, REQ_KFREE);
    return out;
  }

  private closedFor(o: Asked): boolean {
    const s = this.s;
    const threads = s.host.threads;
    const w = s.slotW(o.slot);
    if (Atomics.load(s.i32, w + S_ACK) !== o.ack) return true;
    // Never adopt here: a slot that is not TS_LIVE is inside detachDead (TS_DETACHING) right
    // now, and its detacher adopts it; two adopters would queue its block twice. Its
    // detacher queues the block before endDetach (TS_FREE); a new thread in the slot (new
    // generation) came after that. A dead thread nobody watches stays TS_LIVE and holds
    // its batch (reported unresponsive at the deadline).
    const st = threads.state(o.slot);
    if (threads.gen(o.slot) !== o.gen || st === TS_FREE) return true;
    if (st !== TS_LIVE) return false;
    return Atomics.load(s.i32, w + S_CUR) === 0 && Atomics.load(s.i32, w + S_RCU_OPEN) === 0;
  }

  /**
   * The bounded barrier, one body for both drivers: other threads get until
   * `flushDeadline` (performance.now() time) to close their open batches, and the grace
   * period `gpWaitMs` (stalledWaitMs: rcuStallTimeoutMs + 250 ms). Returns the slots that
   * did not close their batch in time and the slots that stalled the grace period (then
   * nothing is freed that the grace period protects). Reports nothing itself.
   */
  private *boundedBody(flushDeadline: number, gpWaitMs: number): Body<BarrierOutcome> {
    const s = this.s;
    s.mark('barrier:start');
    s.insert.closeOwn();
    let waiting = this.othersWithOpenBlocks();
    while (waiting.length && performance.now() < flushDeadline) {
      // Our own requests are served meanwhile (a blocking barrier by hand, an async one by
      // the event loop during its wait), and our batches closed again.
      yield SERVE_STEP;
      s.insert.closeOwn();
      yield NAP_STEP;
      waiting = waiting.filter((o) => !this.closedFor(o));
      s.mark('barrier:poll');
    }
    // Close the rcu_head chain, wait for a GP, drain; again if the closed chain was taken
    // (another barrier's, whose GP our synchronize covers: the drain frees it).
    const t0 = performance.now();
    let stalled: number[];
    for (;;) {
      const closed = s.blocks.closeChain();
      stalled = (yield { kind: StepKind.GP, arg: Math.max(0, gpWaitMs - (performance.now() - t0)) })!;
      s.mark('barrier:drain');
      yield* s.drain.drainBody();
      if (closed || stalled.length > 0) break;
    }
    return { unresponsive: waiting.map((o) => o.slot), stalled };
  }

  /** kvfree_rcu_barrier, bounded (see boundedBody), blocking. */
  barrierBounded(flushDeadline: number, gpWaitMs: number): BarrierOutcome {
    return runSync(this.s.host, this.boundedBody(flushDeadline, gpWaitMs));
  }

  /**
   * kvfree_rcu_barrier: every object passed to kfreeRcu before the call is freed on return.
   * Returns within destroyFlushTimeoutMs + rcuStallTimeoutMs + 250 ms; a thread that kept
   * its batch or stalled the grace period is named in a `kvfree_rcu_barrier` warning.
   * `api` is the caller's name for the refusal inside a read section.
   */
  *barrierBody(api: string): Body<void> {
    const s = this.s;
    const host = s.host;
    host.checkAttached();
    if (host.rcu.inReadSection) throw new Error(`slabrcu: ${api}() inside an RCU read-side critical section would deadlock`);
    const gp = stalledWaitMs(host.options.rcuStallTimeoutMs);
    const r = yield* this.boundedBody(performance.now() + host.options.destroyFlushTimeoutMs, gp);
    s.reports.unresponsive(r.unresponsive);
    s.reports.stalled(r.stalled, gp);
  }

  barrier(): void {
    runSync(this.s.host, this.barrierBody('kvfreeRcuBarrier'));
  }

  barrierAsync(): Promise<void> {
    return runAsync(this.s.host, this.barrierBody('kvfreeRcuBarrierAsync'));
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
    const s = this.s;
    if (s.counts.pendingForCache(idx) > 0 || s.blocks.closedPending()) return true;
    return Atomics.load(s.i32, s.g + G_DRAIN_LOCK) !== 0;
  }

  /**
   * kvfree_rcu_barrier_on_cache (destroy), one body for both drivers: nothing to wait for if
   * no object of it is pending (mayHavePending); else the bounded barrier, whose outcome
   * the destroy report carries.
   */
  private *onCacheBody(idx: number, flushDeadline: number, gpWaitMs: number): Body<BarrierOutcome> {
    if (!this.mayHavePending(idx)) return { unresponsive: [], stalled: [] };
    return yield* this.boundedBody(flushDeadline, gpWaitMs);
  }

  barrierOnCacheSync(idx: number, flushDeadline: number, gpWaitMs: number): BarrierOutcome {
    return runSync(this.s.host, this.onCacheBody(idx, flushDeadline, gpWaitMs));
  }

  barrierOnCacheAsync(idx: number, flushDeadline: number, gpWaitMs: number): Promise<BarrierOutcome> {
    return runAsync(this.s.host, this.onCacheBody(idx, flushDeadline, gpWaitMs));
  }
}
