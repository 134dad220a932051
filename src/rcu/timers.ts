/**
 * Event-loop helpers that work in Node and in browsers (no `node:` import).
 *
 * RCU must never keep a thread alive by itself: its callback pump sleeps only on
 * unref'd timers and Atomics.waitAsync (which Node does not count as a pending
 * handle). Operations a caller awaits (synchronizeAsync, barrierAsync) hold a ref'd
 * keep-alive timer for their duration instead, so `await rcu.synchronizeAsync()` at
 * the end of a script is not cut short by the process exiting.
 */

function unrefHandle(h: unknown): void {
  if (typeof h === 'object' && h !== null && 'unref' in h && typeof (h as { unref: unknown }).unref === 'function') {
    (h as { unref(): void }).unref();
  }
}

/** Resolve after ms on a timer that does not keep the process alive. */
export function sleepUnref(ms: number): Promise<void> {
  return new Promise((resolve) => {
    unrefHandle(setTimeout(resolve, ms));
  });
}

/** Keep the event loop alive until the returned function is called. */
export function keepAlive(): () => void {
  const h = setInterval(() => {}, 1 << 30);
  return () => clearInterval(h);
}

/**
 * Atomics.waitAsync on i32[w] while it equals v, at most ms. Resolves at once when the
 * value differs. Never keeps the process alive by itself.
 */
export async function waitAsync(i32: Int32Array, w: number, v: number, ms: number): Promise<void> {
  const r = Atomics.waitAsync(i32, w, v, ms);
  if (r.async) await r.value;
}
