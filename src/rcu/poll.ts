/**
 * Grace-period sequence numbers and polling cookies (kernel: rcu_seq_* in kernel/rcu/rcu.h,
 * get_state_synchronize_rcu / poll_state_synchronize_rcu).
 *
 * G_SEQ is an Int32 word: the low two bits are the state (0 idle, 1 a GP in progress),
 * the rest counts grace periods, so every completed GP adds 4. Only the holder of the GP
 * mutex writes it (Atomics.store); anyone reads it (Atomics.load), which orders every
 * read-side critical section the GP waited for before whatever the poller does next.
 *
 * Wrap safety: the counter is 32 bits and wraps; cookies are compared with the signed
 * difference ((a - b) | 0) >= 0, the kernel's ULONG_CMP_GE, which is right as long as a
 * cookie is not held across 2^29 grace periods. As in the kernel (which starts
 * rcu_state.gp_seq at -300 GPs) the counter starts just below the wrap, so every run
 * crosses it within 300 GPs and the wrap path is always exercised.
 */

export const SEQ_STATE_MASK = 3;
export const SEQ_IN_PROGRESS = 1;
export const SEQ_STEP = 4;
/** Initial G_SEQ: 300 grace periods before the 32-bit wrap (kernel: (0UL - 300UL) << RCU_SEQ_CTR_SHIFT). */
export const SEQ_INITIAL = (-300 * SEQ_STEP) | 0;

/**
 * A cookie that is always already completed (kernel: RCU_GET_STATE_COMPLETED). A real
 * cookie has its two state bits clear, so this value never collides with one.
 */
export const COOKIE_COMPLETED = 1;

/** The sequence value at which a full GP beginning after `seq` was read has ended (rcu_seq_snap). */
export function seqSnap(seq: number): number {
  return (seq + 2 * SEQ_STATE_MASK + 1) & ~SEQ_STATE_MASK;
}

/** seq after the GP in progress (or the next one when idle) started (rcu_seq_start). */
export function seqStart(seq: number): number {
  return (seq + 1) | 0;
}

/** seq after the GP that `seq` shows in progress ended (rcu_seq_end). */
export function seqEnd(seq: number): number {
  return ((seq | SEQ_STATE_MASK) + 1) | 0;
}

/** Wrap-safe a >= b. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** True once the sequence has reached cookie (rcu_seq_done). */
export function cookieDone(seq: number, cookie: number): boolean {
  return cookie === COOKIE_COMPLETED || seqGe(seq, cookie);
}

/** Wrap-safe "raise word to at least v" (CAS loop); returns the value now there. */
export function casMax(i32: Int32Array, w: number, v: number): number {
  let cur = Atomics.load(i32, w);
  while (!seqGe(cur, v)) {
    const seen = Atomics.compareExchange(i32, w, cur, v);
    if (seen === cur) return v;
    cur = seen;
  }
  return cur;
}
