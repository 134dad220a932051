/**
 * Runs a stress scenario in a driver worker (test/workers/stress-driver.ts) and watches
 * it from the test's main thread, which never touches the arena: a driver that hangs in a
 * synchronous allocator call (shrink() spinning on a corrupted list, a lock never
 * released) cannot block the watchdog. No progress of the shared heartbeat for `stallMs`
 * = a hang: the driver is terminated and the test fails with the phase every thread was
 * in. (The stall bound only decides when to give up on a hang; nothing is asserted on
 * timing.)
 */
import { Worker } from 'node:worker_threads';
import { CTL } from './shared.js';

/** Phase codes threads write into CTL.PHASE + i (for hang diagnosis). */
export const PHASES = [
  'idle', 'alloc', 'free', 'kfreeRcu', 'read-section', 'barrier', 'shrink', 'kmalloc', 'kfree', 'destroy', 'validate', 'stats',
  'create-cache', 'waiting', 'attach', 'detach', 'remote-free', 'done', 'check-round', 'spawn', 'terminate', 'final',
] as const;
export const PH = Object.fromEntries(PHASES.map((n, i) => [n, i])) as Record<(typeof PHASES)[number], number>;
/** The kill fuzz's attach probe's row in the phase table (the driver is 0, the workers 1..). */
export const PROBE_PHASE_INDEX = 10;

export interface SuperviseOptions {
  scenario: string;
  params: Record<string, unknown>;
  /** No heartbeat for this long = hang (default 30 s). */
  stallMs?: number;
  /** Print driver log lines (default true). */
  echo?: boolean;
}

export interface Supervised<R> {
  result: R;
  log: string[];
}

export function supervise<R>(opts: SuperviseOptions): Promise<Supervised<R>> {
  const ctlSab = new SharedArrayBuffer(CTL.WORDS * 4);
  const ctl = new Int32Array(ctlSab);
  const w = new Worker(new URL('../workers/stress-driver.js', import.meta.url), {
    workerData: { scenario: opts.scenario, params: opts.params, ctl: ctlSab },
  });
  const log: string[] = [];
  const stallMs = opts.stallMs ?? 30_000;
  return new Promise((resolve, reject) => {
    let last = -1;
    let lastChange = Date.now();
    let settled = false;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      f();
    };
    const timer = setInterval(() => {
      const hb = Atomics.load(ctl, CTL.HEARTBEAT);
      if (hb !== last) {
        last = hb;
        lastChange = Date.now();
        return;
      }
      if (Date.now() - lastChange < stallMs) return;
      const phases: string[] = [];
      for (let i = 0; i < 64; i++) {
        const p = Atomics.load(ctl, CTL.PHASE + i);
        if (p !== 0) phases.push(`thread ${i === 0 ? 'driver' : i === PROBE_PHASE_INDEX ? 'probe' : `worker ${i}`}: ${PHASES[p] ?? p}`);
      }
      const msg = `HANG: ${opts.scenario}: no progress for ${stallMs} ms (round ${Atomics.load(ctl, CTL.ROUND)}); ` +
        `phases: ${phases.join('; ') || 'none recorded'}\nlast log lines:\n${log.slice(-15).join('\n')}`;
      finish(() => {
        void w.terminate();
        reject(new Error(msg));
      });
    }, 250);
    w.on('message', (m: { type: string; text?: string; result?: R; message?: string }) => {
      if (m.type === 'log') {
        log.push(m.text!);
        if (opts.echo !== false) console.log(m.text);
      } else if (m.type === 'done') {
        finish(() => {
          void w.terminate();
          resolve({ result: m.result as R, log });
        });
      } else if (m.type === 'error') {
        finish(() => {
          void w.terminate();
          reject(new Error(`${opts.scenario}: driver failed: ${m.message}\nlast log lines:\n${log.slice(-15).join('\n')}`));
        });
      }
    });
    w.on('error', (e) => finish(() => reject(new Error(`${opts.scenario}: driver crashed: ${e.stack ?? e}\nlast log lines:\n${log.slice(-15).join('\n')}`))));
    w.on('exit', (code) => finish(() => reject(new Error(`${opts.scenario}: driver exited (${code}) without a result (V8 fatal error?)\nlast log lines:\n${log.slice(-15).join('\n')}`))));
  });
}
