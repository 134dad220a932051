/**
 * A stand-in for the arena while testing RCU on its own: one SharedArrayBuffer with a
 * tiny thread table (state, generation, request counter, request flags per slot) and
 * the RCU region, plus RcuHost objects for the main thread and for workers (which get
 * the SharedArrayBuffer through workerData). It also runs the arena's event-loop pump:
 * Atomics.waitAsync on the slot's request word, calling rcu.serviceRequests() for REQ_RCU.
 */
import { Rcu, initRcuRegion, type RcuHost } from '../../src/rcu/index.js';
import { rcuRegionBytes } from '../../src/rcu/layout.js';

export interface HarnessInit {
  sab: SharedArrayBuffer;
  maxThreads: number;
  flavour: 'memb' | 'qsbr';
  stallMs: number;
  debug: boolean;
  rcuBase: number;
}

export interface Warning {
  kind: string;
  message: string;
  report: string;
}

const TT = 16; // words per thread-table slot
const T_STATE = 0;
const T_GEN = 1;
const T_REQ = 2;
const T_FLAGS = 3;
/** Scratch words for tests, after the thread table: SCRATCH + i. */
export const SCRATCH_WORDS = 256;

export function createHarness(o: { maxThreads?: number; flavour?: 'memb' | 'qsbr'; stallMs?: number; debug?: boolean } = {}): HarnessInit {
  const maxThreads = o.maxThreads ?? 8;
  const rcuBase = maxThreads * TT + SCRATCH_WORDS;
  const bytes = rcuBase * 4 + rcuRegionBytes(maxThreads);
  const sab = new SharedArrayBuffer(bytes);
  const flavour = o.flavour ?? 'memb';
  initRcuRegion(new Int32Array(sab), rcuBase, maxThreads, flavour);
  return { sab, maxThreads, flavour, stallMs: o.stallMs ?? 21000, debug: o.debug ?? false, rcuBase };
}

/** Word index of scratch word i (for test flags and counters). */
export function scratch(init: HarnessInit, i: number): number {
  return init.maxThreads * TT + i;
}

export interface Attached {
  rcu: Rcu;
  slot: number;
  gen: number;
  i32: Int32Array;
  warnings: Warning[];
  onWarning: ((w: Warning) => void) | null;
  /** Detach this thread (rcu.detach, then free the slot). */
  detach(): void;
  /** Detach a dead thread for it (what arena.watch does when a worker exits). */
  detachDead(slot: number, gen: number): number;
}

export function attachHarness(init: HarnessInit): Attached {
  const i32 = new Int32Array(init.sab);
  let slot = -1;
  let gen = 0;
  for (let s = 0; s < init.maxThreads; s++) {
    if (Atomics.compareExchange(i32, s * TT + T_STATE, 0, 2) === 0) {
      slot = s;
      gen = Atomics.add(i32, s * TT + T_GEN, 1) + 1;
      Atomics.store(i32, s * TT + T_FLAGS, 0);
      Atomics.store(i32, s * TT + T_STATE, 1);
      break;
    }
  }
  if (slot < 0) throw new Error('harness: no free slot');
  const warnings: Warning[] = [];
  const att: Attached = {
    rcu: undefined as unknown as Rcu,
    slot,
    gen,
    i32,
    warnings,
    onWarning: null,
    detach() {
      att.rcu.detach();
      stopped = true;
      Atomics.store(i32, slot * TT + T_STATE, 0);
      Atomics.add(i32, slot * TT + T_REQ, 1);
      Atomics.notify(i32, slot * TT + T_REQ);
    },
    detachDead(s: number, g: number) {
      if (Atomics.load(i32, s * TT + T_GEN) !== g) return 0;
      const n = att.rcu.detachDeadSlot(s, g);
      Atomics.store(i32, s * TT + T_STATE, 0);
      return n;
    },
  };
  const host: RcuHost = {
    i32,
    baseWord: init.rcuBase,
    maxThreads: init.maxThreads,
    slot,
    slotGen: gen,
    flavour: init.flavour,
    isSlotLive: (s) => Atomics.load(i32, s * TT + T_STATE) === 1,
    slotGeneration: (s) => Atomics.load(i32, s * TT + T_GEN),
    postRequest: (s, flags) => {
      Atomics.or(i32, s * TT + T_FLAGS, flags);
      Atomics.add(i32, s * TT + T_REQ, 1);
      Atomics.notify(i32, s * TT + T_REQ);
    },
    warn: (kind, message, report) => {
      const w = { kind, message, report };
      warnings.push(w);
      att.onWarning?.(w);
    },
    rcuStallTimeoutMs: init.stallMs,
    debug: init.debug,
  };
  att.rcu = new Rcu(host);
  // The arena's pump: waitAsync never keeps the thread alive.
  let stopped = false;
  const reqW = slot * TT + T_REQ;
  void (async () => {
    let seen = Atomics.load(i32, reqW);
    while (!stopped) {
      const r = Atomics.waitAsync(i32, reqW, seen);
      if (r.async) await r.value;
      seen = Atomics.load(i32, reqW);
      if (stopped) return;
      const f = Atomics.exchange(i32, slot * TT + T_FLAGS, 0);
      if ((f & 2) !== 0) att.rcu.serviceRequests();
    }
  })();
  return att;
}
