/**
 * slabrcu/node: Node-only helpers (worker threads). The core entry stays browser-safe.
 */
export * from './index.js';
