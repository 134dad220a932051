/** The RCU worker thread (startRcuWorker): attach, drive grace periods until stopped, detach. */
import { parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../arena.js';
import { runGpDriver } from './driver.js';

if (parentPort) {
  const port = parentPort;
  const arena = Arena.attach((workerData as { sab: SharedArrayBuffer }).sab);
  const core = arena.rcu.core;
  // Claim the driver role first so start-up reports a conflict instead of hanging.
  const run = runGpDriver(arena.rcu);
  port.postMessage({ type: 'ready', slot: arena.threadId, ok: Atomics.load(core.i32, core.driverW) === arena.threadId + 1 });
  // The RCU worker also frees kfree_rcu batches whose grace period has completed
  // (kernel: kfree_rcu_work on rcu_reclaim_wq), so application threads need not.
  const reclaim = setInterval(() => arena.kfreeRcuImpl.driverTick(), 10);
  void run.then(() => {
    clearInterval(reclaim);
    arena.detach();
  });
}
