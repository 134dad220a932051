/**
 * One body per sync/async pair (as rcu/core.ts gpBody): the drain and the barriers are
 * generators that yield each wait as a Step and are driven either by a blocking loop
 * (runSync: lock, nap, synchronizeBounded, with this thread's requests served by hand) or
 * by an async one (runAsync: lockAsync, setTimeout, synchronizeAsyncBounded, with the
 * event loop serving them; every wait keeps the thread alive: the timers and the grace
 * period's wait are ref'd, and lockAsync's Atomics.waitAsync gets a keep-alive timer).
 * A step's result (the stalled slots of a grace period) is the value of its `yield`.
 *
 * Concurrency: the drivers touch shared memory only through the calls they make (the
 * lock word is an Atomics mutex, src/sync/mutex.ts; its place in the lock order is the
 * caller's, see src/layout.ts). A thread that dies while a driver waits holds nothing the
 * wait took, except a lock once its LOCK step returned (taken over by its detacher).
 */
import { keepAlive } from '../rcu/timers.js';
import { lock, lockAsync, nap } from '../sync/mutex.js';
import type { KfreeHost } from './host.js';

export const enum StepKind {
  /** Take the Atomics mutex at word `arg` (a drain's G_DRAIN_LOCK). */
  LOCK,
  /** Let this thread's pending requests be served: sync serves them now, async awaits `arg` ms on the event loop. */
  SERVE,
  /** Sleep `arg` ms (sync only: an async SERVE already slept). */
  NAP,
  /** A grace period bounded by `arg` ms; the yield's value is the slots that stalled it. */
  GP,
}

export interface Step {
  readonly kind: StepKind;
  readonly arg: number;
}

export type Body<R> = Generator<Step, R, number[] | undefined>;

/** Drive `body` to its end, blocking this thread at each wait. */
export function runSync<R>(host: KfreeHost, body: Body<R>): R {
  let r = body.next();
  while (!r.done) {
    const s = r.value;
    let v: number[] | undefined;
    switch (s.kind) {
      case StepKind.LOCK: lock(host.i32, s.arg); break;
      case StepKind.SERVE: host.serviceRequests(); break;
      case StepKind.NAP: nap(s.arg); break;
      case StepKind.GP: v = host.rcu.synchronizeBounded(s.arg); break;
    }
    r = body.next(v);
  }
  return r.value;
}

/** Drive `body` to its end without blocking the event loop. */
export async function runAsync<R>(host: KfreeHost, body: Body<R>): Promise<R> {
  let r = body.next();
  while (!r.done) {
    const s = r.value;
    let v: number[] | undefined;
    switch (s.kind) {
      case StepKind.LOCK: {
        // Atomics.waitAsync (lockAsync's sleep) is no pending handle to Node: a worker
        // whose only work is this wait would exit in the middle of the awaited barrier or
        // destroy (it did, in the kill fuzz: a worker gone inside destroy()). A ref'd
        // timer keeps it alive while it waits, as rcu/index.ts waitCookieAsync does.
        const release = keepAlive();
        try {
          await lockAsync(host.i32, s.arg);
        } finally {
          release();
        }
        break;
      }
      case StepKind.SERVE: await new Promise<void>((res) => setTimeout(res, s.arg)); break;
      case StepKind.NAP: break;
      case StepKind.GP: v = await host.rcu.synchronizeAsyncBounded(s.arg); break;
    }
    r = body.next(v);
  }
  return r.value;
}
