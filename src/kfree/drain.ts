/**
 * The drain (kernel: kfree_rcu_monitor + kfree_rcu_work): free every closed block, and the
 * rcu_head chains, whose grace period has completed. Whichever thread gets there first
 * does it: the owner's timer, another thread's drain, a barrier caller, the memory-pressure
 * reclaim, the RCU worker (pump.ts).
 *
 * Shared words:
 * - G_DRAIN_LOCK: held by whoever frees closed blocks, from before it takes anything to
 *   after its last free, so a barrier that takes it (or sees it unheld: barrier.ts
 *   mayHavePending) knows no drain is half done. Global order (src/layout.ts): G_DRAIN_LOCK
 *   -> G_LOCK, and G_DRAIN_LOCK -> barn lock / cache C_LOCK -> zone lock (the frees).
 * - The closed list and chains (G_CLOSED_*, G_NR_CLOSED, G_CHAIN_*, G_CHCL_*): unlinked
 *   under G_LOCK (drainLocked), the ready prefix only (oldest first; a block's cookie is
 *   checked with rcu.pollState, which reads the completed-GP word with Atomics.load).
 * - S_DRAINING / S_DRAIN_CHAIN: what this drainer has in hand, published with Atomics.store
 *   inside the same G_LOCK section that unlinks it, and advanced (Atomics.store) before
 *   each block or link is freed. Read by the dead drainer's detacher (finishDrainOf).
 * - S_DRAIN_OBJ / S_DRAIN_N: the object(s) in hand this instant, plain stores (owner-only;
 *   read after the owner's death only).
 * - B_COUNT of a block being freed: shrunk before each record's free (or, for a run of
 *   one slab, inside the cache lock by SlabCore.freeGroup's commit).
 * - R_KFREE_D (and R_FREE_SLOW) of the drainer's own cpu record: plain increments, counted
 *   just before the free (barrier.ts mayHavePending explains why that is enough).
 *
 * Thread death: a drainer killed anywhere holds G_DRAIN_LOCK; its detacher takes the lock
 * over and finishes the drain before it releases it (src/arena/hotplug.ts repairLocked ->
 * finishDrainOf): what S_DRAINING / S_DRAIN_CHAIN name is past its grace period and freed;
 * the object in hand (S_DRAIN_OBJ / S_DRAIN_N) may or may not have been freed and is
 * reported, never freed again (B_COUNT and S_DRAIN_CHAIN were advanced past it before its
 * free).
 */
import { Hot, headOfPage, headPfnOf, pageMeta, pageWord } from '../layout.js';
import { lock, tryLock, unlock } from '../sync/mutex.js';
import { KHot } from './layout.js';
import type { KfreeState } from './state.js';
import { StepKind, runSync, type Body } from './wait.js';

/** Shortest run of one cache's records that goes to the barn as a sheaf of its own. */
const MIN_BARN_RUN = 8;

export class KfreeDrain {
  /** The LOCK step of a drain (the same object every time). */
  private readonly lockStep: { kind: StepKind; arg: number };

  constructor(private readonly s: KfreeState) {
    this.lockStep = { kind: StepKind.LOCK, arg: s.g + KHot.G_DRAIN_LOCK };
  }

  /**
   * Free every closed block (and the chained lists) whose grace period has completed.
   * With `wait`, the drain lock is waited for (a barrier, memory pressure); otherwise a
   * drain already in progress elsewhere is left to finish it. Returns the objects freed.
   */
  drainReady(wait: boolean): number {
    const s = this.s;
    if (wait) return runSync(s.host, this.drainBody());
    const i32 = s.i32;
    if (!tryLock(i32, s.g + KHot.G_DRAIN_LOCK)) return 0;
    try {
      return this.drainLocked();
    } finally {
      unlock(i32, s.g + KHot.G_DRAIN_LOCK);
    }
  }

  /** The waiting drain, one body for both drivers (wait.ts): take the drain lock, drain, release. */
  *drainBody(): Body<number> {
    yield this.lockStep;
    try {
      return this.drainLocked();
    } finally {
      unlock(this.s.i32, this.s.g + KHot.G_DRAIN_LOCK);
    }
  }

  /** Under G_DRAIN_LOCK. */
  private drainLocked(): number {
    const s = this.s;
    const i32 = s.i32;
    const g = s.g;
    const rcu = s.host.rcu;
    // Detach the ready prefix of the closed list (oldest first; stop at the first block
    // whose GP is still running: later ones were closed later), and the rcu_head lists
    // whose GP is over. Both are published (S_DRAINING, S_DRAIN_CHAIN) inside the same
    // G_LOCK section, so a drainer that dies mid-way leaves them findable: whoever detaches
    // it takes over its drain lock and finishes this drain (finishDrainOf) first.
    s.mark('drain:locked');
    lock(i32, g + KHot.G_LOCK);
    const first = i32[g + KHot.G_CLOSED_HEAD]!;
    let last = 0;
    let cnt = 0;
    for (let p = first; p !== 0 && rcu.pollState(i32[pageWord(p) + KHot.B_COOKIE]!); p = i32[pageWord(p) + KHot.B_NEXT]!) {
      last = p;
      cnt++;
    }
    if (last !== 0) {
      Atomics.store(i32, s.me + KHot.S_DRAINING, first);
      s.mark('drain:unlinking'); // (tests: a death here is repaired by blocks.ts repairLists)
      const rest = i32[pageWord(last) + KHot.B_NEXT]!;
      i32[g + KHot.G_CLOSED_HEAD] = rest;
      if (rest === 0) i32[g + KHot.G_CLOSED_TAIL] = 0;
      i32[pageWord(last) + KHot.B_NEXT] = 0;
      i32[g + KHot.G_NR_CLOSED] -= cnt;
    }
    let chain = 0;
    if (i32[g + KHot.G_CHCL_HEAD] !== 0 && rcu.pollState(i32[g + KHot.G_CHCL_COOKIE]!)) {
      chain = i32[g + KHot.G_CHCL_HEAD]!;
      i32[g + KHot.G_CHCL_HEAD] = 0;
      i32[g + KHot.G_CHCL_COUNT] = 0;
    }
    if (i32[g + KHot.G_CHAIN_HEAD] !== 0 && rcu.pollState(i32[g + KHot.G_CHAIN_COOKIE]!)) {
      // The open list goes in front of the closed one taken (its tail links to it).
      const open = i32[g + KHot.G_CHAIN_HEAD]!;
      let t = open;
      while (i32[t >> 2] !== 0) t = i32[t >> 2]!;
      i32[t >> 2] = chain;
      chain = open;
      i32[g + KHot.G_CHAIN_HEAD] = 0;
      i32[g + KHot.G_CHAIN_COUNT] = 0;
    }
    if (chain !== 0) Atomics.store(i32, s.me + KHot.S_DRAIN_CHAIN, chain);
    unlock(i32, g + KHot.G_LOCK);
    return this.freeInHand(s.me);
  }

  /**
   * Free the blocks and the rcu_head chain that slot line `w` has in hand (S_DRAINING,
   * S_DRAIN_CHAIN: all past their grace period), advancing those words as each is freed.
   * `w` is this thread's line (drainLocked) or a dead drainer's (finishDrainOf, by the
   * thread that took over its drain lock). Under that drain lock.
   */
  private freeInHand(w: number): number {
    const s = this.s;
    const i32 = s.i32;
    let freed = 0;
    for (let p = Atomics.load(i32, w + KHot.S_DRAINING); p !== 0; ) {
      const b = pageWord(p);
      const next = i32[b + KHot.B_NEXT]!;
      if (w === s.me && i32[b + KHot.B_SHEAF] !== 0 && i32[b + KHot.B_ORIGIN] === s.slot && !s.off) {
        // Our own kfree_rcu sheaf: out of S_DRAINING first (a thread stopped in between
        // leaks this sheaf's objects rather than freeing them twice), then onto our
        // ready list, objects untouched.
        const n = i32[b + KHot.B_COUNT]!;
        if (s.sheaves.takeReady(b, next)) {
          freed += n;
          p = next;
          continue;
        }
      }
      s.mark('drain:block');
      freed += this.freeBlock(b);
      Atomics.store(i32, w + KHot.S_DRAINING, next);
      s.blocks.recyclePage(p);
      p = next;
    }
    for (let link = Atomics.load(i32, w + KHot.S_DRAIN_CHAIN); link !== 0; ) {
      // Read the next link before the free (the object's memory is reused by it); name
      // the object in hand, then advance the published chain past it, then free it.
      const next = i32[link >> 2]!;
      const obj = this.objectOfLink(link);
      i32[s.me + KHot.S_DRAIN_OBJ] = obj;
      i32[s.me + KHot.S_DRAIN_N] = 1;
      Atomics.store(i32, w + KHot.S_DRAIN_CHAIN, next);
      this.freeOne(obj, true);
      i32[s.me + KHot.S_DRAIN_OBJ] = 0;
      freed++;
      link = next;
    }
    return freed;
  }

  /**
   * A dead thread's drain: free what it had in hand (S_DRAINING, S_DRAIN_CHAIN), which is
   * past its grace period. Called by the thread that took over the dead thread's
   * G_DRAIN_LOCK (src/arena/hotplug.ts repairLocked, from detachDead's releaseLocksOf),
   * before it releases that lock, so a barrier waiting for the lock finds the drain done
   * (re-queueing it with a fresh cookie, as before, let such a barrier return with it
   * queued); and by adoptSlot, for what a lock broken by its lease left. The object the
   * dead thread was freeing at that instant (S_DRAIN_OBJ / S_DRAIN_N) may or may not have
   * been freed (a free is several steps): it is reported, never freed again (B_COUNT and
   * S_DRAIN_CHAIN were advanced past it before its free). Returns the number of objects
   * freed.
   */
  finishDrainOf(slot: number): number {
    const s = this.s;
    const i32 = s.i32;
    const w = s.slotW(slot);
    const doubt = i32[w + KHot.S_DRAIN_OBJ]!;
    const dn = Math.max(1, i32[w + KHot.S_DRAIN_N]!);
    if (doubt !== 0) s.reports.deadDrain(slot, doubt, dn);
    i32[w + KHot.S_DRAIN_OBJ] = 0;
    i32[w + KHot.S_DRAIN_N] = 0;
    if (Atomics.load(i32, w + KHot.S_DRAINING) === 0 && Atomics.load(i32, w + KHot.S_DRAIN_CHAIN) === 0) return 0;
    return this.freeInHand(w);
  }

  /**
   * How many records of block `b` from record k downwards (at most `max`) are objects of
   * slab cache `idx` (head page a slab of that cache; tail pages redirected).
   */
  private runOf(b: number, k: number, idx: number, max: number): number {
    const i32 = this.s.i32;
    const meta = this.s.metaW;
    let n = 0;
    for (let j = k; j >= 0 && n < max; j--, n++) {
      // layout.ts pageMeta / headOfPage, inline (once per record of every drained block).
      let m = meta + (i32[b + KHot.B_REC + j]! >>> Hot.PAGE_SHIFT) * Hot.PAGE_META_WORDS;
      let kind = i32[m + Hot.P_FLAGS]! & Hot.PK_MASK;
      if (kind === Hot.PK_TAIL) {
        m = meta + i32[m + Hot.P_CACHE]! * Hot.PAGE_META_WORDS;
        kind = i32[m + Hot.P_FLAGS]! & Hot.PK_MASK;
      }
      if (kind !== Hot.PK_SLAB || i32[m + Hot.P_CACHE] !== idx) break;
    }
    return n;
  }

  /**
   * kfree_bulk of one block, newest record first. Runs of records in the same slab go
   * back as one detached list (SlabCore.freeGroup), whose commit also shrinks B_COUNT
   * inside the cache lock; so if this thread dies, its adopter re-queues exactly the
   * records not yet freed. Debug and quarantine caches, and large kmalloc blocks, are
   * freed one by one through the checked paths (S_DRAIN_OBJ names the one in hand).
   */
  private freeBlock(b: number): number {
    const s = this.s;
    const slab = s.host.slab;
    const i32 = s.i32;
    const me = s.me;
    const meta = s.metaW;
    let freed = 0;
    let k = i32[b + KHot.B_COUNT]! - 1;
    while (k >= 0) {
      const obj = i32[b + KHot.B_REC + k]!;
      const pfn = headPfnOf(i32, meta, obj);
      const m = pageMeta(meta, pfn);
      const h = (i32[m + Hot.P_FLAGS]! & Hot.PK_MASK) === Hot.PK_SLAB ? s.handle(i32[m + Hot.P_CACHE]!) : undefined;
      if (h === undefined || h.debug || h.quarantine) {
        i32[me + KHot.S_DRAIN_OBJ] = obj;
        i32[me + KHot.S_DRAIN_N] = 1;
        i32[b + KHot.B_COUNT] = k;
        this.freeOne(obj);
        i32[me + KHot.S_DRAIN_OBJ] = 0;
        freed++;
        k--;
        continue;
      }
      if (h.sheafCap !== 0 && h.allocOk()) {
        // A run of this cache's records (kernel 7.0: an rcu_free sheaf after its grace
        // period): one sheaf, to the barn whole (SlabCore drainRunToBarn; its header says
        // how a death there loses, never doubles), where every thread's allocations find
        // it: a drainer that does not allocate (a timer, the GP driver, another thread's
        // barrier) would otherwise keep the objects in its own sheaves, out of reach of an
        // exhausted arena's allocations. Runs shorter than MIN_BARN_RUN (a block mixing
        // caches) take the per-object path below.
        const run = this.runOf(b, k, h.idx, h.sheafCap);
        if (run >= Math.min(MIN_BARN_RUN, h.sheafCap)) {
          const lo = k - run + 1;
          i32[me + KHot.S_DRAIN_OBJ] = i32[b + KHot.B_REC + lo]!;
          i32[me + KHot.S_DRAIN_N] = run;
          const got = slab.drainRunToBarn(h, b + KHot.B_REC + lo, run, b + KHot.B_COUNT, lo, h.rec + Hot.R_KFREE_D);
          i32[me + KHot.S_DRAIN_OBJ] = 0;
          if (got === run) {
            freed += run;
            k = lo - 1;
            continue;
          }
        }
        // A cache with sheaves (kernel 7.0: kfree_bulk -> free_to_pcs_bulk): into this
        // thread's main sheaf, where the next allocations find it, not onto its slab
        // (which emptied slabs beyond min_partial that the next allocations rebuilt).
        // Out of the batch first (B_COUNT), then counted and freed: a drainer stopped in
        // between leaves it RCU or CACHED in no batch, in doubt for its adopter and
        // reclaimable by a destroy, never freed twice.
        i32[me + KHot.S_DRAIN_OBJ] = obj;
        i32[me + KHot.S_DRAIN_N] = 1;
        i32[b + KHot.B_COUNT] = k;
        // Both counters side by side (a stats() reader sees both or neither, almost always),
        // before the free (a drainer stopped after them leaves exact counts).
        i32[h.rec + Hot.R_KFREE_D]++;
        i32[h.rec + Hot.R_FREE_SLOW]++;
        if (!slab.freeRcuToSheaf(h, obj)) {
          i32[h.rec + Hot.R_FREE_SLOW]--; // the checked free below counts its own free
          h.freeExpecting(obj, Hot.OS_RCU);
        }
        i32[me + KHot.S_DRAIN_OBJ] = 0;
        freed++;
        k--;
        continue;
      }
      // Gather the run of older records in the same slab into a detached freelist.
      const fp = h.fp;
      let tail = obj;
      let j = k - 1;
      for (; j >= 0; j--) {
        const q = i32[b + KHot.B_REC + j]!;
        const qp = q >>> Hot.PAGE_SHIFT;
        if (qp !== pfn && headOfPage(i32, meta, qp) !== pfn) break;
        i32[(tail + fp) >> 2] = q;
        tail = q;
      }
      const n = k - j;
      // Named for our adopter while the run is in hand (see S_DRAIN_N).
      i32[me + KHot.S_DRAIN_OBJ] = obj;
      i32[me + KHot.S_DRAIN_N] = n;
      const grouped = slab.freeGroup(h, pfn, obj, tail, n, b + KHot.B_COUNT, j + 1, h.rec + Hot.R_KFREE_D);
      i32[me + KHot.S_DRAIN_OBJ] = 0;
      if (grouped) {
        freed += n;
      } else {
        // Counts do not allow it (a double kfreeRcu): one by one, with reports.
        for (let r = k; r > j; r--) {
          const o = i32[b + KHot.B_REC + r]!;
          i32[b + KHot.B_COUNT] = r;
          i32[h.rec + Hot.R_KFREE_D]++;
          h.freeExpecting(o, Hot.OS_RCU);
          freed++;
        }
      }
      k = j;
    }
    i32[b + KHot.B_COUNT] = 0;
    return freed;
  }

  /** The object whose rcu_head word is at `link` (from the page metadata of its slab). */
  private objectOfLink(link: number): number {
    const s = this.s;
    const host = s.host;
    const k = host.classify(link);
    if (k.kind === 'slab') {
      const h = host.internalHandle(k.idx);
      const first = (k.pfn << Hot.PAGE_SHIFT) + h.redLeftPad;
      return first + Math.floor((link - first) / h.size) * h.size;
    }
    if (k.kind === 'large') return k.pfn << Hot.PAGE_SHIFT;
    // A word inside a large kmalloc (the 2-argument form's rcu_head at an offset > 0):
    // classify() refuses interior pointers, so find the block's head page here.
    const i32 = s.i32;
    const pfn = headPfnOf(i32, s.metaW, link);
    if ((i32[pageMeta(s.metaW, pfn) + Hot.P_FLAGS]! & Hot.PK_MASK) === Hot.PK_LARGE) return pfn << Hot.PAGE_SHIFT;
    return link;
  }

  /**
   * One object through the checked free path (counted freed first). `toSlab`: the
   * rcu_head-chained objects (the chain holds what was queued when no block page could be
   * had: an exhausted arena) go straight back to their slab under the list lock (state RCU
   * checked there), where every thread's refill finds them: in this drainer's sheaf they
   * would be out of reach of the other threads' allocations, the ones short of memory.
   * Debug and quarantine caches take the checked path either way; large kmalloc, kfree.
   */
  private freeOne(ptr: number, toSlab = false): void {
    const s = this.s;
    const host = s.host;
    const k = host.classify(ptr);
    if (k.kind === 'slab') {
      const h = host.internalHandle(k.idx);
      s.i32[host.recW(s.slot, k.idx) + Hot.R_KFREE_D]++;
      s.mark('free:one');
      if (toSlab && !h.debug && !h.quarantine) host.slab.freeToSlab(h, ptr, Hot.OS_RCU, true);
      else h.freeExpecting(ptr, Hot.OS_RCU);
    } else {
      host.kfree(ptr);
    }
  }
}
