/**
 * The thread table: one 64-byte line per attached thread (kernel: the set of online CPUs).
 *
 * Shared words (per slot, see layout.ts T_*):
 * - T_STATE: FREE -> LIVE by Atomics.compareExchange in attach (so two threads never take
 *   one slot); LIVE -> DETACHING -> FREE by the thread itself in detach(), or by whoever
 *   detaches a dead thread (arena.watch), each with a CAS so only one detacher runs.
 * - T_GEN: Atomics.add by the attacher, before T_STATE becomes LIVE is published; a
 *   (slot, gen) pair names one thread for its whole life, so a reused slot is never
 *   confused with its former owner.
 * - T_REQ / T_REQ_FLAGS: requesters Atomics.or a flag then Atomics.add T_REQ and notify
 *   it; the owner Atomics.exchange()s the flags to 0 and serves them (kernel: an IPI to a
 *   CPU, served when it takes the interrupt; here on the next allocator slow path or
 *   event-loop turn).
 * - T_TID: the Node worker threadId of the owner (for arena.watch), plain store before
 *   the LIVE publication.
 */
import {
  T_ACK, T_DEAD, T_GEN, T_REQ, T_REQ_FLAGS, T_STATE, T_TID, T_TOKEN, THREAD_BYTES, TS_DETACHING, TS_FREE, TS_LIVE,
  type ArenaLayout,
} from './layout.js';
import { LOCK_TOKEN } from './sync/mutex.js';

export class ThreadTable {
  private readonly base: number; // word index of slot 0

  constructor(
    private readonly i32: Int32Array,
    layout: ArenaLayout,
  ) {
    this.base = layout.threadBase >> 2;
    this.max = layout.maxThreads;
  }

  readonly max: number;

  w(slot: number, field: number): number {
    return this.base + slot * (THREAD_BYTES >> 2) + field;
  }

  /** Take a free slot. Returns [slot, gen] or throws when every slot is taken. */
  attach(tid: number): [number, number] {
    const i32 = this.i32;
    for (let s = 0; s < this.max; s++) {
      if (Atomics.compareExchange(i32, this.w(s, T_STATE), TS_FREE, TS_DETACHING) !== TS_FREE) continue;
      // The slot is ours (DETACHING keeps others out while we initialise it).
      const gen = (Atomics.add(i32, this.w(s, T_GEN), 1) + 1) | 0;
      i32[this.w(s, T_TID)] = tid;
      i32[this.w(s, T_TOKEN)] = LOCK_TOKEN;
      Atomics.store(i32, this.w(s, T_REQ_FLAGS), 0);
      Atomics.store(i32, this.w(s, T_ACK), Atomics.load(i32, this.w(s, T_REQ)));
      Atomics.store(i32, this.w(s, T_DEAD), 0);
      Atomics.store(i32, this.w(s, T_STATE), TS_LIVE);
      return [s, gen];
    }
    throw new Error(`slabrcu: all ${this.max} thread slots are in use (raise maxThreads in Arena.create, or detach idle threads; ` +
      `a worker that exits without arena.detach() keeps its slot until it is watched: the thread that creates workers after attaching an arena watches them by itself, or call arena.watch(worker))`);
  }

  state(slot: number): number {
    return Atomics.load(this.i32, this.w(slot, T_STATE));
  }

  gen(slot: number): number {
    return Atomics.load(this.i32, this.w(slot, T_GEN));
  }

  /** Mark a slot's owner as exited (its locks may be broken by anyone from now on). */
  markDead(slot: number): void {
    Atomics.store(this.i32, this.w(slot, T_DEAD), 1);
  }

  isMarkedDead(slot: number): boolean {
    return Atomics.load(this.i32, this.w(slot, T_DEAD)) === 1;
  }

  token(slot: number): number {
    return Atomics.load(this.i32, this.w(slot, T_TOKEN));
  }

  tid(slot: number): number {
    return Atomics.load(this.i32, this.w(slot, T_TID));
  }

  isLive(slot: number): boolean {
    return this.state(slot) === TS_LIVE;
  }

  /** Begin detaching (slot, gen): true for exactly one caller while the slot still belongs to gen. */
  beginDetach(slot: number, gen: number): boolean {
    if (this.gen(slot) !== gen) return false;
    return Atomics.compareExchange(this.i32, this.w(slot, T_STATE), TS_LIVE, TS_DETACHING) === TS_LIVE && this.gen(slot) === gen;
  }

  endDetach(slot: number): void {
    Atomics.store(this.i32, this.w(slot, T_REQ_FLAGS), 0);
    Atomics.store(this.i32, this.w(slot, T_STATE), TS_FREE);
    // Wake anything parked on the slot's request word (its own pump, waiters for an ack).
    Atomics.add(this.i32, this.w(slot, T_REQ), 1);
    Atomics.notify(this.i32, this.w(slot, T_REQ));
  }

  /** Post a request (REQ_* flags) to a slot and wake its event-loop pump. */
  post(slot: number, flags: number): void {
    Atomics.or(this.i32, this.w(slot, T_REQ_FLAGS), flags);
    Atomics.add(this.i32, this.w(slot, T_REQ), 1);
    Atomics.notify(this.i32, this.w(slot, T_REQ));
  }

  /** Owner side: take the pending request flags (0 when none). */
  takeRequests(slot: number): number {
    if (Atomics.load(this.i32, this.w(slot, T_REQ_FLAGS)) === 0) return 0;
    return Atomics.exchange(this.i32, this.w(slot, T_REQ_FLAGS), 0);
  }

  /** Slots that are live now. */
  liveSlots(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.max; s++) if (this.isLive(s)) out.push(s);
    return out;
  }

  findByTid(tid: number): number {
    for (let s = 0; s < this.max; s++) {
      if (this.state(s) === TS_LIVE && this.tid(s) === tid) return s;
    }
    return -1;
  }
}
