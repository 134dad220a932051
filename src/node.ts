/**
 * slabrcu/node: everything in `slabrcu`, plus the Node-only helpers (worker threads): a
 * dedicated RCU grace-period worker ({@link startRcuWorker}) and the RCU torture test
 * ({@link runTorture}). The core entry `slabrcu` stays browser-safe.
 *
 * @module slabrcu/node
 */
export * from './index.js';
export { startRcuWorker } from './rcu/node.js';
export type { RcuWorkerHandle } from './rcu/node.js';
export { runTorture } from './rcu/torture.js';
export type { TortureOptions, TortureResult } from './rcu/torture.js';
