/**
 * The grace-period engine shared by both flavours (liburcu: urcu.c / urcu-qsbr.c over a
 * common wait_for_readers; kernel: rcu_gp_kthread).
 *
 * Shared words used here (layout.ts has the full map):
 * - G_GP_MUTEX: only the holder runs gpBody(); gpmutex.ts.
 * - G_SEQ: Atomics.store by the holder at GP start (state 1) and end (+4, state 0);
 *   Atomics.load by everyone. The end store is sequentially consistent and comes after
 *   the last reader-word load that proved the readers gone, so a thread that sees the new
 *   G_SEQ also sees everything those readers did (their slot stores happen-before our
 *   loads, which precede the G_SEQ store in program order).
 * - G_CTR: the flavour's reader counter, Atomics.store by the holder (memb flips the
 *   phase, qsbr adds 2).
 * - G_FUTEX: -1 while the holder sleeps waiting for readers. Set with Atomics.store
 *   *before* the re-scan that decides to sleep. qsbr: a reader clears/advances its slot
 *   with Atomics.store *before* loading G_FUTEX; both are seq-cst, so either the re-scan
 *   sees the slot cleared or the reader sees -1 and notifies: no lost wake-up, and no
 *   notify at all when nobody sleeps (liburcu's wait_gp / wake_up_gp protocol). memb,
 *   portable read side: the re-scan CASes MEMB_WAITER into the slot and the reader's
 *   Atomics.exchange sees it (no lost wake-up either). memb, x64 read side (S_FAST): the
 *   reader loads its word plainly, then stores 0 plainly; our CAS landing between the two
 *   is overwritten unseen, so a wake-up can be lost, and the driver never sleeps longer
 *   than FAST_NAP_MAX_MS when it waits for such a slot. Correctness never depends on a
 *   wake (the driver only ends a GP after it *saw* every slot it waits for released);
 *   latency does, rarely.
 * - G_GP_REQ / G_DRIVER_FUTEX: requests for a GP from threads that will not drive one
 *   themselves (callbacks, startPoll, async waiters while an RCU worker runs).
 * - G_SEQ_WAITERS: threads in Atomics.waitAsync on G_SEQ; incremented before they re-read
 *   G_SEQ, read after the end store, so the GP end notifies only when someone waits.
 *
 * gpBody() is a generator: it yields the number of milliseconds to sleep on G_FUTEX and
 * is driven either by a blocking loop (Atomics.wait: synchronize()) or by an async one
 * (Atomics.waitAsync: synchronizeAsync(), the callback pump), so both share one
 * implementation of the two-phase wait.
 *
 * tryGp (the kfree_rcu close's polled GP) is a driver that gives up at once: it try-locks
 * G_GP_MUTEX and runs gpBody only until its first wait, before G_FUTEX = -1 or any
 * MEMB_WAITER is stored, then releases the mutex with G_SEQ in progress, as below.
 *
 * Bounded drivers (driveSync/driveAsync with a deadline: destroy and the kfree_rcu
 * barriers, which must not wait forever for a stalled reader) stop driving when the
 * deadline passes, between two scans: they drop the generator and release the GP mutex
 * with G_SEQ still "in progress", exactly the state a holder that died leaves, which the
 * next holder completes in full (gpBody). So giving up never ends a GP early and never
 * skips a phase; it only means nobody waits for that GP until the next driver comes.
 * G_FUTEX may stay -1 and MEMB_WAITER bits may stay set meanwhile: a reader then notifies
 * a futex nobody sleeps on, which is harmless.
 */
import type { RcuHost } from './host.js';
import {
  G_BARRIER_FUTEX, G_BARRIER_SEQ, G_CTR, G_DRIVER, G_DRIVER_FUTEX, G_FUTEX, G_GP_MUTEX, G_GP_REQ, G_SEQ,
  G_SEQ_WAITERS, MEMB_PHASE, MEMB_WAITER, QSBR_STEP, S_CTR, S_FAST, S_GEN, S_NCBS, S_STATE, SLOT_BASE, SLOT_WORDS,
} from './layout.js';
import { casMax, cookieDone, seqEnd, seqStart, SEQ_STATE_MASK } from './poll.js';
import { gpHolder, gpLock, gpLockAsync, gpTryLock, gpUnlock } from './gpmutex.js';
import { blockOn } from '../sync/mutex.js';
import { emitStall, StallTimer, type StalledSlot } from './stall.js';
import { waitAsync } from './timers.js';

/** Scans of the reader words before the driver sleeps on G_FUTEX (a few microseconds). */
const SPIN_SCANS = 64;
/** Scans tryGp makes of a blocking reader before it gives up (it never sleeps). */
const TRY_SCANS = 4;
/** memb, portable readers only: they wake us; this bound only re-checks for dead owners nobody detached. */
const MEMB_SLEEP_MS = 1000;
/**
 * memb, when a slot we wait for uses the x64 read side (S_FAST), whose wake can be lost
 * (see G_FUTEX above): first nap, doubling per nap up to the cap. A reader that leaves
 * during a nap usually wakes us at once; in the rare lost-wake race it costs at most one
 * nap, and a long read section costs a few hundred wake-ups per second of the sleeping
 * driver (a futex wait and a re-scan each), nothing on the read side.
 */
export const FAST_NAP_MIN_MS = 0.25;
export const FAST_NAP_MAX_MS = 4;
/** qsbr: period of the "force quiescent state" requests posted to idle online threads. */
const QSBR_FQS_MS = 10;
export const REQ_RCU = 2;

/** One GP run by driveAsync; `abandoned` once a blocking driver of the same thread took it over. */
interface AsyncGpRun {
  abandoned: boolean;
}

/** A GP driver's view of the shared region, one per Rcu instance. */
export class RcuCore {
  readonly i32: Int32Array;
  readonly base: number;
  readonly maxThreads: number;
  readonly memb: boolean;
  readonly ctrW: number;
  readonly futexW: number;
  readonly mutexW: number;
  readonly seqW: number;
  readonly reqW: number;
  readonly seqWaitersW: number;
  readonly driverW: number;
  readonly driverFutexW: number;
  readonly barrierSeqW: number;
  readonly barrierFutexW: number;
  /** Torture's deliberately broken mode: GPs end without waiting for readers. */
  skipWait = false;
  /** Called by a qsbr driver right after it advanced G_CTR (lets the driving thread report its own quiescent state). */
  onGpStart: ((ctr: number) => void) | null = null;
  /**
   * The GP this thread's async driver (driveAsync) runs while it holds the GP mutex
   * across awaits, or null. Thread-local: a blocking driver of the same thread takes it
   * over (driveSync, takeOver) instead of waiting for a holder that cannot run until it returns.
   */
  private asyncRun: AsyncGpRun | null = null;
  /** tryGp is running gpBody: waitList stops at its first wait (see tryGp). Thread-local. */
  private tryOnly = false;

  constructor(readonly host: RcuHost) {
    this.i32 = host.i32;
    this.base = host.baseWord;
    this.maxThreads = host.maxThreads;
    this.memb = host.flavour === 'memb';
    const b = this.base;
    this.ctrW = b + G_CTR;
    this.futexW = b + G_FUTEX;
    this.mutexW = b + G_GP_MUTEX;
    this.seqW = b + G_SEQ;
    this.reqW = b + G_GP_REQ;
    this.seqWaitersW = b + G_SEQ_WAITERS;
    this.driverW = b + G_DRIVER;
    this.driverFutexW = b + G_DRIVER_FUTEX;
    this.barrierSeqW = b + G_BARRIER_SEQ;
    this.barrierFutexW = b + G_BARRIER_FUTEX;
  }

  /** Absolute word index of field f of slot s. */
  sw(s: number, f: number): number {
    return this.base + SLOT_BASE + s * SLOT_WORDS + f;
  }

  seq(): number {
    return Atomics.load(this.i32, this.seqW);
  }

  driverPresent(): boolean {
    return Atomics.load(this.i32, this.driverW) !== 0;
  }

  /** Ask for a GP that completes `cookie`; wakes the RCU worker if one runs. */
  requestGp(cookie: number): void {
    casMax(this.i32, this.reqW, cookie);
    if (this.driverPresent()) {
      Atomics.add(this.i32, this.driverFutexW, 1);
      Atomics.notify(this.i32, this.driverFutexW);
    }
  }

  /** True while some requested cookie has not completed. */
  gpNeeded(): boolean {
    return !cookieDone(this.seq(), Atomics.load(this.i32, this.reqW));
  }

  /** Wake a GP driver sleeping on G_FUTEX (reader side slow path). */
  wakeDriver(): void {
    Atomics.store(this.i32, this.futexW, 0);
    Atomics.notify(this.i32, this.futexW);
  }

  /** Wait (async, never keeping the process alive) until G_SEQ moves from `seen` or ms pass. */
  async waitSeqAsync(seen: number, ms: number): Promise<void> {
    const i32 = this.i32;
    Atomics.add(i32, this.seqWaitersW, 1);
    try {
      if (Atomics.load(i32, this.seqW) !== seen) return;
      await waitAsync(i32, this.seqW, seen, ms);
    } finally {
      Atomics.sub(i32, this.seqWaitersW, 1);
    }
  }

  /** Bump and notify the barrier futex (a callback drain or barrier acknowledgement happened). */
  kickBarrier(): void {
    Atomics.add(this.i32, this.barrierFutexW, 1);
    Atomics.notify(this.i32, this.barrierFutexW);
  }

  nextBarrierSeq(): number {
    return (Atomics.add(this.i32, this.barrierSeqW, 1) + 1) | 0;
  }

  // ---------------------------------------------------------------- GP drivers

  /**
   * Run GPs (blocking) until `cookie` is complete. Caller must not be in a read section.
   * With a `deadline` (performance.now() time; bounded waits: destroy, the kfree_rcu
   * barriers), gives up once it has passed and returns false. A GP given up half-way is
   * left to the next holder, which completes it in full, as it would for a holder that
   * died inside it (gpBody): giving up never ends a GP early, it only stops waiting.
   */
  driveSync(self: number, cookie: number, deadline = Infinity): boolean {
    const i32 = this.i32;
    while (!cookieDone(Atomics.load(i32, this.seqW), cookie)) {
      if (performance.now() >= deadline) return false;
      const run = this.asyncRun;
      const tookOver = run !== null && gpHolder(i32, this.mutexW) === self;
      if (!tookOver && !gpLock(i32, this.mutexW, self, deadline)) return false;
      if (tookOver) this.takeOver(run);
      try {
        // Someone else's GP may have covered us while we waited for the mutex
        // (liburcu batches waiters the same way).
        if (cookieDone(Atomics.load(i32, this.seqW), cookie)) return true;
        const g = this.gpBody(self);
        for (let r = g.next(); !r.done; r = g.next()) {
          const left = deadline - performance.now();
          if (left <= 0) return false;
          blockOn(i32, this.futexW, -1, Math.min(r.value, left));
        }
      } finally {
        gpUnlock(i32, this.mutexW);
        // The abandoned async driver may sleep on G_FUTEX: let it see its GP is gone now.
        if (tookOver) Atomics.notify(i32, this.futexW);
      }
    }
    return true;
  }

  /**
   * One attempt at the GPs that complete `cookie`, never waiting (the kfree_rcu insert's
   * polled reclaim, kfree/pump.ts blockClosed; kernel: kvfree_rcu's polled GP API and the
   * monitor's drain of the batches it finds ready). It takes the GP mutex only if it is
   * free and runs gpBody up to its first wait: a reader that blocks it (a read section
   * of any thread, this one's included) ends the attempt there. The GP is then left in
   * progress for the next holder, exactly as a bounded driver that gave up leaves it
   * (driveSync): it is never ended early and no phase is skipped. The attempt stops
   * before G_FUTEX = -1 and MEMB_WAITER (waitList), so it leaves no reader a wake-up to
   * deliver. A thread killed inside it is a GP holder that died (gpBody takes over).
   * True if `cookie` is complete.
   */
  tryGp(self: number, cookie: number): boolean {
    const i32 = this.i32;
    if (cookieDone(Atomics.load(i32, this.seqW), cookie)) return true;
    // This thread's async driver holds or waits for the mutex: leave that GP to it.
    if (this.asyncRun !== null || !gpTryLock(i32, this.mutexW, self)) return false;
    this.tryOnly = true;
    try {
      // A cookie taken while a GP ran needs that GP and the next: at most two.
      for (let k = 0; k < 2 && !cookieDone(Atomics.load(i32, this.seqW), cookie); k++) {
        const g = this.gpBody(self);
        if (!g.next().done) return false; // a reader blocks it: given up before any wait
      }
      return cookieDone(Atomics.load(i32, this.seqW), cookie);
    } finally {
      this.tryOnly = false;
      gpUnlock(i32, this.mutexW);
    }
  }

  /**
   * A blocking driver (driveSync) that finds the GP mutex held by this thread's own async
   * driver (suspended at an await inside gpBody, which only this thread's event loop can
   * resume, and that loop is blocked by us) would deadlock waiting: it takes that GP over
   * instead. The GP state is all in shared memory and gpBody completes a GP found in
   * progress (as for a dead holder), so the abandoned driver just drops its generator
   * when it resumes.
   */
  private takeOver(run: AsyncGpRun): void {
    run.abandoned = true;
    this.asyncRun = null; // the mutex stays tagged with our slot: it is ours now
  }

  /**
   * Run GPs until `cookie` is complete without blocking the event loop. With a
   * `deadline`, gives up once it has passed and resolves false (see driveSync).
   */
  async driveAsync(self: number, cookie: number, deadline = Infinity): Promise<boolean> {
    const i32 = this.i32;
    while (!cookieDone(Atomics.load(i32, this.seqW), cookie)) {
      if (performance.now() >= deadline) return false;
      const run: AsyncGpRun = { abandoned: false };
      const locked = await gpLockAsync(i32, this.mutexW, self, () => {
        this.asyncRun = run;
      }, deadline);
      if (!locked) return false;
      try {
        // A blocking driver of this thread may have taken the mutex over (and released
        // it) before we got to run: it is no longer ours.
        if (run.abandoned) continue;
        if (cookieDone(Atomics.load(i32, this.seqW), cookie)) return true;
        const g = this.gpBody(self);
        for (let r = g.next(); !r.done; r = g.next()) {
          const left = deadline - performance.now();
          if (left <= 0) return false; // given up: the next holder completes this GP
          await waitAsync(i32, this.futexW, -1, Math.min(r.value, left));
          if (run.abandoned) break; // taken over by driveSync on this thread, which completed the GP
        }
      } finally {
        if (!run.abandoned) {
          this.asyncRun = null;
          gpUnlock(i32, this.mutexW);
        }
      }
    }
    return true;
  }

  /**
   * Slots that block a grace period right now: memb, every slot inside a read section;
   * qsbr, every online slot that has not passed a quiescent state since the GP counter
   * last advanced. What a bounded wait that gave up reports (a snapshot: a slot may
   * leave its section the next instant).
   */
  blockingSlots(): number[] {
    const i32 = this.i32;
    const ctr = Atomics.load(i32, this.ctrW);
    const out: number[] = [];
    for (let s = 0; s < this.maxThreads; s++) {
      const v = Atomics.load(i32, this.sw(s, S_CTR));
      if (v === 0) continue;
      if (this.memb || v !== ctr) out.push(s);
    }
    return out;
  }

  /**
   * One grace period; the GP mutex is held by `self`. If G_SEQ shows a GP in progress,
   * a former holder died inside it: this GP takes it over and completes it in full.
   */
  *gpBody(self: number): Generator<number, void, void> {
    const i32 = this.i32;
    let seq = Atomics.load(i32, this.seqW);
    if ((seq & SEQ_STATE_MASK) === 0) {
      seq = seqStart(seq);
      Atomics.store(i32, this.seqW, seq);
    }
    const stall = new StallTimer(this.host.rcuStallTimeoutMs);
    if (this.memb) yield* this.membWait(self, stall);
    else yield* this.qsbrWait(self, stall);
    Atomics.store(i32, this.futexW, 0);
    Atomics.store(i32, this.seqW, seqEnd(seq));
    if (Atomics.load(i32, this.seqWaitersW) !== 0) Atomics.notify(i32, this.seqW);
  }

  /**
   * memb (liburcu urcu.c synchronize_rcu): wait for readers still in the old phase, flip
   * the phase, wait for the readers that were in the current phase. Two phases because a
   * reader may have loaded G_CTR long ago and store it only now: a single flip would let
   * such a reader look "current" to the next GP while it holds a pointer that GP retires.
   */
  private *membWait(self: number, stall: StallTimer): Generator<number, void, void> {
    const i32 = this.i32;
    const ctr = Atomics.load(i32, this.ctrW);
    const old: number[] = [];
    const cur: number[] = [];
    if (!this.skipWait) {
      for (let s = 0; s < this.maxThreads; s++) {
        const v = Atomics.load(i32, this.sw(s, S_CTR));
        if (v === 0) continue;
        if (((v ^ ctr) & MEMB_PHASE) !== 0) old.push(s);
        else cur.push(s);
      }
      // Phase 1: old-phase readers. One that re-enters in the current phase joins `cur`.
      if (old.length !== 0) {
        yield* this.waitList(self, stall, old, (v) => v !== 0 && ((v ^ ctr) & MEMB_PHASE) !== 0, (s, v) => {
          if (v !== 0) cur.push(s);
        });
      }
    }
    const flipped = ctr ^ MEMB_PHASE;
    Atomics.store(i32, this.ctrW, flipped);
    // Phase 2: readers that entered with the pre-flip value are old now.
    if (!this.skipWait && cur.length !== 0) yield* this.waitList(self, stall, cur, (v) => (v & ~MEMB_WAITER) === ctr, null);
  }

  /**
   * qsbr (liburcu urcu-qsbr.c): advance G_CTR, then wait until every online thread has
   * stored the new value (passed a quiescent state) or gone offline (0).
   */
  private *qsbrWait(self: number, stall: StallTimer): Generator<number, void, void> {
    const i32 = this.i32;
    const ctr = (Atomics.load(i32, this.ctrW) + QSBR_STEP) | 0;
    Atomics.store(i32, this.ctrW, ctr);
    if (this.onGpStart) this.onGpStart(ctr);
    if (this.skipWait) return;
    const list: number[] = [];
    for (let s = 0; s < this.maxThreads; s++) {
      const v = Atomics.load(i32, this.sw(s, S_CTR));
      if (v !== 0 && v !== ctr) list.push(s);
    }
    if (list.length !== 0) yield* this.waitList(self, stall, list, (v) => v !== 0 && v !== ctr, null);
  }

  /**
   * Wait until blocks(readerWord) is false for every slot in `list` (which is consumed).
   * Spins a few scans, then sleeps on G_FUTEX announcing itself with -1.
   */
  private *waitList(
    self: number,
    stall: StallTimer,
    list: number[],
    blocks: (v: number) => boolean,
    released: ((s: number, v: number) => void) | null,
  ): Generator<number, void, void> {
    const i32 = this.i32;
    let scans = 0;
    let lastFqs = -Infinity;
    let nap = FAST_NAP_MIN_MS;
    for (;;) {
      this.filter(list, blocks, released);
      if (list.length === 0) return;
      if (this.tryOnly) {
        // tryGp: a few scans for a reader about to leave, then give up (the driver
        // drops this generator at its first yield, before anything below is stored).
        if (scans++ < TRY_SCANS) continue;
        yield 0;
        continue;
      }
      if (scans++ < SPIN_SCANS) continue;
      Atomics.store(i32, this.futexW, -1);
      if (this.memb) this.flagWaiters(list, blocks, released);
      else this.filter(list, blocks, released);
      if (list.length === 0) {
        Atomics.store(i32, this.futexW, 0);
        return;
      }
      if (!this.memb) {
        // Force quiescent states: an idle online thread serves REQ_RCU from its event
        // loop, which is a quiescent state (kernel: force_quiescent_state / the IPI).
        const t = performance.now();
        if (t - lastFqs >= QSBR_FQS_MS) {
          lastFqs = t;
          for (const s of list) if (s !== self) this.host.postRequest(s, REQ_RCU);
        }
      }
      if (stall.due()) this.reportStall(self, stall, list);
      let bound: number;
      if (!this.memb) bound = QSBR_FQS_MS;
      else if (this.anyFast(list)) {
        bound = nap;
        nap = Math.min(nap * 2, FAST_NAP_MAX_MS);
      } else {
        // Every slot reads portable now, but one may have left its section with a fast
        // unlock (missing our -1) and switched to portable (S_FAST = 0) since
        // flagWaiters looked at it. Its store of 0 precedes its seq-cst S_FAST store,
        // which our S_FAST load saw: one more scan sees the slot released.
        this.filter(list, blocks, released);
        if (list.length === 0) {
          Atomics.store(i32, this.futexW, 0);
          return;
        }
        bound = MEMB_SLEEP_MS;
      }
      yield Math.max(FAST_NAP_MIN_MS, Math.min(bound, stall.untilDue()));
    }
  }

  /**
   * memb: does a slot in `list` leave its sections with the x64 plain store (S_FAST)?
   * Read after flagWaiters: a slot seen blocking whose S_FAST then reads 0 got our
   * MEMB_WAITER bit and will see it in its exchange (an owner changes S_FAST only
   * outside a section, i.e. after that exchange), so only S_FAST slots can miss the wake.
   */
  private anyFast(list: number[]): boolean {
    for (let k = 0; k < list.length; k++) if (Atomics.load(this.i32, this.sw(list[k]!, S_FAST)) !== 0) return true;
    return false;
  }

  private filter(list: number[], blocks: (v: number) => boolean, released: ((s: number, v: number) => void) | null): void {
    let j = 0;
    for (let k = 0; k < list.length; k++) {
      const s = list[k]!;
      const v = Atomics.load(this.i32, this.sw(s, S_CTR));
      if (blocks(v)) list[j++] = s;
      else if (released) released(s, v);
    }
    list.length = j;
  }

  /**
   * memb, after G_FUTEX = -1: re-check each slot and set MEMB_WAITER in the slots that
   * still block (CAS, so a reader that left or re-entered meanwhile is re-evaluated).
   * A reader whose exchange in readUnlock() returns the bit wakes us; since -1 was stored
   * before the bit, that wake is never lost.
   */
  private flagWaiters(list: number[], blocks: (v: number) => boolean, released: ((s: number, v: number) => void) | null): void {
    const i32 = this.i32;
    let j = 0;
    for (let k = 0; k < list.length; k++) {
      const s = list[k]!;
      const w = this.sw(s, S_CTR);
      let v = Atomics.load(i32, w);
      for (;;) {
        if (!blocks(v)) break;
        if ((v & MEMB_WAITER) !== 0) break;
        const o = Atomics.compareExchange(i32, w, v, v | MEMB_WAITER);
        if (o === v) break;
        v = o;
      }
      if (blocks(v)) list[j++] = s;
      else if (released) released(s, v);
    }
    list.length = j;
  }

  private reportStall(self: number, stall: StallTimer, list: number[]): void {
    const i32 = this.i32;
    const blocking: StalledSlot[] = list.map((s) => ({
      slot: s,
      ctr: Atomics.load(i32, this.sw(s, S_CTR)),
      gen: Atomics.load(i32, this.sw(s, S_GEN)),
      live: this.host.isSlotLive(s),
      callbacks: Atomics.load(i32, this.sw(s, S_NCBS)),
    }));
    let queued = 0;
    let threads = 0;
    for (let s = 0; s < this.maxThreads; s++) {
      if (Atomics.load(i32, this.sw(s, S_STATE)) === 0) continue;
      threads++;
      queued += Atomics.load(i32, this.sw(s, S_NCBS));
    }
    emitStall(this.host, {
      flavour: this.memb ? 'memb' : 'qsbr',
      blocking,
      detectedBy: self,
      elapsedMs: stall.firedJiffies,
      gpSeq: Atomics.load(i32, this.seqW),
      queued,
      nrThreads: threads,
      gpCtr: Atomics.load(i32, this.ctrW),
    });
  }
}

