/**
 * Shared-memory layout of an RCU hash table (one kmalloc'd block per table).
 *
 *   word  0   H_MAGIC     'RHT1' while the table lives, 0 after destroy (plain store before
 *                         the block goes back through a grace period)
 *   word  1   H_NBUCKETS  power of two, fixed for the table's life (kernel rhashtable resizes;
 *                         this one does not: see README "limits")
 *   word  2   H_KEY_OFF   byte offset of the u32 key inside an entry
 *   word  3   H_NEXT_OFF  byte offset of the `next` pointer inside an entry
 *   word  4   H_ENTRY_SIZE bytes copied by update() (copy, update, publish)
 *   word  5   H_SEED      hash seed, random per table
 *   word  8   H_COUNT     entries linked now            Atomics.add by writers under a bucket lock
 *   word  9   H_INSERTS   successful inserts (ever)     Atomics.add
 *   word 10   H_REMOVES   removals (ever)               Atomics.add
 *   word 11   H_REPLACES  replacements (ever)           Atomics.add
 *   bytes 64.. buckets: two words each
 *     [0] head   first entry (arena byte offset, 0 = empty). Written only under the bucket
 *                lock, always with Atomics.store (rcu_assign_pointer); readers Atomics.load it.
 *     [1] lock   the bucket's Atomics mutex (sync/mutex.ts), serialising writers of the chain.
 *
 * Each entry's `next` word follows the same rule as a bucket head: written under the bucket
 * lock with Atomics.store once the entry is reachable, read with Atomics.load by readers.
 * A removed entry's `next` is left untouched, so a reader standing on it still reaches the
 * rest of the chain (the kernel's hlist_del_rcu does the same).
 */
export const RHT_MAGIC = 0x31544852; // 'RHT1'
export const H_MAGIC = 0;
export const H_NBUCKETS = 1;
export const H_KEY_OFF = 2;
export const H_NEXT_OFF = 3;
export const H_ENTRY_SIZE = 4;
export const H_SEED = 5;
export const H_COUNT = 8;
export const H_INSERTS = 9;
export const H_REMOVES = 10;
export const H_REPLACES = 11;
export const HEADER_BYTES = 64;
export const BUCKET_WORDS = 2;
export const B_HEAD = 0;
export const B_LOCK = 1;
export const MAX_BUCKETS = 1 << 20;

export function tableBytes(nbuckets: number): number {
  return HEADER_BYTES + nbuckets * BUCKET_WORDS * 4;
}
