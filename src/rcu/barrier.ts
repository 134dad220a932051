/**
 * rcu_barrier() across threads (kernel: rcu_barrier entrains a callback on every CPU
 * and waits for them all). Closures cannot move between threads, so here every thread
 * that has callbacks queued acknowledges from its own event loop.
 *
 * Shared words:
 * - G_BARRIER_SEQ: each barrier takes a generation with Atomics.add (concurrent barriers
 *   need no mutex: requests only ever move forward).
 * - S_BARRIER_REQ (per slot): raised to the barrier's generation with a wrap-safe CAS-max
 *   by the caller, then the arena's REQ_RCU request wakes the owner.
 * - S_BARRIER_ACK (per slot): the owner stores the newest generation it saw once every
 *   callback it had queued when it saw the request has run (Atomics.store after the
 *   callbacks, so their effects happen-before the caller's load of the ack).
 * - S_NCBS (per slot): a target reading 0 pending callbacks is done as well (everything
 *   queued before the barrier has run), which covers threads that drained on their own.
 * - S_STATE / S_GEN: a target that detached, died or was replaced is not waited for (its
 *   callbacks were run by detach() or dropped with a warning by detachDeadSlot()).
 * - G_BARRIER_FUTEX: bumped and notified by acknowledgements, drains and detaches; the
 *   caller reads it before checking the targets and sleeps only while it is unchanged.
 */
import type { RcuCore } from './core.js';
import { REQ_RCU } from './core.js';
import { S_BARRIER_ACK, S_BARRIER_REQ, S_GEN, S_NCBS, S_STATE } from './layout.js';
import { casMax, seqGe } from './poll.js';

export interface BarrierTarget {
  slot: number;
  gen: number;
}

/** Ask every other registered thread with pending callbacks to acknowledge barrier `seq`. */
export function barrierTargets(rcu: { readonly core: RcuCore; readonly selfSlot: number }, seq: number): BarrierTarget[] {
  const core = rcu.core;
  const i32 = core.i32;
  const out: BarrierTarget[] = [];
  for (let s = 0; s < core.maxThreads; s++) {
    if (s === rcu.selfSlot) continue;
    if (Atomics.load(i32, core.sw(s, S_STATE)) !== 1) continue;
    if (Atomics.load(i32, core.sw(s, S_NCBS)) === 0) continue;
    const gen = Atomics.load(i32, core.sw(s, S_GEN));
    casMax(i32, core.sw(s, S_BARRIER_REQ), seq);
    out.push({ slot: s, gen });
    core.host.postRequest(s, REQ_RCU);
  }
  return out;
}

/** Drop the targets that are done; true while some remain. */
export function barrierPending(core: RcuCore, targets: BarrierTarget[], seq: number): boolean {
  const i32 = core.i32;
  let j = 0;
  for (let k = 0; k < targets.length; k++) {
    const t = targets[k]!;
    const done =
      Atomics.load(i32, core.sw(t.slot, S_STATE)) !== 1 ||
      Atomics.load(i32, core.sw(t.slot, S_GEN)) !== t.gen ||
      Atomics.load(i32, core.sw(t.slot, S_NCBS)) === 0 ||
      seqGe(Atomics.load(i32, core.sw(t.slot, S_BARRIER_ACK)), seq);
    if (!done) targets[j++] = t;
  }
  targets.length = j;
  return j !== 0;
}
