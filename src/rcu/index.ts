/**
 * RCU over shared memory: the per-thread handle `arena.rcu` (liburcu's API, the kernel's
 * semantics). One instance per attached thread; all cross-thread state is in the RCU
 * region of the arena (layout.ts), the rest is plain JS state of this thread.
 *
 * Read side (the hot path). Shared words involved, who writes them, who reads them, and
 * which operation orders each access (layout.ts has the full map):
 * - G_CTR (written by GP drivers only, Atomics.store under the GP mutex): the outermost
 *   memb readLock() reads it with a plain typed-array load. In V8 that is a relaxed,
 *   single-copy-atomic 32-bit load (liburcu reads it with CMM_LOAD_SHARED, relaxed too).
 *   Staleness is harmless: the value is one some driver stored, and the two-phase flip
 *   (core.ts membWait) waits for a reader that snapshotted the phase just before a flip.
 *   It is not arbitrarily stale either: it follows this thread's previous seq-cst op
 *   (TurboFan neither eliminates nor hoists typed-array loads across the Atomics calls of
 *   a section; were it ever hoisted, GPs would only wait longer, never end early).
 * - S_CTR, this thread's reader word (written by this thread; read by GP drivers with
 *   Atomics.load; a sleeping driver may CAS MEMB_WAITER into it):
 *   - readLock(): one seq-cst Atomics.store of the G_CTR snapshot. Seq-cst is required:
 *     it is the StoreLoad fence that makes the reader word visible before any load inside
 *     the section (a GP that scans after it sees the reader; a GP that scanned before it
 *     also published the new pointer before its scan, so the section's loads see that
 *     pointer: the section needs no wait).
 *   - readUnlock(), portable path (any CPU): one Atomics.exchange(S_CTR, 0), seq-cst, so
 *     every load of the section is ordered before it, and it returns MEMB_WAITER when a
 *     driver sleeps on this reader (then, and only then, it notifies).
 *   - readUnlock(), x64 path: a plain load of its own reader word (for MEMB_WAITER),
 *     then a plain store of 0. Under x86-TSO loads are never reordered with later
 *     stores, so the plain store is a release store: every load of the section completes
 *     before a driver can see the 0 (the kernel's smp_store_release on x86 is exactly a
 *     compiler barrier + plain mov). V8 keeps typed-array loads/stores and Atomics calls
 *     in program (effect-chain) order, so the compiler side holds too. What is lost is
 *     the atomicity of the exchange: a driver's MEMB_WAITER CAS that lands between the
 *     load and the store is overwritten unseen, and that wake is lost. Drivers waiting
 *     for an x64 slot (S_FAST = 1) therefore sleep in short naps (core.ts FAST_NAP_*):
 *     safety never depends on the wake, only the latency of that rare race. (Loading
 *     G_FUTEX instead, a shared "driver sleeps" word, was tried: every reader leaving any
 *     section then wakes the driver, not just the one it waits for, and on a 2-core
 *     machine the driver and the other readers ping-pong while the reader it waits for
 *     is descheduled: 0.3-0.9 ms median GP under two spinning readers, against ~25 us
 *     with the own-word load and ~15 us with the exchange.)
 *   The x64 path is chosen when `process.arch === 'x64'` (globalThis.process: no `node:`
 *   import); SLABRCU_RCU_UNLOCK=portable in the environment, or setUnlockPath('portable'),
 *   forces the portable path (browsers, arm64 and others always use it).
 * - G_FUTEX (written by drivers and wakers, Atomics.store): a driver sleeps on it; the
 *   memb read side never touches it (core.ts).
 * - Readers must load RCU-protected pointers with Atomics.load (rcu_dereference): on
 *   weakly ordered CPUs that is what orders them after the readLock() store.
 * - qsbr: read sections only count nesting in this thread (with debug; without it they
 *   are no-ops); the thread announces quiescent states (quiescentState(), offline(), any
 *   event-loop turn that serves the arena's REQ_RCU request) by Atomics.store of G_CTR
 *   into its reader word, then Atomics.load of G_FUTEX.
 *
 * The read-side methods live on per-mode prototypes (MembX64Rcu, MembPortableRcu,
 * QsbrRcu, ... below), chosen at construction and swapped with Object.setPrototypeOf when
 * the mode changes (setDebug, setUnlockPath, detach). A method on a prototype is a
 * constant of the object's map, so `arena.rcu.readLock()` compiles to the inlined body
 * behind one map check; an instance field reassigned between functions is a mutable
 * field, which costs a load and a call-target check per call (qsbr: 0.48 vs 0.38 ns).
 * Nesting is counted in this object, never in shared memory.
 *
 * Grace periods (core.ts) run under the GP mutex, by whichever thread needs one:
 * synchronize() blocks (Atomics.wait), synchronizeAsync() and the callback pump use
 * Atomics.waitAsync; with an RCU worker (startRcuWorker) async waiters delegate to it.
 *
 * Lock order: the GP mutex is a leaf (nothing else is taken while it is held). Never
 * wait for a GP inside a read section (it would wait for itself): refused with an error.
 */
import type { RcuHost } from './host.js';
import { RcuCore } from './core.js';
import { blockOn } from '../sync/mutex.js';
import {
  RHot, G_CTR, G_FLAVOUR, G_GP_REQ, G_MAGIC, G_MAX_THREADS, G_SEQ, MEMB_ACTIVE, MEMB_WAITER, QSBR_ONLINE, RCU_MAGIC, S_BARRIER_ACK,
  S_BARRIER_REQ, S_CTR, S_FAST, S_GEN, S_NCBS, S_STATE, rcuRegionBytes,
} from './layout.js';
import { COOKIE_COMPLETED, cookieDone, seqGe, seqSnap, SEQ_INITIAL } from './poll.js';
import { gpBreakFor } from './gpmutex.js';
import { CallbackList } from './callbacks.js';
import { barrierTargets, barrierPending, type BarrierTarget } from './barrier.js';
import { keepAlive, sleepUnref, waitAsync } from './timers.js';

export type { RcuHost } from './host.js';
export { rcuRegionBytes } from './layout.js';
export { COOKIE_COMPLETED } from './poll.js';
export { stallMessage, stallReport, stallRewarnMs, stalledWaitMs, STALLED_WAIT_MARGIN_MS, DEFAULT_STALL_MS } from './stall.js';
export type { StallInfo, StalledSlot } from './stall.js';

/** A wait of Rcu.barrierBody: a GP for own callbacks, a GP to drive, or a sleep on the barrier futex. */
type BarrierStep = { op: 'cookie'; cookie: number } | { op: 'gp'; cookie: number } | { op: 'sleep'; futex: number };

/** RCU flavour: `'memb'` (liburcu's memory-barrier flavour: read sections are tracked) or `'qsbr'` (quiescent-state based: threads announce quiescent states). */
export type RcuFlavour = 'memb' | 'qsbr';

/**
 * How memb readUnlock() leaves a section: 'x64' (a plain load and a plain store of the
 * reader word; the store is a release store under x86-TSO) or 'portable' (one seq-cst
 * Atomics.exchange, correct on every CPU).
 */
export type UnlockPath = 'x64' | 'portable';

interface ProcessLike {
  arch?: string;
  env?: Record<string, string | undefined>;
}

function hostProcess(): ProcessLike | undefined {
  try {
    return (globalThis as { process?: ProcessLike }).process;
  } catch {
    return undefined;
  }
}

/** True when this thread runs on x86-64 (x86-TSO: the plain-store readUnlock is a release store). */
export const TSO_HOST: boolean = hostProcess()?.arch === 'x64';

/** The default unlock path of new threads: x64 on an x64 host unless SLABRCU_RCU_UNLOCK=portable. */
export function defaultUnlockPath(): UnlockPath {
  if (!TSO_HOST) return 'portable';
  let v: string | undefined;
  try {
    v = hostProcess()?.env?.SLABRCU_RCU_UNLOCK;
  } catch {
    v = undefined; // an environment we may not read (Deno without --allow-env)
  }
  return v === 'portable' ? 'portable' : 'x64';
}

/**
 * Initialise the RCU region (called once by Arena.create, before any thread attaches).
 */
export function initRcuRegion(i32: Int32Array, baseWord: number, maxThreads: number, flavour: RcuFlavour): void {
  const words = rcuRegionBytes(maxThreads) >> 2;
  for (let i = 0; i < words; i++) Atomics.store(i32, baseWord + i, 0);
  Atomics.store(i32, baseWord + G_CTR, flavour === 'memb' ? MEMB_ACTIVE : QSBR_ONLINE);
  Atomics.store(i32, baseWord + G_SEQ, SEQ_INITIAL);
  Atomics.store(i32, baseWord + G_GP_REQ, SEQ_INITIAL);
  Atomics.store(i32, baseWord + G_FLAVOUR, flavour === 'memb' ? 0 : 1);
  Atomics.store(i32, baseWord + G_MAX_THREADS, maxThreads);
  Atomics.store(i32, baseWord + G_MAGIC, RCU_MAGIC);
}

/** Bits of Rcu.slow: any of them sends readLock() to its slow path. */
const SLOW_DETACHED = 1;
const SLOW_OFFLINE = 2; // qsbr thread offline
const SLOW_DEBUG = 4;

/** How long an async barrier or delegated wait sleeps before re-checking (dead threads, lost drivers). */
const RECHECK_MS = 50;

function misuse(what: string): Error {
  return new Error(`rcu: ${what}`);
}

/**
 * The RCU handle of one thread (`arena.rcu`). Same API for both flavours.
 *
 * Safety contract: pointers loaded inside a read section may be used only inside it;
 * RCU-protected words are loaded with Atomics.load and published with Atomics.store.
 *
 * @example
 * ```ts
 * // reader (any thread)
 * const v = arena.rcu.read(() => Atomics.load(arena.i32, Atomics.load(arena.i32, HEAD) >> 2));
 * // updater
 * const old = Atomics.exchange(arena.i32, HEAD, fresh);
 * arena.rcu.synchronize();          // or: await arena.rcu.synchronizeAsync()
 * cache.free(old);                  // no reader can still see it
 * ```
 */
export class Rcu {
  /** This thread's slot (the same number as {@link Arena.threadId}). */
  readonly slot: number;
  /** Generation of this thread's slot (bumped each time a thread attaches to the slot). */
  readonly gen: number;
  /** The arena's RCU flavour: `'memb'` (read sections are tracked) or `'qsbr'` (threads announce quiescent states). */
  readonly flavour: RcuFlavour;
  /** @internal the grace-period engine (shared with the RCU worker and torture). */
  readonly core: RcuCore;

  private readonly futexW: number;
  private readonly ncbsW: number;
  /** @internal */
  protected readonly memb: boolean;
  /** @internal memb readUnlock(): the x64 plain-store path (see the header). */
  protected x64Unlock = false;
  /** @internal read-section nesting (memb; qsbr with debug). */
  nesting = 0;
  /** @internal SLOW_* bits. */
  slow = 0;
  /** @internal this thread's reader word (S_CTR) and the GP counter word. */
  readonly readerW: number;
  /** @internal */
  readonly ctrW: number;
  /** @internal the arena's Int32 view, cached for the read path. */
  readonly i32: Int32Array;
  private isOnline = true;

  private readonly cbs = new CallbackList();
  private pumpRunning = false;
  private pollWant: number | undefined = undefined;
  private inCallbacks = 0;

  private barrierSeen: number;
  private barrierMarker = 0;
  private barrierWanted = false;

  private qsDeferred = false;
  private sectionId = 0;
  private acrossAwaitReported = 0;

  /** @internal one per attached thread: the arena builds it (use {@link Arena.rcu}). */
  constructor(
    /** @internal */
    readonly host: RcuHost,
  ) {
    const i32 = host.i32;
    const b = host.baseWord;
    if (Atomics.load(i32, b + G_MAGIC) !== RCU_MAGIC) throw new Error('rcu: the RCU region is not initialised (initRcuRegion)');
    const fl = Atomics.load(i32, b + G_FLAVOUR) === 0 ? 'memb' : 'qsbr';
    if (fl !== host.flavour) throw new Error(`rcu: the arena uses the ${fl} flavour, not ${host.flavour}`);
    if (host.slot < 0 || host.slot >= host.maxThreads) throw new RangeError(`rcu: slot ${host.slot} out of range`);
    this.core = new RcuCore(host);
    this.slot = host.slot;
    this.gen = host.slotGen;
    this.flavour = host.flavour;
    this.memb = fl === 'memb';
    this.i32 = i32;
    const c = this.core;
    this.readerW = c.sw(this.slot, S_CTR);
    this.ctrW = c.ctrW;
    this.futexW = c.futexW;
    this.ncbsW = c.sw(this.slot, S_NCBS);
    if (host.debug) this.slow |= SLOW_DEBUG;
    this.x64Unlock = defaultUnlockPath() === 'x64';

    // Register the slot: outside any section (memb) / online (qsbr, liburcu's
    // rcu_register_thread puts a thread online). S_STATE last: barrier callers and
    // stall reports look at the slot only once it is published.
    Atomics.store(i32, this.readerW, this.memb ? 0 : Atomics.load(i32, this.ctrW));
    Atomics.store(i32, this.ncbsW, 0);
    Atomics.store(i32, c.sw(this.slot, S_FAST), this.memb && this.x64Unlock ? 1 : 0);
    this.barrierSeen = Atomics.load(i32, c.sw(this.slot, S_BARRIER_REQ));
    Atomics.store(i32, c.sw(this.slot, S_BARRIER_ACK), this.barrierSeen);
    Atomics.store(i32, c.sw(this.slot, S_GEN), this.gen);
    Atomics.store(i32, c.sw(this.slot, S_STATE), 1);

    // qsbr: when this thread drives a GP from its event loop it is, right then, in a
    // quiescent state; report it as soon as the GP has started, or the GP would wait
    // for its own driver.
    c.onGpStart = (ctr) => {
      if (!this.memb && this.isOnline && this.nesting === 0 && this.slow === (this.slow & SLOW_DEBUG)) {
        Atomics.store(i32, this.readerW, ctr);
      }
    };
    this.pickReadSide();
  }

  // ------------------------------------------------------------------ read side

  /**
   * rcu_read_lock(): enter (or nest) a read-side critical section. Never blocks.
   * memb: the outermost call is a plain load of the GP counter and one Atomics.store.
   * qsbr: a no-op unless debug is on (see setDebug()). The implementation lives on a
   * per-mode prototype chosen at construction (and by setDebug / setUnlockPath), so that
   * `arena.rcu.readLock()` is a monomorphic, inlinable call. (This body only runs if the
   * prototype was not chosen yet: it chooses it and retries.)
   */
  readLock(): void {
    this.pickReadSide();
    this.readLock();
  }

  /**
   * rcu_read_unlock(). memb (and qsbr with debug): throws when there is no section to leave.
   * memb: the outermost call is one Atomics.exchange, or on x64 a plain load and a plain
   * store of this thread's reader word (see unlockPath).
   */
  readUnlock(): void {
    this.pickReadSide();
    this.readUnlock();
  }

  /** Run fn inside a read-side critical section and return its result. fn must be synchronous. */
  read<T>(fn: () => T): T {
    this.pickReadSide();
    return this.read(fn);
  }

  /** How memb readUnlock() leaves a section on this thread ('x64' or 'portable'); see setUnlockPath(). */
  get unlockPath(): UnlockPath {
    return this.x64Unlock ? 'x64' : 'portable';
  }

  /**
   * Choose how this thread's memb readUnlock() leaves a section. 'portable' (one
   * Atomics.exchange) is correct on every CPU; 'x64' (a plain load and a plain store; the
   * section costs about 12 instead of 20 ns) relies on x86-TSO and is refused elsewhere. The
   * default is 'x64' on x64 hosts unless the environment sets SLABRCU_RCU_UNLOCK=portable.
   * qsbr records the choice (its read side has no shared store). Must be called outside
   * any read section.
   */
  setUnlockPath(path: UnlockPath): void {
    if (path !== 'x64' && path !== 'portable') throw new RangeError(`rcu: setUnlockPath: expected 'x64' or 'portable', got ${String(path)}`);
    if (path === 'x64' && !TSO_HOST) throw new RangeError("rcu: setUnlockPath('x64'): this CPU is not x86-64 (the plain-store unlock needs x86-TSO)");
    if (this.nesting > 0) throw misuse('setUnlockPath() inside a read-side critical section');
    this.x64Unlock = path === 'x64';
    // Seq-cst, outside any section: a driver that reads S_FAST = 0 after seeing this slot
    // blocking either set our MEMB_WAITER bit before we left (our exchange sees it) or
    // re-scans after this store (core.ts waitList).
    if ((this.slow & SLOW_DETACHED) === 0) Atomics.store(this.i32, this.core.sw(this.slot, S_FAST), this.memb && this.x64Unlock ? 1 : 0);
    this.pickReadSide();
  }

  /**
   * True while this thread is inside a read-side critical section. qsbr without debug
   * does not track sections (readLock is a no-op) and always answers false.
   */
  get inReadSection(): boolean {
    return this.nesting > 0;
  }

  /** True while this thread runs RCU callbacks (inside an `rcu.call` callback). */
  get inCallback(): boolean {
    return this.inCallbacks > 0;
  }

  /** True when this thread tracks read sections (memb, or qsbr with debug on). */
  get tracksSections(): boolean {
    return this.memb || (this.slow & SLOW_DEBUG) !== 0;
  }

  /**
   * @internal For allocator code that may wait for a GP on the caller's behalf (reclaim
   * under memory pressure): true only when this thread is known to be outside any read
   * section. qsbr without debug cannot know (an online qsbr thread may hold RCU-protected
   * pointers anywhere between quiescent states), so it answers false.
   */
  get mayWaitImplicitly(): boolean {
    return this.nesting === 0 && this.tracksSections;
  }

  /**
   * Per-thread debug switch (the arena's `debug` option turns it on for every thread).
   * qsbr: with debug on, read sections are counted and misuse is refused as in memb;
   * with it off, readLock()/readUnlock()/read() cost nothing (liburcu-qsbr). memb: adds
   * the report of a section left open across an await and the read(async fn) check.
   * Must be called outside any read section.
   */
  setDebug(on: boolean): void {
    if (this.nesting > 0) throw misuse('setDebug() inside a read-side critical section');
    if (on) this.slow |= SLOW_DEBUG;
    else this.slow &= ~SLOW_DEBUG;
    this.pickReadSide();
  }

  /** Choose the read-side prototype for this flavour / debug / unlock-path state. */
  private pickReadSide(): void {
    const debug = (this.slow & SLOW_DEBUG) !== 0;
    let proto: object;
    if ((this.slow & SLOW_DETACHED) !== 0) proto = DetachedRcu.prototype;
    else if (this.memb) proto = debug ? MembDebugRcu.prototype : this.x64Unlock ? MembX64Rcu.prototype : MembPortableRcu.prototype;
    else proto = debug ? QsbrDebugRcu.prototype : QsbrRcu.prototype;
    if (Object.getPrototypeOf(this) !== proto) Object.setPrototypeOf(this, proto);
  }

  /** @internal memb / counted qsbr readLock(): the outermost section is not the common case. */
  readLockSlow(): void {
    const s = this.slow;
    if ((s & SLOW_DETACHED) !== 0) {
      this.nesting--;
      throw misuse('readLock() on a detached thread');
    }
    if ((s & SLOW_OFFLINE) !== 0) {
      this.nesting--;
      throw misuse('readLock() while this thread is offline (qsbr): call online() first');
    }
    if (this.memb) Atomics.store(this.i32, this.readerW, this.i32[this.ctrW]!);
    if ((s & SLOW_DEBUG) !== 0) this.debugEnter();
  }

  /** @internal */
  readUnlockMisuse(): never {
    throw misuse('readUnlock() without a matching readLock()');
  }


  /** @internal memb: leave the outermost section (both unlock paths, for the debug prototype). */
  membLeave(): void {
    const i32 = this.i32;
    if (this.x64Unlock) {
      const v = i32[this.readerW]!;
      i32[this.readerW] = 0;
      if ((v & MEMB_WAITER) !== 0) this.core.wakeDriver();
    } else if ((Atomics.exchange(i32, this.readerW, 0) & MEMB_WAITER) !== 0) {
      this.core.wakeDriver();
    }
  }

  /** Debug: report a section still open when the current task yields (an await inside it). */
  private debugEnter(): void {
    const id = ++this.sectionId;
    const where = new Error('read-side critical section entered here').stack ?? '';
    queueMicrotask(() => {
      if (this.nesting > 0 && this.sectionId === id && this.acrossAwaitReported !== id) {
        this.acrossAwaitReported = id;
        this.host.warn(
          'rcu-read-across-await',
          `WARNING: suspicious RCU usage: read-side critical section of thread slot ${this.slot} left open across an await`,
          `WARNING: suspicious RCU usage\n` +
            `rcu: thread slot ${this.slot} (gen ${this.gen}) yielded to the event loop inside rcu.readLock() (nesting ${this.nesting});\n` +
            `rcu: grace periods wait for it until readUnlock(), and synchronize() from this section would deadlock.\n${where}`,
        );
      }
    });
  }

  // ------------------------------------------------------------ qsbr states

  /** qsbr: announce a quiescent state (this thread holds no RCU-protected pointer). memb: no-op. */
  quiescentState(): void {
    if (this.nesting > 0) throw misuse('quiescentState() inside a read-side critical section');
    this.checkAttached('quiescentState');
    if (this.memb || !this.isOnline) return;
    Atomics.store(this.i32, this.readerW, Atomics.load(this.i32, this.ctrW));
    if (Atomics.load(this.i32, this.futexW) === -1) this.core.wakeDriver();
  }

  /** qsbr: stop blocking grace periods (before an idle wait). memb: no-op. */
  offline(): void {
    if (this.nesting > 0) throw misuse('offline() inside a read-side critical section');
    this.checkAttached('offline');
    if (this.memb || !this.isOnline) return;
    this.goOffline();
  }

  /** qsbr: come back online after offline(). memb: no-op. */
  online(): void {
    this.checkAttached('online');
    if (this.memb || this.isOnline) return;
    this.goOnline();
  }

  private goOffline(): void {
    this.isOnline = false;
    this.slow |= SLOW_OFFLINE;
    Atomics.store(this.i32, this.readerW, 0);
    if (Atomics.load(this.i32, this.futexW) === -1) this.core.wakeDriver();
  }

  private goOnline(): void {
    Atomics.store(this.i32, this.readerW, Atomics.load(this.i32, this.ctrW));
    this.isOnline = true;
    this.slow &= ~SLOW_OFFLINE;
  }

  /** qsbr: report a quiescent state if it is legal right now (called from event-loop turns). */
  private autoQs(): void {
    if (!this.memb && this.isOnline && this.nesting === 0 && (this.slow & SLOW_DETACHED) === 0) {
      Atomics.store(this.i32, this.readerW, Atomics.load(this.i32, this.ctrW));
      if (Atomics.load(this.i32, this.futexW) === -1) this.core.wakeDriver();
    }
  }

  /** Run a blocking wait; a qsbr thread is offline meanwhile (liburcu's synchronize_rcu does the same). */
  private offlineDuring(fn: () => void): void {
    const wasOnline = !this.memb && this.isOnline;
    if (wasOnline) this.goOffline();
    try {
      fn();
    } finally {
      if (wasOnline) this.goOnline();
    }
  }

  // ------------------------------------------------------------ grace periods

  /** synchronize_rcu(): block until every read section that began before this call has ended. */
  synchronize(): void {
    this.checkMayWait('synchronize()');
    const cookie = seqSnap(this.core.seq());
    this.offlineDuring(() => this.core.driveSync(this.slot, cookie));
  }

  /** synchronize_rcu() without blocking the event loop. */
  async synchronizeAsync(): Promise<void> {
    this.checkMayWait('synchronizeAsync()');
    await this.waitCookieAsync(seqSnap(this.core.seq()), true);
  }

  /**
   * @internal synchronize() that gives up `timeoutMs` after the call (the bounded waits
   * of destroy and the kfree_rcu barriers). Returns [] when the grace period completed,
   * else the slots that blocked it when it gave up (a stalled reader). Giving up never
   * ends a GP early (core.ts driveSync). The caller checks for a read section first.
   */
  synchronizeBounded(timeoutMs: number): number[] {
    this.checkAttached('synchronize');
    const deadline = performance.now() + timeoutMs;
    const cookie = seqSnap(this.core.seq());
    let done = false;
    this.offlineDuring(() => {
      done = this.core.driveSync(this.slot, cookie, deadline);
    });
    return done ? [] : this.core.blockingSlots();
  }

  /**
   * @internal synchronizeAsync() that gives up `timeoutMs` after the call: resolves []
   * when the grace period completed, else the slots that blocked it. It does not refuse
   * a read section of this thread left open across an await (that section then blocks
   * the GP like any other reader, and is named when the wait gives up).
   */
  async synchronizeAsyncBounded(timeoutMs: number): Promise<number[]> {
    this.checkAttached('synchronizeAsync');
    const deadline = performance.now() + timeoutMs;
    const done = await this.waitCookieAsync(seqSnap(this.core.seq()), true, deadline);
    return done ? [] : this.core.blockingSlots();
  }

  /**
   * @internal One attempt, never waiting, at the grace periods that complete `cookie`
   * (RcuCore.tryGp). False without trying where this thread would block that GP itself:
   * inside a read section, or a qsbr thread online (between two quiescent states it may
   * hold references). True if the cookie is complete.
   */
  tryGp(cookie: number): boolean {
    if (cookieDone(this.core.seq(), cookie)) return true;
    if (this.nesting > 0 || (this.slow & SLOW_DETACHED) !== 0 || (!this.memb && this.isOnline)) return false;
    return this.core.tryGp(this.slot, cookie);
  }

  /** get_state_synchronize_rcu(): a cookie; does not start a GP. */
  getState(): number {
    return seqSnap(this.core.seq());
  }

  /** start_poll_synchronize_rcu(): a cookie, and a GP is on its way (never blocks). */
  startPoll(): number {
    this.checkAttached('startPoll');
    const cookie = seqSnap(this.core.seq());
    this.core.requestGp(cookie);
    if (!this.core.driverPresent()) {
      if (this.pollWant === undefined || !seqGe(this.pollWant, cookie)) this.pollWant = cookie;
      this.kickPump();
    }
    return cookie;
  }

  /** poll_state_synchronize_rcu(): true once a full GP has elapsed since the cookie was taken. Never blocks. */
  pollState(cookie: number): boolean {
    return cookieDone(this.core.seq(), cookie);
  }

  /** get_completed_synchronize_rcu(): a cookie that is always already completed. */
  getCompletedState(): number {
    return COOKIE_COMPLETED;
  }

  /** cond_synchronize_rcu(): block only if the cookie has not completed yet. */
  condSynchronize(cookie: number): void {
    if (cookieDone(this.core.seq(), cookie)) return;
    this.checkMayWait('condSynchronize()');
    this.offlineDuring(() => this.core.driveSync(this.slot, cookie));
  }

  /**
   * Await completion of cookie; drives GPs itself unless an RCU worker runs. With a
   * deadline (performance.now() time), gives up once it has passed: resolves false.
   */
  private async waitCookieAsync(cookie: number, ref: boolean, deadline = Infinity): Promise<boolean> {
    const core = this.core;
    const release = ref ? keepAlive() : null;
    try {
      while (!cookieDone(core.seq(), cookie)) {
        const left = deadline - performance.now();
        if (left <= 0) return false;
        this.autoQs();
        if (core.driverPresent()) {
          const seen = core.seq();
          core.requestGp(cookie);
          await core.waitSeqAsync(seen, Math.min(RECHECK_MS, left));
        } else if (!(await core.driveAsync(this.slot, cookie, deadline))) {
          return false;
        }
      }
      return true;
    } finally {
      if (release) release();
    }
  }

  // ------------------------------------------------------------ callbacks

  /**
   * call_rcu(): run cb on this thread's event loop after a grace period. Never blocks.
   * Callbacks of one thread run in the order they were queued. Pending callbacks do not
   * keep the process alive; barrier()/barrierAsync() waits for them.
   */
  call(cb: () => void): void {
    if (typeof cb !== 'function') throw new TypeError('rcu: call(cb): cb must be a function');
    this.checkAttached('call');
    const cookie = seqSnap(this.core.seq());
    this.cbs.push(cookie, cb);
    Atomics.store(this.i32, this.ncbsW, this.cbs.pending);
    this.core.requestGp(cookie);
    this.kickPump();
  }

  /** Callbacks queued on this thread and not yet invoked. */
  get pendingCallbacks(): number {
    return this.cbs.pending;
  }

  private runReady(limit = Infinity): number {
    if (this.cbs.pending === 0) return 0;
    this.inCallbacks++;
    let n: number;
    try {
      n = this.cbs.runReady(this.core.seq(), (e) => this.callbackError(e), limit);
    } finally {
      this.inCallbacks--;
    }
    if (n !== 0) {
      Atomics.store(this.i32, this.ncbsW, this.cbs.pending);
      // Drained: barriers waiting for this thread are done with it (barrier.ts).
      if (this.cbs.pending === 0) this.core.kickBarrier();
    }
    return n;
  }

  private callbackError(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    const stack = e instanceof Error && e.stack ? e.stack : msg;
    this.host.warn('rcu-callback-error', `rcu: callback queued by thread slot ${this.slot} threw: ${msg}`, stack);
  }

  private kickPump(): void {
    if (this.pumpRunning || (this.slow & SLOW_DETACHED) !== 0) return;
    this.pumpRunning = true;
    void this.pump();
  }

  /** The oldest cookie this thread's pump waits for, or undefined when it has nothing to do. */
  private pumpNeed(): number | undefined {
    const h = this.cbs.headCookie();
    if (h !== undefined) return h;
    if (this.pollWant !== undefined && cookieDone(this.core.seq(), this.pollWant)) this.pollWant = undefined;
    return this.pollWant;
  }

  /**
   * The softirq analog: runs on this thread's event loop only while callbacks (or a
   * startPoll, or a barrier acknowledgement) are pending, and sleeps only on unref'd
   * timers and Atomics.waitAsync, so it never keeps the process alive.
   */
  private async pump(): Promise<void> {
    const core = this.core;
    try {
      await null; // never invoke callbacks from inside call()
      for (;;) {
        if ((this.slow & SLOW_DETACHED) !== 0) return;
        this.runReady();
        this.serviceBarrier();
        const need = this.pumpNeed();
        if (need === undefined && !this.barrierWanted) return;
        if (need === undefined) {
          // Only a barrier acknowledgement waits, for callbacks that are running.
          await sleepUnref(1);
          continue;
        }
        const seen = core.seq();
        if (cookieDone(seen, need)) continue;
        core.requestGp(need);
        this.autoQs();
        if (core.driverPresent()) {
          await core.waitSeqAsync(seen, 100);
        } else {
          await core.driveAsync(this.slot, need);
          // Let other tasks run between GPs (callbacks that queue callbacks).
          await sleepUnref(0);
        }
      }
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.host.warn('rcu-pump-error', `rcu: callback pump of thread slot ${this.slot} failed: ${msg}`, e instanceof Error && e.stack ? e.stack : msg);
    } finally {
      this.pumpRunning = false;
    }
  }

  // ------------------------------------------------------------ barrier

  /**
   * rcu_barrier(): every callback queued (on any live thread) before this call has run
   * when it returns. This thread's own callbacks run here, inline; other threads
   * acknowledge from their event loops. Does not wait for a GP when nothing is queued.
   */
  barrier(): void {
    this.checkMayWait('barrier()');
    if (this.inCallbacks > 0) throw misuse('barrier() inside an RCU callback would wait for itself');
    const seq = this.core.nextBarrierSeq();
    const targets = barrierTargets(this, seq);
    this.offlineDuring(() => {
      const g = this.barrierBody(seq, targets, true);
      for (let r = g.next(); !r.done; r = g.next()) {
        const s = r.value;
        if (s.op === 'cookie') this.core.driveSync(this.slot, s.cookie);
        else if (s.op === 'gp') this.core.driveSync(this.slot, s.cookie);
        else blockOn(this.i32, this.core.barrierFutexW, s.futex, RECHECK_MS);
      }
    });
  }

  /** rcu_barrier() without blocking the event loop. */
  async barrierAsync(): Promise<void> {
    this.checkMayWait('barrierAsync()');
    if (this.inCallbacks > 0) throw misuse('barrierAsync() inside an RCU callback would wait for itself');
    const seq = this.core.nextBarrierSeq();
    const targets = barrierTargets(this, seq);
    const release = keepAlive();
    try {
      const g = this.barrierBody(seq, targets, false);
      for (let r = g.next(); !r.done; r = g.next()) {
        const s = r.value;
        if (s.op === 'cookie') await this.waitCookieAsync(s.cookie, false);
        else if (s.op === 'gp') await this.core.driveAsync(this.slot, s.cookie);
        else await waitAsync(this.i32, this.core.barrierFutexW, s.futex, RECHECK_MS);
      }
    } finally {
      release();
    }
  }

  /**
   * The body of barrier() and barrierAsync(), one generator driven both ways (as
   * core.ts gpBody): run this thread's callbacks queued so far (yielding each grace
   * period they wait for, 'cookie'), then wait until every target acknowledged `seq`,
   * driving a GP when one is needed and nobody drives ('gp'), else sleeping on the barrier
   * futex ('sleep', with the value loaded before the check). `blocking`: the blocking
   * driver's thread cannot serve barrier requests from its event loop, so it acknowledges
   * them inline each round (serviceBarrier: concurrent barriers never wait for each
   * other); the async one reports a quiescent state instead (autoQs).
   */
  private *barrierBody(seq: number, targets: BarrierTarget[], blocking: boolean): Generator<BarrierStep, void, void> {
    const core = this.core;
    const marker = this.cbs.queued;
    while (this.cbs.done < marker) {
      const c = this.cbs.tailCookie();
      if (c !== undefined) yield { op: 'cookie', cookie: c };
      this.runReady(marker);
    }
    for (;;) {
      const f = Atomics.load(this.i32, core.barrierFutexW);
      if (blocking) this.serviceBarrier();
      if (!barrierPending(core, targets, seq)) return;
      if (!blocking) this.autoQs();
      if (core.gpNeeded() && !core.driverPresent()) {
        yield { op: 'gp', cookie: Atomics.load(this.i32, core.reqW) };
        continue;
      }
      yield { op: 'sleep', futex: f };
    }
  }

  /** Run GPs and this thread's callbacks until everything queued so far has run. */
  private flushOwnSync(): void {
    const marker = this.cbs.queued;
    while (this.cbs.done < marker) {
      const c = this.cbs.tailCookie();
      if (c !== undefined) this.core.driveSync(this.slot, c);
      this.runReady(marker);
    }
  }

  /** Acknowledge barrier requests once the callbacks queued before them have run. */
  private serviceBarrier(): void {
    const req = Atomics.load(this.i32, this.core.sw(this.slot, S_BARRIER_REQ));
    if (req !== this.barrierSeen) {
      this.barrierSeen = req;
      this.barrierMarker = this.cbs.queued;
      this.barrierWanted = true;
    }
    if (!this.barrierWanted) return;
    if (this.cbs.done >= this.barrierMarker) {
      this.barrierWanted = false;
      Atomics.store(this.i32, this.core.sw(this.slot, S_BARRIER_ACK), this.barrierSeen);
      this.core.kickBarrier();
    } else {
      this.kickPump();
    }
  }

  /** @internal barrier.ts: the slot to skip when collecting targets. */
  get selfSlot(): number {
    return this.slot;
  }

  // ------------------------------------------------------------ arena-facing

  /**
   * @internal
   * Serve a REQ_RCU request (the arena calls this from this thread's event-loop pump, and
   * possibly at other safe points): a qsbr quiescent state when legal, barrier
   * acknowledgements, ready callbacks.
   */
  serviceRequests(): void {
    if ((this.slow & SLOW_DETACHED) !== 0) return;
    if (this.tracksSections) this.autoQs();
    else if (!this.qsDeferred) {
      // qsbr without debug: this may be an allocator call inside a read section, which
      // we cannot see. A microtask runs only once the current synchronous task is over,
      // i.e. outside any (correctly used) read section.
      this.qsDeferred = true;
      queueMicrotask(() => {
        this.qsDeferred = false;
        this.autoQs();
      });
    }
    if (this.nesting === 0 && this.inCallbacks === 0) this.runReady();
    this.serviceBarrier();
  }

  /**
   * This thread leaves. Its own pending callbacks are not lost: detach drives the grace
   * periods they wait for and runs them here (it blocks like barrier() for this thread
   * only), then acknowledges barriers, clears its reader word and unregisters the slot.
   * Refused inside a read section. Idempotent.
   */
  detach(): void {
    if ((this.slow & SLOW_DETACHED) !== 0) return;
    if (this.nesting > 0) throw misuse('detach() inside a read-side critical section');
    if (this.inCallbacks > 0) throw misuse('detach() inside an RCU callback');
    const i32 = this.i32;
    const core = this.core;
    if (!this.memb && this.isOnline) this.goOffline();
    this.flushOwnSync();
    this.slow |= SLOW_DETACHED;
    this.pickReadSide();
    this.pollWant = undefined;
    Atomics.store(i32, this.readerW, 0);
    Atomics.store(i32, this.ncbsW, 0);
    Atomics.store(i32, core.sw(this.slot, S_BARRIER_ACK), Atomics.load(i32, core.sw(this.slot, S_BARRIER_REQ)));
    Atomics.compareExchange(i32, core.driverW, this.slot + 1, 0);
    Atomics.store(i32, core.sw(this.slot, S_STATE), 0);
    if (Atomics.load(i32, this.futexW) === -1) core.wakeDriver();
    core.kickBarrier();
  }

  /** True once detach() ran. */
  get detached(): boolean {
    return (this.slow & SLOW_DETACHED) !== 0;
  }

  /**
   * @internal
   * Detach, for it, the thread that owned (slot, gen) and died (worker exit, terminate,
   * crash). Its open read section stops blocking GPs, a GP mutex it held is released
   * (the next GP completes its half-done GP), barriers stop waiting for it. Its queued
   * callbacks are closures of a dead thread: they are lost, and the returned count lets
   * the caller (the arena) warn about them. Returns 0 when (slot, gen) is not attached.
   */
  detachDeadSlot(slot: number, gen: number): number {
    const i32 = this.i32;
    const core = this.core;
    if (slot < 0 || slot >= core.maxThreads) return 0;
    const stW = core.sw(slot, S_STATE);
    if (Atomics.load(i32, core.sw(slot, S_GEN)) !== gen) return 0;
    if (Atomics.compareExchange(i32, stW, 1, 2) !== 1) return 0;
    const dropped = Atomics.load(i32, core.sw(slot, S_NCBS));
    Atomics.store(i32, core.sw(slot, S_CTR), 0);
    Atomics.store(i32, core.sw(slot, S_NCBS), 0);
    Atomics.store(i32, core.sw(slot, S_BARRIER_ACK), Atomics.load(i32, core.sw(slot, S_BARRIER_REQ)));
    gpBreakFor(i32, core.mutexW, slot);
    Atomics.compareExchange(i32, core.driverW, slot + 1, 0);
    Atomics.store(i32, stW, 0);
    core.wakeDriver();
    core.kickBarrier();
    return dropped;
  }

  // ------------------------------------------------------------ testing hooks

  /** @internal torture's broken mode: grace periods driven by this thread do not wait for readers. */
  set testingSkipGpWait(v: boolean) {
    this.core.skipWait = v;
  }

  // ------------------------------------------------------------ checks

  private checkAttached(what: string): void {
    if ((this.slow & SLOW_DETACHED) !== 0) throw misuse(`${what}() on a detached thread`);
  }

  private checkMayWait(what: string): void {
    if (this.nesting > 0) throw misuse(`${what} inside a read-side critical section would deadlock`);
    if ((this.slow & SLOW_DETACHED) !== 0) throw misuse(`${what} on a detached thread`);
  }
}

// ------------------------------------------------------------ read-side implementations
// One prototype per read-side mode; every Rcu instance has exactly one of them as its
// prototype (pickReadSide), so each call site sees constant method targets that V8
// inlines. These classes are never constructed.

/** memb, x64 (x86-TSO) unlock: a plain load of the own reader word, then a plain release store of 0. */
class MembX64Rcu extends Rcu {
  override readLock(): void {
    if (this.nesting++ === 0) {
      // slow is always 0 under this prototype (detached/debug have their own; memb never goes offline).
      const i32 = this.i32;
      // Relaxed load of G_CTR, then the seq-cst store (the StoreLoad fence of the section).
      Atomics.store(i32, this.readerW, i32[this.ctrW]!);
    }
  }

  override readUnlock(): void {
    const n = this.nesting;
    if (n === 1) {
      this.nesting = 0;
      const i32 = this.i32;
      const w = this.readerW;
      // Our own word (in our cache): MEMB_WAITER is set when a driver sleeps on us.
      const v = i32[w]!;
      // Release store under x86-TSO: the section's loads are done before this is visible.
      i32[w] = 0;
      // A driver's CAS landing between the load and the store is overwritten unseen: that
      // wake is lost, which costs the driver at most one short nap (core.ts), never safety.
      if ((v & RHot.MEMB_WAITER) !== 0) this.core.wakeDriver();
    } else if (n > 1) {
      this.nesting = n - 1;
    } else {
      this.readUnlockMisuse();
    }
  }

  override read<T>(fn: () => T): T {
    this.readLock();
    try {
      return fn();
    } finally {
      this.readUnlock();
    }
  }
}

/** memb, any CPU: leave with one seq-cst Atomics.exchange, which also reports a sleeping driver. */
class MembPortableRcu extends Rcu {
  override readLock(): void {
    if (this.nesting++ === 0) {
      const i32 = this.i32;
      Atomics.store(i32, this.readerW, i32[this.ctrW]!);
    }
  }

  override readUnlock(): void {
    const n = this.nesting;
    if (n === 1) {
      this.nesting = 0;
      // One seq-cst RMW: leaves the section, and returns MEMB_WAITER if a GP driver sleeps
      // waiting for this reader (liburcu wake_up_gp).
      if ((Atomics.exchange(this.i32, this.readerW, 0) & RHot.MEMB_WAITER) !== 0) this.core.wakeDriver();
    } else if (n > 1) {
      this.nesting = n - 1;
    } else {
      this.readUnlockMisuse();
    }
  }

  override read<T>(fn: () => T): T {
    this.readLock();
    try {
      return fn();
    } finally {
      this.readUnlock();
    }
  }
}

/** memb with debug: the slow entry (across-await report), either unlock path, read(async fn) refused. */
class MembDebugRcu extends Rcu {
  override readLock(): void {
    if (this.nesting++ === 0) this.readLockSlow();
  }

  override readUnlock(): void {
    const n = this.nesting;
    if (n === 1) {
      this.nesting = 0;
      this.membLeave();
    } else if (n > 1) {
      this.nesting = n - 1;
    } else {
      this.readUnlockMisuse();
    }
  }

  override read<T>(fn: () => T): T {
    return debugRead(this, fn);
  }
}

/** qsbr without debug: read sections cost nothing (liburcu-qsbr). */
class QsbrRcu extends Rcu {
  override readLock(): void {}

  override readUnlock(): void {}

  override read<T>(fn: () => T): T {
    return fn();
  }
}

/** qsbr with debug: sections are only counted (misuse checks, no QS inside a section). */
class QsbrDebugRcu extends Rcu {
  override readLock(): void {
    if (this.nesting++ === 0 && this.slow !== 0) this.readLockSlow();
  }

  override readUnlock(): void {
    const n = this.nesting;
    if (n > 0) this.nesting = n - 1;
    else this.readUnlockMisuse();
  }

  override read<T>(fn: () => T): T {
    return debugRead(this, fn);
  }
}

/** After detach(): entering is refused; leaving is refused where sections are tracked. */
class DetachedRcu extends Rcu {
  override readLock(): void {
    throw misuse('readLock() on a detached thread');
  }

  override readUnlock(): void {
    if (this.tracksSections) this.readUnlockMisuse();
  }

  override read<T>(_fn: () => T): T {
    throw misuse('read() on a detached thread');
  }
}

function debugRead<T>(rcu: Rcu, fn: () => T): T {
  rcu.readLock();
  let r: T;
  try {
    r = fn();
  } finally {
    rcu.readUnlock();
  }
  if (isThenable(r)) {
    throw new TypeError('rcu: read(fn): fn returned a Promise; a read-side critical section cannot span an await');
  }
  return r;
}

function isThenable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export type { BarrierTarget };
