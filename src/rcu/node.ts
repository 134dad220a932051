/**
 * startRcuWorker() (Node entry `slabrcu/node`): a background thread that drives grace
 * periods for async waiters (driver.ts). The worker is unref'd: it never keeps the
 * process alive, and arena.watch() detaches its slot if it dies.
 */
import { Worker } from 'node:worker_threads';
import type { Arena } from '../arena.js';
import { stopGpDriver } from './driver.js';

export interface RcuWorkerHandle {
  readonly worker: Worker;
  /** Thread slot of the RCU worker in the arena. */
  readonly slot: number;
  /** Stop driving grace periods; the worker detaches and exits. */
  stop(): Promise<void>;
}

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
