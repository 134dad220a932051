/**
 * The SLUB debug region of the arena (see src/layout.ts for where it sits) and the byte
 * values of include/linux/poison.h.
 *
 * The region holds only fixed-size shared state: two locks, the stack depot's pool
 * cursor and hash buckets, the quarantine's ring cursor and counters. The stack records
 * and the quarantine ring live in buddy pages taken on demand (PK_PAGES, with a tag in
 * P_CACHE), so an arena without debugging pays only for this small region.
 *
 * Word map (Int32 indices relative to the region's first word). For every word: who
 * writes it, who reads it, and what orders the accesses.
 *
 *   0..15   D_DEPOT_LOCK     stack depot mutex (src/sync/mutex.ts), own cache line
 *   16..31  D_Q_LOCK         quarantine mutex, own cache line
 *   32      D_DEPOT_POOL     byte offset of the current pool block's first byte (0 = none)
 *   33      D_DEPOT_USED     bytes used in the current pool block
 *   34      D_DEPOT_END      byte size of the current pool block
 *   35      D_DEPOT_RECORDS  records stored (statistics)
 *   36      D_DEPOT_BYTES    bytes taken from the page allocator (statistics)
 *           32..36: written and read only under D_DEPOT_LOCK (plain accesses; the
 *           lock's seq-cst CAS/exchange orders them).
 *   40      D_Q_RING         byte offset of the ring (Int32 entries, 0 = not allocated)
 *   41      D_Q_CAP          ring capacity in entries
 *   42      D_Q_HEAD         index of the oldest entry
 *   43      D_Q_COUNT        entries in the ring, holes included
 *   44      D_Q_BYTES        bytes held (sum of the strides of the live entries)
 *   45      D_Q_OBJECTS      live entries (holes excluded)
 *           40..45: written under D_Q_LOCK with plain stores; D_Q_BYTES and D_Q_OBJECTS
 *           are also read without the lock (statistics) with Atomics.load, so their
 *           writers use Atomics.store.
 *   46      D_Q_EVICTED      objects evicted so far (Atomics.add by the evicting thread)
 *   47      D_Q_UAF          use-after-free writes found at eviction (Atomics.add)
 *   48      D_Q_DOUBLE       double frees into the quarantine (Atomics.add)
 *   64..    D_BUCKETS        DEPOT_BUCKETS hash chain heads (byte offsets of records).
 *           Written under D_DEPOT_LOCK with Atomics.store after the record is complete;
 *           read under the lock (lookups). Records are immutable once published.
 */

export const D_DEPOT_LOCK = 0;
export const D_Q_LOCK = 16;
export const D_DEPOT_POOL = 32;
export const D_DEPOT_USED = 33;
export const D_DEPOT_END = 34;
export const D_DEPOT_RECORDS = 35;
export const D_DEPOT_BYTES = 36;
export const D_Q_RING = 40;
export const D_Q_CAP = 41;
export const D_Q_HEAD = 42;
export const D_Q_COUNT = 43;
export const D_Q_BYTES = 44;
export const D_Q_OBJECTS = 45;
export const D_Q_EVICTED = 46;
export const D_Q_UAF = 47;
export const D_Q_DOUBLE = 48;
export const D_BUCKETS = 64;
export const DEPOT_BUCKETS = 1024; // power of two

/** Bytes of shared memory the SLUB debug subsystem needs in the arena's fixed map. */
export function debugRegionBytes(_maxThreads: number): number {
  return (D_BUCKETS + DEPOT_BUCKETS) * 4;
}

// ---- include/linux/poison.h ----
/** Whole new slab under SLAB_POISON, object padding, alignment padding. */
export const POISON_INUSE = 0x5a;
/** Bytes 0..object_size-2 of a free object. */
export const POISON_FREE = 0x6b;
/** Last byte of a free object. */
export const POISON_END = 0xa5;
/** Red zones of a free object. */
export const SLUB_RED_INACTIVE = 0xbb;
/** Red zones of an allocated object and the kmalloc tail beyond orig_size. */
export const SLUB_RED_ACTIVE = 0xcc;

/** Page tags (P_CACHE of a PK_PAGES head page) of the pages debug code takes. */
export const DEPOT_PAGE_TAG = 0x53544b44; // 'STKD'
export const QUARANTINE_PAGE_TAG = 0x5154524e; // 'QTRN'

/**
 * P_FLAGS bit of a slab whose alloc consistency check failed (kernel: slab->frozen = 1
 * in alloc_debug_processing's "Marking all objects used"): check_slab refuses it from
 * then on. Bits 0-7 are kind and order, 8-9 list membership (src/slab/lists.ts).
 */
export const P_DISABLED = 1 << 12;

/** struct track as we store it (TRACK_BYTES = 16, src/slab/sizes.ts): four Int32 words. */
export const TR_HANDLE = 0; // stack depot handle (byte offset of the record), 0 = none
export const TR_CPU = 1; // thread slot + 1; 0 = the track is empty (kernel: t->addr == 0)
export const TR_PID = 2; // Node worker threadId of that thread (-1 outside Node)
export const TR_WHEN = 3; // Date.now() as u32 ms (kernel: jiffies); age = now - when mod 2^32

/**
 * Marker written in the free-pointer word of an object while it sits in the quarantine.
 * It is odd, so it can never be a free pointer (objects are 8-aligned), and it depends
 * on the object's address, so user data matches it only by a 2^-32 accident.
 */
export function quarantineMarker(obj: number): number {
  return (obj ^ 0x51a4c0de) | 1;
}
