/**
 * Atomics mutex: the arena's spinlock/mutex (kernel: spinlock_t, struct mutex, slab_mutex).
 *
 * One shared Int32 word per lock: 0 = unlocked; otherwise (owner token << 1) | W, where
 * W (bit 0) says "someone may be asleep on it". The owner token is this thread's
 * LOCK_TOKEN, so a lock held by a thread that died (a worker terminated inside a critical
 * section) can be found and taken over by whoever detaches the dead thread
 * (takeOverIfOwner): JS threads die at any interrupt check, including inside a critical
 * section, and a lock must not stay held forever by a corpse. The taker holds the lock
 * while it repairs what the lock protects (src/arena/hotplug.ts repairLocked: slab lists rebuilt
 * from the object states, buddy lists from the page kinds), then unlocks, so no other
 * thread ever sees the half-updated structure (formal/mutex.pml: repair before release).
 *
 * Who writes the word: every thread that takes or releases the lock, only with
 * Atomics.compareExchange / Atomics.exchange (all sequentially consistent). Ordering: the
 * acquiring CAS and the releasing exchange are seq-cst, so every plain write made inside
 * the critical section happens-before the next owner's critical section (synchronizes-with
 * between the seq-cst write and the seq-cst read that observes it).
 *
 * Blocking: `lock()` spins briefly (critical sections here are short), then sleeps in
 * Atomics.wait. Atomics.wait is not allowed on a browser's main thread; there the lock
 * spins, and code that may wait for long uses `lockAsync()` (Atomics.waitAsync).
 */

const SPIN = 100;

/** Node's worker_threads.threadId of this thread (0 on the main thread), -1 where there is none (browsers). */
export function nodeThreadId(): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }).process;
  const wt = proc?.getBuiltinModule?.('worker_threads') as { threadId?: number } | undefined;
  return typeof wt?.threadId === 'number' ? wt.threadId : -1;
}

function threadToken(): number {
  const tid = nodeThreadId();
  const base = tid !== -1 ? tid + 1 : 1 + Math.floor(Math.random() * 0x1fffffff);
  return base & 0x3fffffff || 1;
}

/** This thread's owner token (non-zero, < 2^30). */
export const LOCK_TOKEN: number = threadToken();
const MINE = LOCK_TOKEN << 1;

/** True where Atomics.wait may block this thread (workers, Node main thread). */
export const canBlock: boolean = (() => {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
})();

/** Atomics.wait where this thread may block; elsewhere (a browser's main thread) spin for the same time. */
export function blockOn(i32: Int32Array, w: number, v: number, ms: number): void {
  if (canBlock) {
    Atomics.wait(i32, w, v, ms);
    return;
  }
  const end = performance.now() + ms;
  while (Atomics.load(i32, w) === v && performance.now() < end) {
    /* spin */
  }
}

const napWord = new Int32Array(new SharedArrayBuffer(4));

/** Pause this thread for `ms` without the event loop (polling loops of synchronous waits). */
export function nap(ms: number): void {
  blockOn(napWord, 0, 0, ms);
}

export function tryLock(i32: Int32Array, w: number): boolean {
  return Atomics.compareExchange(i32, w, 0, MINE) === 0;
}

/**
 * A lock seen held by the same owner for this long is taken to be held by a thread that
 * died inside its critical section (sections here last microseconds; the longest, a
 * debug validate() of a huge cache, well under a second per slab list walk). A watched
 * worker's locks are released at once by arena.watch; this is the fallback. Whoever waits
 * breaks it and reports it: a thread that is blocked in a lock cannot run the event-loop
 * callback (worker 'exit') that would otherwise release it.
 */
export const LOCK_LEASE_MS = 10_000;
let onBroken: ((owner: number, word: number) => void) | undefined;

/**
 * Called when a waiter breaks a lock whose owner held it past LOCK_LEASE_MS, *while the
 * waiter holds it*: the handler repairs what the lock protects (src/arena/repair) before
 * anyone else can see it; the waiter then goes on as the lock's owner.
 */
export function setBrokenLockHandler(fn: (owner: number, word: number) => void): void {
  onBroken = fn;
}

/** True if the lease ran out and this thread took the lock over (the caller then owns it). */
function breakIfStale(i32: Int32Array, w: number, c: number, since: { owner: number; t: number }): boolean {
  const owner = c >>> 1;
  const now = Date.now();
  if (owner !== since.owner) {
    since.owner = owner;
    since.t = now;
    return false;
  }
  if (now - since.t < LOCK_LEASE_MS) return false;
  since.t = now;
  // Keep the waiter bit: others may sleep on the word; our unlock wakes them.
  if (Atomics.compareExchange(i32, w, c, MINE | 1) !== c) return false;
  try {
    onBroken?.(owner, w);
  } catch {
    /* a repair that throws still leaves the lock ours; the caller goes on */
  }
  return true;
}

/**
 * One step of a contended acquire: 0 when we now own the lock, -1 to retry at once, else
 * the (positive) lock value to sleep on. Sets the waiter bit so the owner's unlock wakes us.
 */
function contendedStep(i32: Int32Array, w: number, since: { owner: number; t: number }): number {
  let c = Atomics.load(i32, w);
  if (c === 0) {
    // We may have been woken with others still asleep: keep the waiter bit.
    return Atomics.compareExchange(i32, w, 0, MINE | 1) === 0 ? 0 : -1;
  }
  if (breakIfStale(i32, w, c, since)) return 0;
  if ((c & 1) === 0) {
    if (Atomics.compareExchange(i32, w, c, c | 1) !== c) return -1;
    c |= 1;
  }
  return c;
}

export function lock(i32: Int32Array, w: number): void {
  if (Atomics.compareExchange(i32, w, 0, MINE) === 0) return;
  for (let i = 0; i < SPIN; i++) {
    if (Atomics.load(i32, w) === 0 && Atomics.compareExchange(i32, w, 0, MINE) === 0) return;
  }
  const since = { owner: 0, t: 0 };
  for (;;) {
    const c = contendedStep(i32, w, since);
    if (c === 0) return;
    if (c > 0 && canBlock) Atomics.wait(i32, w, c, 20);
  }
}

export function unlock(i32: Int32Array, w: number): void {
  if (Atomics.exchange(i32, w, 0) & 1) Atomics.notify(i32, w, 1);
}

/** Acquire without blocking the event loop (Atomics.waitAsync between attempts). */
export async function lockAsync(i32: Int32Array, w: number): Promise<void> {
  const since = { owner: 0, t: 0 };
  for (;;) {
    const c = contendedStep(i32, w, since);
    if (c === 0) return;
    if (c < 0) continue;
    const r = Atomics.waitAsync(i32, w, c, 20);
    if (r.async) await r.value;
  }
}

/** Run fn under the lock. */
export function withLock<T>(i32: Int32Array, w: number, fn: () => T): T {
  lock(i32, w);
  try {
    return fn();
  } finally {
    unlock(i32, w);
  }
}

/** Owner token of a held lock, 0 if free. */
export function lockOwner(i32: Int32Array, w: number): number {
  return Atomics.load(i32, w) >>> 1;
}

/**
 * Take the lock over from the (dead) thread with `token` if it holds it: afterwards the
 * calling thread owns the lock (waiter bit kept), repairs what it protects, and unlocks.
 * Returns true if it took it.
 */
export function takeOverIfOwner(i32: Int32Array, w: number, token: number): boolean {
  // Retry while the word changes under us: a waiter may set the W bit between our load
  // and our CAS (formal/mutex.pml CODE_SINGLE_CAS: one CAS gave up and left the dead
  // holder's lock to the lease, which breaks it without the repair). Only the owner
  // token decides; the loop ends when the lock is ours or no longer the dead thread's.
  for (;;) {
    const c = Atomics.load(i32, w);
    if (c === 0 || c >>> 1 !== token) return false;
    if (Atomics.compareExchange(i32, w, c, MINE | 1) === c) return true;
  }
}
