/**
 * The RCU region of the arena: every shared word RCU uses, and who touches it.
 *
 * The arena reserves rcuRegionBytes(maxThreads) bytes, 64-byte aligned, at word
 * `base` (host.baseWord). Word indices below are relative to `base`. Each group sits
 * on its own 64-byte line (16 Int32 words) so that a write to one never invalidates
 * the line a reader's fast path reads.
 *
 * Line 0, read by every reader fast path, written only by grace-period drivers:
 *   G_CTR     memb: 1 or 3 (bit 0 "in a section", bit 1 the phase); the reader copies it
 *             into its slot: a plain (relaxed) load of G_CTR, then one seq-cst
 *             Atomics.store. Relaxed is enough (liburcu: CMM_LOAD_SHARED): any value the
 *             load returns is one a driver stored, and the two-phase wait tolerates a
 *             reader whose snapshot predates a flip (core.ts membWait); the seq-cst store
 *             orders the rest. The GP driver flips the phase with Atomics.store while
 *             holding G_GP_MUTEX.
 *             qsbr: an odd counter advanced by 2 per GP (never 0, which means offline).
 *   G_FUTEX   -1 while a GP driver sleeps on it waiting for readers (Atomics.store by
 *             the driver), 0 otherwise (Atomics.store by the driver or by a waker).
 *             qsbr: a thread that reports a quiescent state Atomics.load()s it after the
 *             Atomics.store to its slot and wakes the driver only when it reads -1
 *             (liburcu's wake_up_gp); both seq-cst, so no wake is lost.
 *             memb: the driver stores -1, then sets MEMB_WAITER (CAS) in the slot of
 *             each reader it waits for. Portable read side: the reader's readUnlock()
 *             (Atomics.exchange of its slot) sees the bit and wakes it: no lost wake, no
 *             second shared access on the read path. x64 read side (S_FAST = 1):
 *             readUnlock() is a plain load of its slot, then a plain store of 0 (a release
 *             store under x86-TSO); a CAS landing between the two is overwritten unseen,
 *             so a wake can be lost and the driver never sleeps unboundedly on a fast slot
 *             (core.ts FAST_NAP_*). Safety never depends on the wake; only the latency of
 *             that rare race does. The memb read side never loads G_FUTEX: a shared
 *             "driver sleeps" word would make every reader wake the driver, not only the
 *             ones it waits for.
 *   G_MAGIC, G_FLAVOUR, G_MAX_THREADS: written once by initRcuRegion.
 *
 * Line 1, grace-period bookkeeping (writers only):
 *   G_GP_MUTEX     0 free, else ((slot + 1) << 1) | waiters-bit: the owner's slot is in the
 *                  word itself so a dead owner can be recognised and the lock broken
 *                  (gpmutex.ts). CAS / exchange only.
 *   G_SEQ          the grace-period sequence, kernel rcu_seq style: low 2 bits 0 idle,
 *                  1 in progress; +4 per GP. Atomics.store by the GP mutex holder,
 *                  Atomics.load by anyone polling (poll.ts).
 *   G_GP_REQ       the newest cookie someone needs (call, startPoll, async waiters):
 *                  wrap-safe CAS-max by requesters, read by GP drivers.
 *   G_SEQ_WAITERS  number of threads parked in Atomics.waitAsync on G_SEQ (Atomics.add);
 *                  the GP end notifies G_SEQ only when it is non-zero.
 *   G_DRIVER       slot + 1 of the running RCU worker thread (startRcuWorker), else 0.
 *   G_DRIVER_FUTEX bumped (Atomics.add + notify) when a GP is requested, so a driver
 *                  sleeping in Atomics.wait wakes.
 *   G_BARRIER_SEQ  rcu.barrier() generation numbers: Atomics.add by each barrier.
 *   G_BARRIER_FUTEX bumped + notified by a thread that acknowledges a barrier (or drains
 *                  its callbacks), so barrier waiters re-check.
 *
 * Per thread slot, one 64-byte line each (slot s at SLOT_BASE + s * SLOT_WORDS):
 *   S_CTR         the reader word. memb: 0 outside a read section, else the G_CTR value
 *                 read at the outermost readLock(), possibly | MEMB_WAITER (set by a
 *                 sleeping GP driver with CAS, cleared by the owner's readUnlock, which
 *                 on the x64 path first loads the word plainly to see the bit).
 *                 qsbr: 0 offline, else the G_CTR value of the last quiescent state.
 *                 Written by the owner (Atomics.store; memb readUnlock on x64: a plain
 *                 store, a release store under x86-TSO, see index.ts), by GP drivers only
 *                 through the MEMB_WAITER CAS, and by detachDeadSlot for a dead owner;
 *                 read by GP drivers (Atomics.load).
 *   S_STATE       1 while an Rcu instance is attached for the slot, 0 otherwise.
 *   S_GEN         the slot generation the attached instance got from the thread table.
 *   S_NCBS        callbacks queued on this thread and not yet invoked (owner Atomics.store
 *                 after each change; read by barrier callers and stall reports).
 *   S_BARRIER_REQ newest barrier generation that asked this thread to acknowledge
 *                 (wrap-safe CAS-max by barrier callers).
 *   S_BARRIER_ACK newest barrier generation acknowledged (owner Atomics.store, after the
 *                 callbacks queued before the request have run).
 *   S_FAST        memb: 1 while the owner leaves read sections with the x64 plain-store
 *                 readUnlock() (whose wake of a sleeping driver can be lost), 0 with the
 *                 portable Atomics.exchange one. Owner Atomics.store, outside any read
 *                 section; GP drivers Atomics.load it after flagging the slot, to choose
 *                 how long they may sleep (core.ts waitList).
 */

export const RCU_MAGIC = 0x52435531; // 'RCU1'

// line 0
export const G_CTR = 0;
export const G_FUTEX = 1;
export const G_MAGIC = 2;
export const G_FLAVOUR = 3; // 0 memb, 1 qsbr
export const G_MAX_THREADS = 4;

// line 1
export const G_GP_MUTEX = 16;
export const G_SEQ = 17;
export const G_GP_REQ = 18;
export const G_SEQ_WAITERS = 19;
export const G_DRIVER = 20;
export const G_DRIVER_FUTEX = 21;
export const G_BARRIER_SEQ = 22;
export const G_BARRIER_FUTEX = 23;

/** First per-slot line: word 64 (header lines 2 and 3 are spare). */
export const SLOT_BASE = 64;
export const SLOT_WORDS = 16;

export const S_CTR = 0;
export const S_STATE = 1;
export const S_GEN = 2;
export const S_NCBS = 3;
export const S_BARRIER_REQ = 4;
export const S_BARRIER_ACK = 5;
export const S_FAST = 6;

/** memb: G_CTR bit 0 marks "inside a section" (so an active slot is never 0), bit 1 is the phase. */
export const MEMB_ACTIVE = 1;
export const MEMB_PHASE = 2;
/**
 * memb: set in a reader's S_CTR word (CAS, by a GP driver about to sleep) to ask that
 * reader to wake it. The reader's readUnlock() is one Atomics.exchange(S_CTR, 0): it sees
 * the bit in the old value and then, and only then, notifies (liburcu wake_up_gp, without
 * a second shared load on the read path).
 */
/**
 * Read-side constants as a const enum, so TypeScript inlines them as literals: V8 loads an
 * imported ES-module binding from its module cell with a hole check on every use (see
 * Hot in src/layout.ts).
 */
export const enum RHot {
  MEMB_WAITER = 4,
}
export const MEMB_WAITER = RHot.MEMB_WAITER;
/** qsbr: G_CTR starts here and advances by QSBR_STEP per GP, staying odd (never 0 = offline). */
export const QSBR_ONLINE = 1;
export const QSBR_STEP = 2;

/** Bytes of shared memory the RCU subsystem needs for maxThreads thread slots (a multiple of 64). */
export function rcuRegionBytes(maxThreads: number): number {
  return (SLOT_BASE + maxThreads * SLOT_WORDS) * 4;
}

/** Word index (absolute) of field f of slot s. */
export function slotWord(base: number, s: number, f: number): number {
  return base + SLOT_BASE + s * SLOT_WORDS + f;
}
