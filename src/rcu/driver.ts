/**
 * The RCU worker's loop (kernel: rcu_gp_kthread): a dedicated thread that runs grace
 * periods for everyone who asked without blocking (synchronizeAsync, call, startPoll),
 * so application threads never spend time scanning readers or waiting on them.
 *
 * Shared words: G_DRIVER (claimed with compareExchange 0 -> slot + 1, so at most one
 * driver runs; cleared by stop, by the driver on exit, or by detachDeadSlot when it
 * died), G_DRIVER_FUTEX (requesters Atomics.add + notify it; the driver sleeps on it
 * with Atomics.waitAsync), G_GP_REQ (the newest cookie asked for). The driver itself is
 * never a reader: a qsbr driver goes offline for good.
 *
 * No `node:` import: Node's startRcuWorker (rcu/node.ts) runs this in a worker; a
 * browser can run it in a Web Worker the same way.
 */
import type { Rcu } from './index.js';
import { keepAlive, waitAsync } from './timers.js';

/** Idle re-check period (the driver is woken by requests, this only bounds a lost wake-up). */
const IDLE_MS = 1000;

/** Run as this thread's GP driver until stopGpDriver(). Resolves false if another driver already runs. */
export async function runGpDriver(rcu: Rcu): Promise<boolean> {
  const core = rcu.core;
  const i32 = core.i32;
  const mine = rcu.slot + 1;
  if (Atomics.compareExchange(i32, core.driverW, 0, mine) !== 0) return false;
  rcu.offline();
  const release = keepAlive();
  try {
    while (Atomics.load(i32, core.driverW) === mine) {
      const f = Atomics.load(i32, core.driverFutexW);
      if (core.gpNeeded()) {
        await core.driveAsync(rcu.slot, Atomics.load(i32, core.reqW));
        continue;
      }
      await waitAsync(i32, core.driverFutexW, f, IDLE_MS);
    }
  } finally {
    Atomics.compareExchange(i32, core.driverW, mine, 0);
    release();
  }
  return true;
}

/** Ask the running GP driver (if any) to stop; callable from any thread of the arena. */
export function stopGpDriver(rcu: Rcu): void {
  const core = rcu.core;
  Atomics.store(core.i32, core.driverW, 0);
  Atomics.add(core.i32, core.driverFutexW, 1);
  Atomics.notify(core.i32, core.driverFutexW);
}
