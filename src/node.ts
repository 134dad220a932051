/**
 * slabrcu/node: Node-only helpers (worker threads). The core entry stays browser-safe.
 */
export * from './index.js';
export { startRcuWorker } from './rcu/node.js';
export type { RcuWorkerHandle } from './rcu/node.js';
export { runTorture } from './rcu/torture.js';
export type { TortureOptions, TortureResult } from './rcu/torture.js';
