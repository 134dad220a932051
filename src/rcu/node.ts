/**
 * startRcuWorker() (Node entry `slabrcu/node`): a background thread that drives grace
 * periods for async waiters (driver.ts). The worker is unref'd: it never keeps the
 * process alive, and arena.watch() detaches its slot if it dies.
 */
import { Worker } from 'node:worker_threads';
import type { Arena } from '../arena.js';
import { stopGpDriver } from './driver.js';

/** The RCU worker started by {@link startRcuWorker}. */
export interface RcuWorkerHandle {
  /** The worker thread (unref'd: it never keeps the process alive). */
  readonly worker: Worker;
  /** Thread slot of the RCU worker in the arena. */
  readonly slot: number;
  /** Stop driving grace periods; the worker detaches and exits. */
  stop(): Promise<void>;
}

/**
 * Start a background thread that drives grace periods for asynchronous waiters
 * (`synchronizeAsync`, `barrierAsync`, `kvfreeRcuBarrierAsync`, `destroy()`), so they make
 * progress without the waiting threads polling. One per arena; it is watched by `arena`.
 *
 * @example
 * ```ts
 * import { Arena, startRcuWorker } from 'slabrcu/node';
 * const arena = Arena.create();
 * const gp = await startRcuWorker(arena);
 * await arena.rcu.synchronizeAsync();
 * await gp.stop();
 * ```
 */
export async function startRcuWorker(arena: Arena): Promise<RcuWorkerHandle> {
  const worker = new Worker(new URL('./worker-main.js', import.meta.url), { workerData: { sab: arena.sab } });
  arena.watch(worker);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const slot = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { type: string; slot: number; ok: boolean }) => {
      if (m.ok) resolve(m.slot);
      else reject(new Error('slabrcu: startRcuWorker: an RCU worker already runs for this arena'));
    });
    worker.once('error', reject);
    worker.once('exit', () => reject(new Error('slabrcu: startRcuWorker: the RCU worker exited during start-up')));
  });
  worker.unref();
  return {
    worker,
    slot,
    async stop() {
      stopGpDriver(arena.rcu);
      await exited;
    },
  };
}
