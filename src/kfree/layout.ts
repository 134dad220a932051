/**
 * Shared memory of kfree_rcu batching (kernel: struct kfree_rcu_cpu per CPU, and the
 * kvfree_rcu_bulk_data pages).
 *
 * Region header (words from the region base):
 *   G_LOCK        protects the closed-block list and the rcu_head chain (Atomics mutex)
 *   G_CLOSED_HEAD / G_CLOSED_TAIL / G_NR_CLOSED   closed blocks, oldest first (pfn chain via B_NEXT)
 *   G_CHAIN_HEAD / G_CHAIN_COOKIE / G_CHAIN_COUNT the open rcu_head fallback list: objects
 *                 chained through their own memory when no block page could be had; its cookie
 *                 is refreshed by every insert
 *   G_CHCL_HEAD / G_CHCL_COOKIE / G_CHCL_COUNT    the closed rcu_head list: a barrier moves the
 *                 open list here (if this one is empty) with a cookie taken then, so inserts
 *                 during the barrier's grace period cannot starve what it waits for
 *   G_DRAIN_LOCK  held by whoever frees closed blocks, so a barrier that takes it knows no
 *                 drain is half done (lock order: G_DRAIN_LOCK -> G_LOCK, and
 *                 G_DRAIN_LOCK -> cache C_LOCK -> buddy lock)
 * Per thread slot (one 64-byte line each), written only by the owner (plain stores) or,
 * for a dead thread, by its detacher:
 *   S_CUR         pfn of the open block (0 = none)
 *   S_ACK         bumped (Atomics.add) each time the owner served a close request
 *   S_NSPARE, S_SPARE..S_SPARE+4   cached free block pages (kernel: rcu_min_cached_objs = 5)
 *   S_OPENED      now31() (state.ts: Date.now() in 31 bits) when the open block got its first object
 *   S_DRAINING    pfn of the block this thread is freeing now (and those linked after it); its
 *                 B_COUNT shrinks as each record is freed
 *   S_DRAIN_CHAIN the rest of the rcu_head chain this thread is freeing now
 *   S_DRAIN_OBJ / S_DRAIN_N  the object(s) in hand this instant (in doubt if the thread dies)
 * A thread that dies while draining holds G_DRAIN_LOCK: whoever detaches it takes the lock
 * over and frees what S_DRAINING / S_DRAIN_CHAIN still name (past their grace period) before
 * it releases the lock (drain.ts finishDrainOf), so a barrier waiting for the lock finds
 * that drain done.
 * Block page (one 4 KiB page, kind PK_PAGES), header then 4-byte pointers:
 *   B_NEXT, B_COOKIE (GP snapshot, refreshed on every insert), B_COUNT, B_OWNER,
 *   B_SHEAF / B_GEN / B_ORIGIN (kfree_rcu sheaves only), records from B_REC.
 */
export const G_LOCK = KHot.G_LOCK;
export const G_CLOSED_HEAD = KHot.G_CLOSED_HEAD;
export const G_CLOSED_TAIL = KHot.G_CLOSED_TAIL;
export const G_NR_CLOSED = KHot.G_NR_CLOSED;
export const G_CHAIN_HEAD = KHot.G_CHAIN_HEAD;
export const G_CHAIN_COOKIE = KHot.G_CHAIN_COOKIE;
export const G_CHAIN_COUNT = KHot.G_CHAIN_COUNT;
/**
 * The closed rcu_head chain (kernel: krwp->head_free and head_free_gp_snap): a barrier moves
 * the open chain here, under G_LOCK, with a GP cookie of its own taken then; later inserts
 * start a new open chain and cannot refresh this cookie. Taken only while empty.
 */
export const G_CHCL_HEAD = KHot.G_CHCL_HEAD;
export const G_CHCL_COOKIE = KHot.G_CHCL_COOKIE;
export const G_CHCL_COUNT = KHot.G_CHCL_COUNT;
export const G_DRAIN_LOCK = KHot.G_DRAIN_LOCK;
export const G_WORDS = 32;

export const SLOT_WORDS = 16;
export const S_CUR = KHot.S_CUR;
export const S_ACK = 1;
export const S_NSPARE = KHot.S_NSPARE;
export const S_SPARE = KHot.S_SPARE; // 5 words
export const S_OPENED = KHot.S_OPENED;
/** Block being freed by this thread (a drainer that dies mid-block leaves it here for its adopter). */
export const S_DRAINING = KHot.S_DRAINING;
/** The object the drainer is freeing right now (0 between objects). */
export const S_DRAIN_OBJ = KHot.S_DRAIN_OBJ;
/** Number of open kfree_rcu sheaves of this thread (records with R_RCU_SHEAF != 0); owner-written. */
export const S_RCU_OPEN = KHot.S_RCU_OPEN;
/**
 * How many objects the drainer is freeing right now from S_DRAIN_OBJ on: 1 for a single
 * free, n for a run of one slab handed to SlabCore.freeGroup (the run is committed, then
 * linked into the slab, under the cache lock: a drainer killed in between leaves the run
 * allocated, or the slab's in-use count stale; the adopter says so). Owner-written.
 */
export const S_DRAIN_N = KHot.S_DRAIN_N;
/**
 * The rcu_head chain this drainer took (first link not yet freed), advanced before each
 * free (as B_COUNT for a block): a drainer that dies leaves the rest to whoever finishes
 * its drain. Owner-written (Atomics.store), then by the dead thread's detacher.
 */
export const S_DRAIN_CHAIN = KHot.S_DRAIN_CHAIN;
export const MAX_SPARE = KHot.MAX_SPARE;
/** Bytes of the rcu_head word the fallback chain links through (a 4-byte pointer). */
export const RCU_HEAD_BYTES = KHot.RCU_HEAD_BYTES;

/** The kfree_rcu words its hot code uses (insert, drain, blocks, sheaves), inlined as literals (see layout.ts Hot). */
export const enum KHot {
  B_COUNT = 2,
  B_REC = 16,
  KVFREE_BULK_MAX_ENTR = 1008,
  B_COOKIE = 1,
  B_NEXT = 0,
  B_ORIGIN = 6,
  B_SHEAF = 4,
  G_CHAIN_COOKIE = 5,
  G_CHAIN_COUNT = 6,
  G_CHAIN_HEAD = 4,
  G_CHCL_COOKIE = 8,
  G_CHCL_COUNT = 9,
  G_CHCL_HEAD = 7,
  G_CLOSED_HEAD = 1,
  G_CLOSED_TAIL = 2,
  G_DRAIN_LOCK = 16,
  G_LOCK = 0,
  G_NR_CLOSED = 3,
  S_DRAIN_CHAIN = 13,
  S_DRAIN_N = 12,
  S_DRAIN_OBJ = 10,
  S_DRAINING = 9,
  RCU_HEAD_BYTES = 4,
  S_CUR = 0,
  S_OPENED = 8,
  B_GEN = 5,
  B_OWNER = 3,
  B_READY = -2,
  S_RCU_OPEN = 11,
  B_CLOSED = -1,
  MAX_SPARE = 5,
  S_NSPARE = 2,
  S_SPARE = 3,
}

export const B_NEXT = KHot.B_NEXT;
export const B_COOKIE = KHot.B_COOKIE;
export const B_COUNT = KHot.B_COUNT;
export const B_OWNER = KHot.B_OWNER;
/**
 * kfree_rcu sheaf blocks (kernel: rcu_free sheaf of a cache with percpu sheaves): cache
 * idx + 1 (0 for an ordinary block, whose records may belong to any cache), the cache's
 * generation, and the slot of the thread that filled it (the one that may reuse its
 * objects directly once its grace period has completed).
 */
export const B_SHEAF = KHot.B_SHEAF;
export const B_GEN = KHot.B_GEN;
export const B_ORIGIN = KHot.B_ORIGIN;
/** B_OWNER of a block on the closed list (set under G_LOCK by pushClosed). */
export const B_CLOSED = KHot.B_CLOSED;
/** B_OWNER of a ready kfree_rcu sheaf (on its filler's R_RCU_READY list). */
export const B_READY = KHot.B_READY;
export const B_REC = KHot.B_REC;
/** Pointers per block page: (4096 - 64) / 4 (kernel: KVFREE_BULK_MAX_ENTR, 507 with 8-byte pointers). */
export const KVFREE_BULK_MAX_ENTR = KHot.KVFREE_BULK_MAX_ENTR; // (4096 - B_REC * 4) / 4

/** Bytes of shared memory the kfree_rcu subsystem needs. */
export function kfreeRegionBytes(maxThreads: number): number {
  return G_WORDS * 4 + maxThreads * SLOT_WORDS * 4;
}

/** Zero the region (Arena.create, before any thread attaches). */
export function initKfreeRegion(i32: Int32Array, baseWord: number, maxThreads: number): void {
  for (let k = 0; k < G_WORDS + maxThreads * SLOT_WORDS; k++) i32[baseWord + k] = 0;
}
