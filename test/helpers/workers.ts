import { Worker } from 'node:worker_threads';

/** Start a worker from dist/test/workers/<name>.js with workerData. */
export function startWorker(name: string, data: Record<string, unknown>): Worker {
  return new Worker(new URL(`../workers/${name}.js`, import.meta.url), { workerData: data });
}

/** Resolve with the first message of `type` from w (reject on an 'error' message or exit). */
export function nextMessage<T = Record<string, unknown>>(w: Worker, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: { type: string; message?: string }): void => {
      if (m.type === type) {
        cleanup();
        resolve(m as T);
      } else if (m.type === 'error') {
        cleanup();
        reject(new Error(m.message));
      }
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`worker exited (${code}) before sending '${type}'`));
    };
    const cleanup = (): void => {
      w.off('message', onMsg);
      w.off('exit', onExit);
    };
    w.on('message', onMsg);
    w.on('exit', onExit);
  });
}

export function exited(w: Worker): Promise<number> {
  return new Promise((r) => w.once('exit', r));
}
