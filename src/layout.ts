/**
 * The arena's memory map: every shared word of the SharedArrayBuffer has its place here.
 *
 *   page 0            header: magic, geometry, global locks, buddy free-list heads, counters
 *   thread table      maxThreads x 64 B           (one cache line per thread slot)
 *   rcu region        rcuRegionBytes(maxThreads)  (src/rcu/layout.ts)
 *   kfree region      kfreeRegionBytes(maxThreads)(src/kfree/layout.ts)
 *   debug region      debugRegionBytes()          (src/debug/layout.ts)
 *   name table        MAX_NAMES x 192 B           (cache names and aliases)
 *   cache table       maxCaches x 704 B           (struct kmem_cache, its node_barn)
 *   cpu records       maxThreads x maxCaches x 64 B (slub_percpu_sheaves, per thread)
 *   page metadata     maxPages x 32 B             (struct page / struct slab)
 *   buddy pages       from firstPage to nrPages   (4 KiB pages, orders 0..MAX_ORDER)
 *
 * The whole map is a pure function of (maxThreads, maxCaches, maxPages), stored in the
 * header, so Arena.attach() recomputes it in any thread. Metadata is sized for maxBytes,
 * so growing the SharedArrayBuffer never moves anything.
 *
 * The global lock order (outermost first; a thread holding one may take only those below
 * it, never one above). Every lock is an Atomics mutex (src/sync/mutex.ts) whose word holds
 * its owner's token, so a dead holder's lock is taken over and what it protects repaired
 * (src/arena/hotplug.ts repairLocked) before anyone else can take it.
 *
 *   lock                      word                         protects
 *   rht bucket lock           rht/layout.ts B_LOCK          one bucket's chain (writers)
 *   slab_mutex                H_SLAB_MUTEX                  cache and name tables (create, destroy, find)
 *   kfree_rcu drain lock      kfree/layout.ts G_DRAIN_LOCK  freeing closed batches; a barrier that takes
 *                                                           it knows no drain is half done
 *   kfree_rcu lock            kfree/layout.ts G_LOCK        closed-batch list, rcu_head chain
 *   barn lock (per cache)     C_BARN_LOCK                   the barn's sheaf arrays and counts
 *   list_lock (per cache)     C_LOCK                        slab lists, slab freelists and in-use counts,
 *                                                           slab page kinds, FREE<->other object states
 *   quarantine lock           debug/layout.ts D_Q_LOCK      the quarantine ring
 *   stack depot lock          debug/layout.ts D_DEPOT_LOCK  stack depot records
 *   zone lock                 H_BUDDY_LOCK                  buddy free lists, H_NR_FREE, H_NR_PAGES
 *   RCU GP mutex              rcu/layout.ts                 grace-period state; a leaf (nothing is
 *                                                           taken while it is held)
 * The drain lock is held across a drain's frees (under it: barn locks, list_locks, the
 * zone lock); G_LOCK is held only to link and unlink batches and takes nothing else; a
 * barn lock and a list_lock are never held together (slab/core.ts); a sheaf's storage is
 * taken through a kmalloc cache's list_lock path with no other cache lock held.
 *
 * Pointers are byte offsets into the arena; 0 is NULL (page 0 is the header, so no object
 * ever lives at 0). Arenas are limited to 1 GiB so every pointer is a small integer (SMI)
 * in V8, which keeps the fast paths on integer arithmetic.
 */
import { rcuRegionBytes } from './rcu/layout.js';
import { kfreeRegionBytes } from './kfree/layout.js';
import { debugRegionBytes } from './debug/layout.js';

/**
 * The words the allocator's hot code touches (fast paths, refill and flush, barn, sheaf,
 * slab lists, the kfree_rcu drain), as a const enum so that TypeScript inlines them as
 * literals. V8 loads an imported ES-module binding from its module cell, with a hole (TDZ)
 * check, on every use: measured at about 5 ns per alloc+free pair, and about a third of
 * alloc + kfreeRcu (55 -> 34 ns) when the slow paths still imported them. The exported
 * consts below are defined from it, so each value still has one definition.
 */
export const enum Hot {
  PAGE_SHIFT = 12,
  C_GEN = 1,
  C_ALLOC_OK = 2,
  R_ALLOC_FAST = 2,
  R_FREE_FAST = 4,
  R_KFREE_Q = 8,
  R_KFREE_D = 9,
  R_SHEAF = 10,
  R_SHEAF_TOP = 11,
  R_SHEAF_LIM = 12,
  P_FLAGS = 0,
  P_CACHE = 1,
  PK_SLAB = 3,
  PK_TAIL = 4,
  C_SHEAF_CAP = 51,
  C_KF_MASK = 57,
  C_KF_SPAN = 58,
  C_KF_PAD = 59,
  C_KF_INV = 60,
  C_KF_SIZE = 62,
  R_RCU_SHEAF = 13,
  R_SPARE = 1,
  C_ST_C = 47,
  C_ST_SHIFTS = 63,
  P_ST = 6,
  OS_FREE = 0,
  OS_ALLOC = 1,
  OS_RCU = 2,
  OS_CACHED = 3,
  OS_QUAR = 4,
  SH_HDR = 16,
  PK_MASK = 15,
  PAGE_META_WORDS = 8,
  P_INUSE = 2,
  P_FREELIST = 3,
  P_NEXT = 4,
  R_ALLOC_SLOW = 3,
  R_FREE_SLOW = 6,
  SH_COUNT = 0,
  C_BARN_EMPTY = 144,
  C_BARN_FULL = 132,
  C_BARN_LOCK = 128,
  C_NR_EMPTY = 130,
  C_NR_FULL = 129,
  C_ST_BASE = 156,
  MAX_EMPTY_SHEAVES = 10,
  MAX_FULL_SHEAVES = 10,
  ST_BARN_GET = 0,
  ST_BARN_GET_FAIL = 1,
  ST_BARN_PUT = 2,
  ST_BARN_PUT_FAIL = 3,
  SH_CACHE = 2,
  SH_CAP = 1,
  ST_SHEAF_ALLOC = 6,
  ST_SHEAF_FREE = 7,
  C_FULL_HEAD = 36,
  C_FULL_TAIL = 37,
  C_NR_PARTIAL = 34,
  C_PARTIAL_HEAD = 32,
  C_PARTIAL_TAIL = 33,
  P_PREV = 5,
  PK_LARGE = 5,
  C_STATE = 0,
  CS_DYING = 2,
  CS_FREE = 0,
  CS_LEAKED = 3,
  CACHE_BYTES = 704,
  C_ALLOC_SLAB = 38,
  C_FREE_SLAB = 39,
  C_LOCK = 16,
  C_NR_SLABS = 35,
  C_RCU_PENDING = 46,
  PK_PAGES = 6,
  PK_RCU_FREE = 7,
  R_FLUSH = 7,
  R_FREE_REMOTE = 5,
  R_RCU_READY = 14,
  ST_SHEAF_FLUSH = 5,
  ST_SHEAF_REFILL = 4,
  CPU_REC_BYTES = 64,
}

export const MAGIC = 0x534c5243; // 'SLRC'
export const VERSION = 1;
export const PAGE_SHIFT = Hot.PAGE_SHIFT;
/** Bytes per page (4096): slabs are made of 2^order pages. */
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const MAX_ORDER = 10; // buddy orders 0..10 (4 KiB .. 4 MiB), like the kernel's MAX_PAGE_ORDER
export const MAX_ARENA_BYTES = 1 << 30;
export const CACHE_LINE = 64;

// ---- header words (Int32 indices) ----
// Locks sit on their own 64-byte lines (16 words) so that contention on one does not
// slow the others.
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_MAX_THREADS = 2;
export const H_MAX_CACHES = 3;
export const H_MAX_PAGES = 4;
/** Current number of pages (committed bytes >> 12). Written under H_BUDDY_LOCK with Atomics.store, read with Atomics.load. */
export const H_NR_PAGES = 5;
export const H_FIRST_PAGE = 6;
export const H_RCU_FLAVOUR = 7; // 0 memb, 1 qsbr
export const H_QUARANTINE_BYTES = 8;
export const H_CACHE_SEQ = 9; // creation sequence (slabinfo order), under slab_mutex
export const H_ARENA_ID = 10; // random id, distinguishes arenas in messages
export const H_STALL_MS = 11;
export const H_DRAIN_MS = 12;
export const H_DEBUG_LEN = 13; // length of the slab_debug= string (stored at H_DEBUG_STR as u16)
export const H_SLAB_MUTEX = 16; // slab_mutex: cache table, name table
export const H_BUDDY_LOCK = 32; // zone->lock: buddy lists, H_NR_PAGES, H_NR_FREE
export const H_BUDDY_HEAD = 48; // 11 words: free list head pfn per order (0 = empty)
export const H_NR_FREE = 60; // free pages in the buddy allocator (under H_BUDDY_LOCK)
export const H_NR_USABLE = 61; // pages managed by the buddy allocator (free + used)
// word 62: unused
export const H_DEBUG_STR = 256; // u16 chars, up to 1024 chars (words 256..767)
export const H_DEBUG_MAX = 1024;

// ---- thread table: one 64-byte line per slot ----
export const THREAD_BYTES = 64;
export const T_STATE = 0; // TS_* below; CAS by attach, store by detach
export const T_GEN = 1; // bumped on each attach of this slot (Atomics.add)
export const T_REQ = 2; // requests posted to the owner: Atomics.add by requesters
export const T_ACK = 3; // last T_REQ value the owner served: Atomics.store by the owner (or its detacher)
export const T_REQ_FLAGS = 4; // REQ_* bits, Atomics.or by requesters, Atomics.exchange by the owner
// word 5: unused
export const T_TID = 6; // worker threadId (Node) of the owner, for messages
export const T_DEAD = 8; // 1 once the owner is known to have exited (set by its watcher, Atomics.store)
export const T_TOKEN = 7; // the owner's LOCK_TOKEN (sync/mutex.ts), to release locks a dead thread held
export const TS_FREE = 0;
export const TS_LIVE = 1;
export const TS_DETACHING = 2;
export const REQ_FLUSH = 1; // flush cpu slabs of caches whose cpu record has R_FLUSH set
export const REQ_RCU = 2; // rcu barrier / callbacks (rcu/)
export const REQ_KFREE = 4; // close and hand over kfree_rcu batches (kfree/)

// ---- name table ----
export const MAX_NAME = 64;
export const NAME_BYTES = 192;
export const N_STATE = 0; // 0 free, 1 used
export const N_CACHE = 1;
export const N_CGEN = 2;
export const N_LEN = 3;
export const N_GEN = 4; // bumped each time the entry is (re)used (under slab_mutex); Cache.nameGen compares it
export const N_CHARS = 16; // u16 chars start at word 16 (64 chars = 32 words)

// ---- cache descriptor (struct kmem_cache) ----
export const CACHE_BYTES = Hot.CACHE_BYTES;
export const C_STATE = Hot.C_STATE; // CS_* below; written under slab_mutex
/** Generation of the descriptor slot: bumped at create and at release. Handles compare it. */
export const C_GEN = Hot.C_GEN;
/** == C_GEN while the cache accepts allocations, -1 once destroy began. The alloc fast path reads only this. */
export const C_ALLOC_OK = Hot.C_ALLOC_OK;
export const C_REFCOUNT = 3;
export const C_FLAGS = 4;
export const C_OBJECT_SIZE = 5;
export const C_SIZE = 6; // stride
export const C_ALIGN = 7;
export const C_OFFSET = 8; // free pointer offset within the stride
export const C_INUSE = 9; // end of object + red zone (s->inuse)
export const C_ORDER = 10;
export const C_OBJECTS = 11; // objects per slab
export const C_MIN_PARTIAL = 12;
export const C_RED_LEFT_PAD = 13;
export const C_SEQ = 14;
export const C_HAS_CTOR = 15;
export const C_LOCK = Hot.C_LOCK; // list_lock, own line (words 16..31)
export const C_PARTIAL_HEAD = Hot.C_PARTIAL_HEAD; // pfn, 0 = empty
export const C_PARTIAL_TAIL = Hot.C_PARTIAL_TAIL;
export const C_NR_PARTIAL = Hot.C_NR_PARTIAL;
export const C_NR_SLABS = Hot.C_NR_SLABS;
export const C_FULL_HEAD = Hot.C_FULL_HEAD; // debug caches keep full slabs on a list (kernel: n->full with STORE_USER)
export const C_FULL_TAIL = Hot.C_FULL_TAIL;
export const C_ALLOC_SLAB = Hot.C_ALLOC_SLAB;
export const C_FREE_SLAB = Hot.C_FREE_SLAB;
export const C_FOLD_ALLOCS = 40; // counters folded in from detached threads (Atomics.add)
export const C_FOLD_FREES = 41;
export const C_KMALLOC = 42;
export const C_TRACK_OFF = 43; // offset of the alloc/free tracks (debug)
export const C_ORIG_SIZE_OFF = 44; // offset of orig_size (kmalloc + debug)
// word 45: unused
export const C_RCU_PENDING = Hot.C_RCU_PENDING; // TYPESAFE_BY_RCU slabs waiting for a GP before going back to the buddy allocator
export const C_NAME_LEN = 48;
export const C_FOLD_KQ = 49; // R_KFREE_Q / R_KFREE_D folded in from detached threads (Atomics.add)
export const C_FOLD_KD = 50;
/**
 * Capacity of this cache's kfree_rcu sheaves (kernel: rcu_free), 0 = kfreeRcu batches its
 * objects in blocks. Non-zero (KVFREE_BULK_MAX_ENTR: a block page of pointers, 4 bytes
 * per pending object) only for caches created with an explicit sheafCapacity; written at
 * create. (Its percpu sheaves: C_PCS_CAP.)
 */
export const C_SHEAF_CAP = Hot.C_SHEAF_CAP;
/** sheaf_capacity (kernel: s->sheaf_capacity) of the percpu sheaves: 0 = none (debug, quarantine). */
export const C_PCS_CAP = 113;
/**
 * Event counters of detached threads, per cpu-record counter R_ALLOC_FAST..R_FREE_SLOW
 * (words C_FOLD_EVENTS + 0..4; Atomics.add by whoever detaches the thread), so that
 * stats() keeps counting them (kernel: the per-CPU stats of an offlined CPU).
 */
export const C_FOLD_EVENTS = 52;
/**
 * What kfreeRcu's fast path needs to validate a pointer of this cache, on one cache line
 * with C_SHEAF_CAP (written once at create, before the cache is published; read-only
 * after): C_KF_MASK = stride - 1 for a power-of-two stride, else -1; C_KF_SPAN = objects
 * * stride; C_KF_PAD = red_left_pad; C_KF_SIZE = stride; C_KF_INV (a float64 at an even
 * word) = the verified reciprocal of the stride (strideReciprocal). Reading the live
 * descriptor of the page's cache index needs no generation check: while a page is a slab
 * with P_CACHE = idx, idx holds that slab's cache.
 */
export const C_KF_MASK = Hot.C_KF_MASK;
export const C_KF_SPAN = Hot.C_KF_SPAN;
export const C_KF_PAD = Hot.C_KF_PAD;
export const C_KF_INV = Hot.C_KF_INV; // float64: words 60-61 (f64 index (descW + 60) >> 1)
export const C_KF_SIZE = Hot.C_KF_SIZE;
/**
 * Where the object-state bytes (OS_* below) of a slab of this cache live (src/slab/
 * objstate.ts): the state of object k of the slab whose head page is hp is the byte at
 *   (hp << (C_ST_SHIFTS & 255)) + C_ST_C + ((k >> 3) << (C_ST_SHIFTS >> 8)) + (k & 7).
 * Written once at create, before the cache is published; read-only after.
 */
export const C_ST_SHIFTS = Hot.C_ST_SHIFTS;
export const C_ST_C = Hot.C_ST_C;
export const C_NAME = 64; // u16 chars, 64 chars = words 64..95
export const C_CTOR_NAME = 96; // u16, up to 32 chars: words 96..111
export const C_CTOR_NAME_LEN = 112;
// ---- the barn (kernel: node_barn) and sheaf counters, words 128.. (src/slab/barn.ts) ----
/** barn->lock: C_NR_FULL, C_NR_EMPTY and the two sheaf arrays. Own cache line. */
export const C_BARN_LOCK = Hot.C_BARN_LOCK;
export const C_NR_FULL = Hot.C_NR_FULL;
export const C_NR_EMPTY = Hot.C_NR_EMPTY;
/** 1 when sheafCapacity was given explicitly (kernel: it sets SLAB_NO_MERGE). */
export const C_SHEAF_EXPLICIT = 131;
/** MAX_FULL_SHEAVES sheaf addresses (header byte offsets); the first C_NR_FULL are valid. */
export const C_BARN_FULL = Hot.C_BARN_FULL;
/** MAX_EMPTY_SHEAVES sheaf addresses; the first C_NR_EMPTY are valid. */
export const C_BARN_EMPTY = Hot.C_BARN_EMPTY;
export const MAX_FULL_SHEAVES = Hot.MAX_FULL_SHEAVES;
export const MAX_EMPTY_SHEAVES = Hot.MAX_EMPTY_SHEAVES;
/**
 * Sheaf and barn event counters (kernel stat_item names), Atomics.add by whoever does the
 * event (they happen once per sheaf, not per object): C_ST_BASE + ST_*.
 */
export const C_ST_BASE = Hot.C_ST_BASE;
export const ST_BARN_GET = Hot.ST_BARN_GET;
export const ST_BARN_GET_FAIL = Hot.ST_BARN_GET_FAIL;
export const ST_BARN_PUT = Hot.ST_BARN_PUT;
export const ST_BARN_PUT_FAIL = Hot.ST_BARN_PUT_FAIL;
export const ST_SHEAF_REFILL = Hot.ST_SHEAF_REFILL; // objects
export const ST_SHEAF_FLUSH = Hot.ST_SHEAF_FLUSH; // objects
export const ST_SHEAF_ALLOC = Hot.ST_SHEAF_ALLOC;
export const ST_SHEAF_FREE = Hot.ST_SHEAF_FREE;
export const ST_COUNT = 8;

// ---- object states: one byte per object in its slab (C_STATE_OFF) ----
/** On its slab's freelist (or a new slab's, not yet handed out). Changed under C_LOCK only. */
export const OS_FREE = Hot.OS_FREE;
/** Handed out by alloc, owned by the user. */
export const OS_ALLOC = Hot.OS_ALLOC;
/** Given to kfreeRcu, waiting for its grace period. */
export const OS_RCU = Hot.OS_RCU;
/** Free but cached: in a percpu sheaf, a barn sheaf or a ready kfree_rcu sheaf. */
export const OS_CACHED = Hot.OS_CACHED;
/** Held by the debug quarantine. */
export const OS_QUAR = Hot.OS_QUAR;

// ---- sheaves (kernel: struct slab_sheaf): a kmalloc'd header + capacity u32 slots ----
/** Header bytes before the object slots: SH_COUNT, SH_CAP, SH_CACHE, one spare word. */
export const SH_HDR = Hot.SH_HDR;
export const SH_COUNT = Hot.SH_COUNT; // objects in the sheaf (maintained while it is not a main sheaf)
export const SH_CAP = Hot.SH_CAP;
export const SH_CACHE = Hot.SH_CACHE; // cache index + 1

export const CS_FREE = Hot.CS_FREE;
export const CS_LIVE = 1;
export const CS_DYING = Hot.CS_DYING; // destroy() returned, async work pending
export const CS_LEAKED = Hot.CS_LEAKED; // shutdown found objects: memory kept forever

// ---- cpu record (struct kmem_cache_cpu + slub_percpu_sheaves): thread-owned, 16 words ----
export const CPU_REC_BYTES = Hot.CPU_REC_BYTES; // one cache line per (thread, cache)
/**
 * Byte address of this thread's spare sheaf (kernel: slub_percpu_sheaves.spare), a
 * sheaf header (SH_*), 0 if none; its SH_COUNT is exact. Owner-only (plain).
 */
export const R_SPARE = Hot.R_SPARE;
export const R_ALLOC_FAST = Hot.R_ALLOC_FAST; // owner-only counters (plain increments; other threads read them racily for stats)
export const R_ALLOC_SLOW = Hot.R_ALLOC_SLOW;
export const R_FREE_FAST = Hot.R_FREE_FAST;
export const R_FREE_REMOTE = Hot.R_FREE_REMOTE;
export const R_FREE_SLOW = Hot.R_FREE_SLOW;
export const R_FLUSH = Hot.R_FLUSH; // set to 1 by a flusher (Atomics.store), cleared by the owner when it flushed
export const R_KFREE_Q = Hot.R_KFREE_Q; // objects of this cache this thread queued with kfreeRcu (owner-only, plain)
export const R_KFREE_D = Hot.R_KFREE_D; // objects of this cache this thread freed from kfree_rcu batches (owner-only, plain)
/**
 * Main percpu sheaf (kernel: slub_percpu_sheaves.main) of a cache with sheaves: the byte
 * address of its first object slot (the sheaf header is SH_HDR bytes before it), 0 if
 * none. Owner-only (plain loads/stores); a dead thread's record is flushed by its
 * detacher, the only accessor then.
 */
export const R_SHEAF = Hot.R_SHEAF;
/**
 * Word index of the sheaf's next free slot: (R_SHEAF >> 2) + objects in the sheaf; 0 if
 * no sheaf. Kept as an index rather than a count so that the fast paths need no add and
 * no capacity: alloc pops while TOP > R_SHEAF >> 2, free pushes while TOP < R_SHEAF_LIM
 * (both false with no sheaf). Objects in the sheaf are free for the counters, in use for
 * their slab (P_INUSE). Owner-only.
 */
export const R_SHEAF_TOP = Hot.R_SHEAF_TOP;
/** Word index one past the sheaf's last slot: (R_SHEAF >> 2) + sheaf_capacity; 0 if no sheaf. Owner-only. */
export const R_SHEAF_LIM = Hot.R_SHEAF_LIM;
// kfree edit (src/kfree/sheaves.ts, kfree_rcu sheaves; kernel: slub_percpu_sheaves.rcu_free):
/**
 * pfn of this thread's open kfree_rcu sheaf for this cache (a kfree_rcu block page whose
 * header names the cache), 0 if none. Owner-only (plain); a dead thread's is adopted.
 */
export const R_RCU_SHEAF = Hot.R_RCU_SHEAF;
/**
 * pfn of the first of this thread's *ready* kfree_rcu sheaves of this cache (their grace
 * period has completed; chained through B_NEXT): free objects the owner allocates from
 * (allocSlow refills the main sheaf from them). Owner-only; flushRecord gives them back.
 */
export const R_RCU_READY = Hot.R_RCU_READY;
/** Last word of the record: unused. */
export const R_UNUSED = 15;

// ---- page metadata (struct page / struct slab): 8 words per page ----
/** Int32 words of metadata per page: page pfn's metadata starts at word metaW + pfn * PAGE_META_WORDS. */
export const PAGE_META_WORDS = Hot.PAGE_META_WORDS;
export const PAGE_META_BYTES = PAGE_META_WORDS * 4;
export const P_FLAGS = Hot.P_FLAGS; // kind (P_FLAGS & PK_MASK) | order << 4
export const P_CACHE = Hot.P_CACHE; // slab: cache index; tail page: head pfn
export const P_INUSE = Hot.P_INUSE; // objects not on the slab freelist (under the cache lock)
export const P_FREELIST = Hot.P_FREELIST; // slab freelist (under the cache lock)
export const P_NEXT = Hot.P_NEXT; // list links (pfn): partial/full list or buddy free list
export const P_PREV = Hot.P_PREV;
/**
 * Words 6-7 (bytes 24..31): object-state bytes of the objects k = 8j..8j+7 of the slab
 * whose j-th page this is, for caches with strides >= 512 (src/slab/objstate.ts).
 */
export const P_ST = Hot.P_ST;
export const PK_NONE = 0; // inside a larger block, or beyond the committed end
export const PK_RESERVED = 1; // metadata pages
export const PK_BUDDY = 2; // head of a free buddy block
export const PK_SLAB = Hot.PK_SLAB;
export const PK_TAIL = Hot.PK_TAIL; // tail page of a compound slab / large allocation
export const PK_LARGE = Hot.PK_LARGE; // large kmalloc (> 8 KiB)
export const PK_PAGES = Hot.PK_PAGES; // pages taken by a subsystem (kfree_rcu blocks, stack depot)
export const PK_RCU_FREE = Hot.PK_RCU_FREE; // TYPESAFE_BY_RCU slab waiting for a grace period
/** The page kind in P_FLAGS (PK_*); the order is above it (P_FLAGS >> PK_ORDER_SHIFT). */
export const PK_MASK = Hot.PK_MASK;
/** Where a head page's order sits in P_FLAGS, and its mask once shifted down (orders 0..MAX_ORDER fit). */
export const PK_ORDER_SHIFT = 4;
export const PK_ORDER_MASK = 15;

/** The P_FLAGS word of a head page: kind `kind` (PK_*), block of 2^order pages. */
export function pageFlags(kind: number, order: number): number {
  return kind | (order << PK_ORDER_SHIFT);
}

/** The order stored in a head page's P_FLAGS word. */
export function flagsOrder(f: number): number {
  return (f >> PK_ORDER_SHIFT) & PK_ORDER_MASK;
}

/**
 * Word index of the first word of page `pfn` (pfn << (PAGE_SHIFT - 2)). The fast paths
 * (Cache.alloc, Cache.free, kfree's makeFastPath) write it inline.
 */
export function pageWord(pfn: number): number {
  return pfn << (Hot.PAGE_SHIFT - 2);
}

/** The pfn of the page holding word index `w` (the inverse of pageWord). */
export function pfnOfWord(w: number): number {
  return w >> (Hot.PAGE_SHIFT - 2);
}

/** Word index of page `pfn`'s metadata, for the page metadata at word `metaW`. */
export function pageMeta(metaW: number, pfn: number): number {
  return metaW + pfn * Hot.PAGE_META_WORDS;
}

/**
 * The head page of page `pfn`: its P_CACHE if it is a tail page (PK_TAIL) of a compound
 * slab or large block, else `pfn` itself. Plain reads: the caller knows the page cannot
 * change kind under it (it holds an object on it, or a lock). The fast paths (Cache.alloc,
 * Cache.free, kfree's makeFastPath) write it inline.
 */
export function headOfPage(i32: Int32Array, metaW: number, pfn: number): number {
  const m = metaW + pfn * Hot.PAGE_META_WORDS;
  return (i32[m + Hot.P_FLAGS]! & Hot.PK_MASK) === Hot.PK_TAIL ? i32[m + Hot.P_CACHE]! : pfn;
}

/** The head pfn of the page holding byte address `ptr` (headOfPage of its page). */
export function headPfnOf(i32: Int32Array, metaW: number, ptr: number): number {
  return headOfPage(i32, metaW, ptr >>> Hot.PAGE_SHIFT);
}

export interface ArenaGeometry {
  maxThreads: number;
  maxCaches: number;
  maxPages: number;
}

export interface ArenaLayout extends ArenaGeometry {
  threadBase: number; // byte offsets, all 64-aligned
  rcuBase: number;
  kfreeBase: number;
  debugBase: number;
  nameBase: number;
  maxNames: number;
  cacheBase: number;
  cpuBase: number;
  metaBase: number;
  firstPage: number; // first buddy-managed pfn
}

const align64 = (n: number): number => (n + 63) & ~63;

export function computeLayout(g: ArenaGeometry): ArenaLayout {
  let off = PAGE_SIZE;
  const threadBase = off;
  off = align64(off + g.maxThreads * THREAD_BYTES);
  const rcuBase = off;
  off = align64(off + rcuRegionBytes(g.maxThreads));
  const kfreeBase = off;
  off = align64(off + kfreeRegionBytes(g.maxThreads));
  const debugBase = off;
  off = align64(off + debugRegionBytes(g.maxThreads));
  const nameBase = off;
  const maxNames = g.maxCaches * 2;
  off = align64(off + maxNames * NAME_BYTES);
  const cacheBase = off;
  off = align64(off + g.maxCaches * CACHE_BYTES);
  const cpuBase = off;
  off = align64(off + g.maxThreads * g.maxCaches * CPU_REC_BYTES);
  const metaBase = off;
  off += g.maxPages * PAGE_META_BYTES;
  const firstPage = Math.ceil(off / PAGE_SIZE);
  return { ...g, threadBase, rcuBase, kfreeBase, debugBase, nameBase, maxNames, cacheBase, cpuBase, metaBase, firstPage };
}
