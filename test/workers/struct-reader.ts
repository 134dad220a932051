import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { defineStruct } from '../../src/struct.js';

// `node --test dist/test/` also loads this file as a test: only act inside a worker.
if (!isMainThread) main();

function main(): void {
  const { sab, ptr } = workerData as { sab: SharedArrayBuffer; ptr: number };
  const v = { u8: new Uint8Array(sab), i32: new Int32Array(sab), u32: new Uint32Array(sab), f64: new Float64Array(sab), dv: new DataView(sab) };
  const S = defineStruct({ key: 'u32', value: 'f64', next: 'ptr', tag: 'i16' });
  const got = S.read(v, ptr);
  S.set(v, ptr, 'value', got.value * 2);
  parentPort!.postMessage(got);
}
