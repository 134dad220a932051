/**
 * Shared-memory bookkeeping for the issue-11 stress, kill-fuzz and model tests. Public API
 * of slabrcu only (so it tests any allocator core).
 *
 * - Ownership map: one Int32 per 8-byte granule of the arena (index ptr >>> 3), in its own
 *   SharedArrayBuffer. 0 = nobody holds an object starting here; > 0 = the holder's id
 *   (a worker incarnation); PENDING = given to kfreeRcu, with the RCU cookie taken just
 *   before the kfreeRcu call in the cookie map. Every pointer an allocator returns is
 *   claimed with a compareExchange 0 -> id: a claim that finds another holder is a double
 *   allocation; one that finds PENDING whose cookie has not completed
 *   (rcu.pollState(cookie) false) is a reuse before the grace period. A holder clears its
 *   claim (0 or PENDING) *before* free/kfreeRcu, so a killed holder never leaves a claim
 *   on memory it freed.
 * - Tags: word 0 of an object holds tag(id, seq), the last word of the written length
 *   holds ~tag; checked before every free (corruption, overlap, double allocation seen
 *   late).
 * - Control words: a heartbeat, per-thread phase codes (so a watchdog can say where a
 *   thread hung), problem counters.
 */
import type { Arena } from '../../src/index.js';

export const PENDING = -1;

/** Problem kinds (indexes into the problem counters). */
export const P = {
  doubleAlloc: 0,
  reuseBeforeGp: 1,
  outsideArena: 2,
  tagCorrupt: 3,
  claimLost: 4,
  readerSawReuse: 5,
  workerError: 6,
  misaligned: 7,
} as const;
export const PROBLEM_NAMES = ['double allocation', 'reuse before grace period', 'pointer outside the arena', 'tag corrupt at free',
  'claim lost (map entry changed under its holder)', 'reader saw a published object change inside its read section', 'worker threw',
  'pointer not 8-byte aligned'];

/** Control block layout (Int32 words). */
export const CTL = {
  HEARTBEAT: 0,
  STOP: 1,
  /** operations done by all workers (kill fuzz) */
  OPS: 2,
  PROBLEMS: 8, // 8 .. 8+16
  PHASE: 32, // PHASE + worker index (0..63)
  ROUND: 100,
  /** Published-object slots for the RCU reader check: PUB + 4*k: seq, ptr, tag, owner */
  PUB: 128,
  PUB_SLOTS: 16,
  /** Per-problem sample text ring (not used for asserting, only for diagnosis) */
  WORDS: 256,
} as const;

/** Published-object slots (kill fuzz): 4 per worker, each [seq, ptr, tag, 0] at CTL.PUB + 4 * slot. */
export const PUB_PER_WORKER = 4;

export interface Shared {
  own: SharedArrayBuffer;
  cookies: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
}

export function makeShared(arenaBytes: number): Shared {
  return {
    own: new SharedArrayBuffer(((arenaBytes >>> 3) + 1) * 4),
    cookies: new SharedArrayBuffer(((arenaBytes >>> 3) + 1) * 8),
    ctl: new SharedArrayBuffer(CTL.WORDS * 4),
  };
}

export function tagOf(id: number, seq: number): number {
  return ((id & 0x7ff) << 20) | (seq & 0xfffff) | 0;
}
export function tagOwner(tag: number): number {
  return (tag >>> 20) & 0x7ff;
}

export interface Held {
  ptr: number;
  /** bytes written (tag at 0, ~tag at len-4) */
  len: number;
  tag: number;
  /** 0, 1: caches; 2: kmalloc; 3: worker-own cache */
  kind: number;
}

/** A problem as text plus its kind; callers count and keep the first few texts. */
export interface ProblemSink {
  problem(kind: number, text: string): void;
}

export const hex = (p: number): string => `0x${(p >>> 0).toString(16)}`;

/**
 * One thread's view of the bookkeeping. `id` > 0 is written into the ownership map
 * (unique per worker incarnation, < 2048).
 */
export class Book {
  readonly own: Int32Array;
  readonly cookies: Float64Array;
  readonly ctl: Int32Array;
  readonly texts: string[] = [];
  readonly counts: number[] = new Array(16).fill(0);
  constructor(readonly a: Arena, sh: Shared, readonly id: number, readonly sink?: ProblemSink) {
    this.own = new Int32Array(sh.own);
    this.cookies = new Float64Array(sh.cookies);
    this.ctl = new Int32Array(sh.ctl);
  }

  problem(kind: number, text: string): void {
    this.counts[kind]!++;
    Atomics.add(this.ctl, CTL.PROBLEMS + kind, 1);
    if (this.texts.length < 20) this.texts.push(`[${PROBLEM_NAMES[kind]}] ${text}`);
    this.sink?.problem(kind, text);
  }

  beat(): void {
    Atomics.add(this.ctl, CTL.HEARTBEAT, 1);
  }

  /**
   * Claim a pointer just returned by an allocator (size = usable bytes it must cover).
   * Returns false (after recording a problem) if it must not be used.
   */
  claim(ptr: number, size: number, what: string): boolean {
    const a = this.a;
    const lo = 0;
    const hi = a.committedBytes();
    if (!Number.isInteger(ptr) || ptr <= lo || ptr + size > hi) {
      this.problem(P.outsideArena, `${what} returned ${String(ptr)} (+${size}) outside [0, ${hi})`);
      return false;
    }
    if ((ptr & 7) !== 0) {
      this.problem(P.misaligned, `${what} returned ${hex(ptr)}`);
      return false;
    }
    const i = ptr >>> 3;
    for (;;) {
      const old = Atomics.compareExchange(this.own, i, 0, this.id);
      if (old === 0) return true;
      if (old === PENDING) {
        const cookie = this.cookies[i]!;
        if (a.rcu.pollState(cookie)) {
          if (Atomics.compareExchange(this.own, i, PENDING, this.id) === PENDING) return true;
          continue;
        }
        this.problem(P.reuseBeforeGp, `${what} returned ${hex(ptr)}, given to kfreeRcu and its grace period (cookie ${cookie}) has not completed`);
        return false;
      }
      this.problem(P.doubleAlloc, `${what} returned ${hex(ptr)}, which is held by holder ${old} (claimer ${this.id})`);
      return false;
    }
  }

  /** Write tag and ~tag into the object. */
  write(h: Held): void {
    const dv = this.a.dv;
    dv.setInt32(h.ptr, h.tag, true);
    if (h.len >= 8) dv.setInt32(h.ptr + h.len - 4, ~h.tag, true);
  }

  /** Check tags and the claim; true if intact (problems recorded otherwise). */
  check(h: Held, holder: number, what: string): boolean {
    const dv = this.a.dv;
    let ok = true;
    const t0 = dv.getInt32(h.ptr, true);
    const t1 = h.len >= 8 ? dv.getInt32(h.ptr + h.len - 4, true) : ~h.tag;
    if (t0 !== h.tag || t1 !== ~h.tag) {
      this.problem(P.tagCorrupt, `${what}: object ${hex(h.ptr)} (len ${h.len}, kind ${h.kind}) tag ${hex(t0)}/${hex(~t1)} expected ${hex(h.tag)} ` +
        `(tag of holder ${tagOwner(t0)}, map holder ${Atomics.load(this.own, h.ptr >>> 3)})`);
      ok = false;
    }
    const m = Atomics.load(this.own, h.ptr >>> 3);
    if (m !== holder) {
      this.problem(P.claimLost, `${what}: object ${hex(h.ptr)} held by ${holder} but map says ${m}`);
      ok = false;
    }
    return ok;
  }

  /** Release a claim before a free. */
  releaseFree(h: Held): void {
    this.a.dv.setInt32(h.ptr, 0, true);
    Atomics.store(this.own, h.ptr >>> 3, 0);
  }

  /** Mark pending before a kfreeRcu: cookie first, then the map word. */
  releaseRcu(h: Held): void {
    const i = h.ptr >>> 3;
    this.cookies[i] = this.a.rcu.getState();
    Atomics.store(this.own, i, PENDING);
  }

  setPhase(widx: number, code: number): void {
    Atomics.store(this.ctl, CTL.PHASE + widx, code);
  }
}

/** Every map entry equal to `holder` (pointers it holds per the map). */
export function claimsOf(own: Int32Array, holder: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < own.length; i++) if (own[i] === holder) out.push(i << 3);
  return out;
}

/** Every positive entry: [ptr, holder]. */
export function allClaims(own: Int32Array): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < own.length; i++) if (own[i]! > 0) out.push([i << 3, own[i]!]);
  return out;
}

export function problemTotals(ctl: Int32Array): number[] {
  const out: number[] = [];
  for (let k = 0; k < PROBLEM_NAMES.length; k++) out.push(Atomics.load(ctl, CTL.PROBLEMS + k));
  return out;
}

export function problemSummary(counts: number[]): string {
  const parts: string[] = [];
  counts.forEach((n, k) => {
    if (n > 0) parts.push(`${PROBLEM_NAMES[k]}: ${n}`);
  });
  return parts.length ? parts.join(', ') : 'none';
}

/** Small deterministic PRNG (same as helpers/slab-helpers prng, which imports Worker). */
export { prng } from '../helpers/slab-helpers.js';

/** STRESS=1 (npm run stress): long versions. */
export const LONG = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.SLABRCU_STRESS === '1';
