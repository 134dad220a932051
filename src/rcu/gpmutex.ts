/**
 * The grace-period mutex (liburcu: rcu_gp_lock; kernel: the GP kthread is the only
 * driver). One GP runs at a time; whoever holds the mutex advances G_SEQ and flips G_CTR.
 *
 * Word G_GP_MUTEX: 0 when free, else ((owner slot + 1) << 1) | WAITERS.
 * - Taken with Atomics.compareExchange(0 -> mine), so the owner is recorded in the same
 *   atomic step that takes the lock: a thread that dies holding it (worker terminated
 *   in synchronize()) is recognisable, and detachDeadSlot() breaks the lock for it.
 *   The GP state it leaves behind (G_SEQ "in progress", G_CTR maybe flipped) is fully
 *   in shared memory, and the next holder simply runs a complete GP from there.
 * - WAITERS (bit 0) is set with a CAS by a thread about to sleep on the word; the
 *   unlocking Atomics.exchange(0) sees it and notifies (Drepper's mutex #3, with the
 *   owner tag instead of the value 1). A woken thread re-takes the lock with WAITERS
 *   set, because other sleepers may remain.
 * - Every operation is sequentially consistent, so the GP state written by one holder
 *   happens-before everything the next holder does.
 */
import { canBlock } from '../sync/mutex.js';

const WAITERS = 1;
const SPIN = 64;
/** Sleeps are bounded so that a lock broken for a dead owner never strands a sleeper. */
const SLEEP_MS = 20;

export function gpTag(slot: number): number {
  return (slot + 1) << 1;
}

export function gpOwner(v: number): number {
  return (v >> 1) - 1;
}

export function gpTryLock(i32: Int32Array, w: number, slot: number): boolean {
  return Atomics.compareExchange(i32, w, 0, gpTag(slot)) === 0;
}

/**
 * Take the lock, blocking. With a `deadline` (performance.now() time), gives up once it
 * has passed and returns false (the lock is not taken); otherwise returns true.
 */
export function gpLock(i32: Int32Array, w: number, slot: number, deadline = Infinity): boolean {
  const mine = gpTag(slot);
  let c = Atomics.compareExchange(i32, w, 0, mine);
  if (c === 0) return true;
  for (let i = 0; i < SPIN; i++) {
    if ((c & WAITERS) === 0) {
      c = Atomics.compareExchange(i32, w, 0, mine);
      if (c === 0) return true;
    } else c = Atomics.load(i32, w);
  }
  for (;;) {
    if (c === 0) {
      c = Atomics.compareExchange(i32, w, 0, mine | WAITERS);
      if (c === 0) return true;
      continue;
    }
    // Giving up leaves WAITERS set at worst: the holder's unlock then notifies nobody.
    if (performance.now() >= deadline) return false;
    if ((c & WAITERS) === 0) {
      const seen = Atomics.compareExchange(i32, w, c, c | WAITERS);
      if (seen !== c) {
        c = seen;
        continue;
      }
      c |= WAITERS;
    }
    if (canBlock) Atomics.wait(i32, w, c, Math.max(0, Math.min(SLEEP_MS, deadline - performance.now())));
    c = Atomics.load(i32, w);
  }
}

/**
 * Take the lock without blocking the event loop. `onLocked` runs synchronously in the
 * step that took it (before any other task or microtask of this thread can run), so the
 * caller can record that this thread's async context holds it (core.ts driveAsync).
 */
export async function gpLockAsync(i32: Int32Array, w: number, slot: number, onLocked?: () => void, deadline = Infinity): Promise<boolean> {
  const mine = gpTag(slot);
  let c = Atomics.compareExchange(i32, w, 0, mine);
  while (c !== 0) {
    if (performance.now() >= deadline) return false; // not taken (see gpLock)
    if ((c & WAITERS) === 0) {
      const seen = Atomics.compareExchange(i32, w, c, c | WAITERS);
      if (seen !== c) {
        c = seen === 0 ? Atomics.compareExchange(i32, w, 0, mine | WAITERS) : seen;
        continue;
      }
      c |= WAITERS;
    }
    const r = Atomics.waitAsync(i32, w, c, Math.max(0, Math.min(SLEEP_MS, deadline - performance.now())));
    if (r.async) await r.value;
    c = Atomics.compareExchange(i32, w, 0, mine | WAITERS);
  }
  if (onLocked) onLocked();
  return true;
}

export function gpUnlock(i32: Int32Array, w: number): void {
  if ((Atomics.exchange(i32, w, 0) & WAITERS) !== 0) Atomics.notify(i32, w);
}

/** Break the lock if `slot` (dead) holds it. Returns true when it did. */
export function gpBreakFor(i32: Int32Array, w: number, slot: number): boolean {
  for (;;) {
    const c = Atomics.load(i32, w);
    if (c === 0 || gpOwner(c) !== slot) return false;
    // The WAITERS bit may change under us (a sleeper arriving): retry the CAS.
    if (Atomics.compareExchange(i32, w, c, 0) === c) {
      Atomics.notify(i32, w);
      return true;
    }
  }
}

/** Slot holding the GP mutex, or -1. */
export function gpHolder(i32: Int32Array, w: number): number {
  const c = Atomics.load(i32, w);
  return c === 0 ? -1 : gpOwner(c);
}
