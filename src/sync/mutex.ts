/**
 * Atomics mutex: the arena's spinlock/mutex (kernel: spinlock_t, struct mutex, slab_mutex).
 *
 * One shared Int32 word per lock:
 *   0 = unlocked, 1 = locked with no waiter, 2 = locked and someone may sleep on it.
 * This is Drepper's "futexes are tricky" mutex #3.
 *
 * Who writes the word: every thread that takes or releases the lock, only with
 * Atomics.compareExchange / Atomics.exchange / Atomics.store (all sequentially
 * consistent). Who reads it: the same threads. Ordering: the CAS that acquires and
 * the exchange that releases are seq-cst, so every plain write made inside the
 * critical section happens-before the next owner's critical section (the JS memory
 * model gives synchronizes-with between a seq-cst write and the seq-cst read that
 * observes it).
 *
 * Blocking: `lock()` spins briefly (most critical sections here are a few hundred
 * nanoseconds), then sleeps in Atomics.wait. Atomics.wait is not allowed on the main
 * thread of a browser; there the lock only spins (the sections are short), and code
 * that may wait for long uses `lockAsync()` (Atomics.waitAsync).
 */

const SPIN = 100;

/** True where Atomics.wait may block this thread (workers, Node main thread). */
export const canBlock: boolean = (() => {
  try {
    // Atomics.wait on a value that does not match returns at once; it throws where
    // blocking is forbidden (a browser's main thread).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
})();

export function tryLock(i32: Int32Array, w: number): boolean {
  return Atomics.compareExchange(i32, w, 0, 1) === 0;
}

export function lock(i32: Int32Array, w: number): void {
  let c = Atomics.compareExchange(i32, w, 0, 1);
  if (c === 0) return;
  for (let i = 0; i < SPIN; i++) {
    if (c === 1 || c === 0) {
      c = Atomics.compareExchange(i32, w, 0, 1);
      if (c === 0) return;
    }
  }
  // Slow: announce a waiter (2) and sleep until the word changes.
  if (c !== 2) c = Atomics.exchange(i32, w, 2);
  while (c !== 0) {
    if (canBlock) Atomics.wait(i32, w, 2, 50);
    c = Atomics.exchange(i32, w, 2);
  }
}

export function unlock(i32: Int32Array, w: number): void {
  // If the old value was 2 someone may be asleep: wake one.
  if (Atomics.exchange(i32, w, 0) === 2) Atomics.notify(i32, w, 1);
}

/** Acquire without blocking the event loop (Atomics.waitAsync between attempts). */
export async function lockAsync(i32: Int32Array, w: number): Promise<void> {
  for (;;) {
    let c = Atomics.compareExchange(i32, w, 0, 1);
    if (c === 0) return;
    if (c !== 2) c = Atomics.exchange(i32, w, 2);
    if (c === 0) return;
    const r = Atomics.waitAsync(i32, w, 2, 50);
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
