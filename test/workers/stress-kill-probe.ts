/** Kill fuzz: a fresh thread attaches to the arena (header intact?) and leaves. (Does nothing as a main module.) */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';

if (!isMainThread && parentPort) {
  try {
    const a = Arena.attach((workerData as { sab: SharedArrayBuffer }).sab);
    const p = a.kmalloc(64);
    if (p !== 0) a.kfree(p);
    a.detach();
    parentPort.postMessage({ ok: true });
  } catch (e) {
    parentPort.postMessage({ ok: false, message: String((e as Error)?.message ?? e) });
  }
}
