/** A tinypool task that makes the natural first mistake: Arena.attach(workerData). */
import { workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';

export default function task(): string {
  try {
    Arena.attach(workerData as SharedArrayBuffer);
    return 'attached';
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}
