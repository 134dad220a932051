/**
 * Driver worker of the stress scenarios (test/stress/supervise.ts starts it): runs one
 * scenario with its own arena and sub-workers, posts log lines and the result. The test's
 * main thread only watches the heartbeat, so a hang in here is reported, not waited on.
 * (Does nothing when run as a main module.)
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CTL } from '../stress/shared.js';
import type { DriverCtx } from '../stress/driver-ctx.js';
import { exhaustion, type ExhaustParams } from '../stress/exhaustion.js';
import { killFuzz, type KillParams } from '../stress/killfuzz.js';

if (!isMainThread && parentPort) {
  const port = parentPort;
  const d = workerData as { scenario: string; params: Record<string, unknown>; ctl: SharedArrayBuffer };
  const ctl = new Int32Array(d.ctl);
  const ctx: DriverCtx = {
    ctlSab: d.ctl,
    ctl,
    log: (text) => port.postMessage({ type: 'log', text }),
    beat: () => void Atomics.add(ctl, CTL.HEARTBEAT, 1),
    phase: (code) => {
      Atomics.store(ctl, CTL.PHASE, code);
      Atomics.add(ctl, CTL.HEARTBEAT, 1);
    },
    fail: (message) => port.postMessage({ type: 'error', message }),
  };
  const run = async (): Promise<unknown> => {
    switch (d.scenario) {
      case 'exhaustion':
        return exhaustion(d.params as unknown as ExhaustParams, ctx);
      case 'killfuzz':
        return killFuzz(d.params as unknown as KillParams, ctx);
      default:
        throw new Error(`unknown scenario ${d.scenario}`);
    }
  };
  const keepAlive = setInterval(() => {}, 1000); // an await on Atomics.waitAsync alone does not keep a thread alive
  run().finally(() => clearInterval(keepAlive)).then(
    (result) => port.postMessage({ type: 'done', result }),
    (e: unknown) => port.postMessage({ type: 'error', message: String((e as Error)?.stack ?? e) }),
  );
}
