/**
 * Kill fuzz: a fresh thread attaches to the arena (header intact?) and leaves. (Does
 * nothing as a main module.) It writes its phase into the supervisor's control words
 * (CTL.PHASE + PROBE_PHASE_INDEX) and posts each warning it gets, so a hang report says
 * where it stopped and what it was told.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';
import { CTL } from '../stress/shared.js';
import { PH, PROBE_PHASE_INDEX } from '../stress/supervise.js';

if (!isMainThread && parentPort) {
  const port = parentPort;
  const d = workerData as { sab: SharedArrayBuffer; ctl?: SharedArrayBuffer };
  const ctl = d.ctl ? new Int32Array(d.ctl) : undefined;
  const phase = (p: number): void => {
    if (ctl) Atomics.store(ctl, CTL.PHASE + PROBE_PHASE_INDEX, p);
  };
  try {
    phase(PH.attach);
    const a = Arena.attach(d.sab);
    a.onWarning((w) => port.postMessage({ warning: `${w.kind}: ${w.message.split('\n')[0]!.slice(0, 240)}` }));
    phase(PH.kmalloc);
    const p = a.kmalloc(64);
    phase(PH.kfree);
    if (p !== 0) a.kfree(p);
    phase(PH.detach);
    a.detach();
    phase(PH.done);
    port.postMessage({ ok: true });
  } catch (e) {
    port.postMessage({ ok: false, message: String((e as Error)?.message ?? e) });
  }
}
