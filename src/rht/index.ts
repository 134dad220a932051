/** RCU hash table (the kernel's rhashtable, fixed size): see table.ts for the locking rules. */
export { RcuHashTable } from './table.js';
export type { RhtArena, RhtOptions, RhtHandleOptions, RhtStats } from './table.js';
