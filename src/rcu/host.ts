import type { SlabWarningKind } from '../warnings.js';

/**
 * What the RCU subsystem gets from the arena. The RCU code owns the bytes
 * [baseWord*4, baseWord*4 + rcuRegionBytes(maxThreads)) of the arena and nothing else.
 */
export interface RcuHost {
  /** Length-tracking Int32 view over the whole arena SharedArrayBuffer. */
  readonly i32: Int32Array;
  /** Int32 index where the RCU region starts (64-byte aligned). */
  readonly baseWord: number;
  readonly maxThreads: number;
  /** This thread's slot, 0..maxThreads-1. */
  readonly slot: number;
  /** Generation of this thread's slot (bumped on every attach of the slot). */
  readonly slotGen: number;
  readonly flavour: 'memb' | 'qsbr';
  /** True while `slot` is attached by a live thread (the shared thread table says so). */
  isSlotLive(slot: number): boolean;
  /** Generation of `slot` in the thread table. */
  slotGeneration(slot: number): number;
  /** Post a request to another thread's slot (it serves it on its event loop or next allocator call). */
  postRequest(slot: number, flags: number): void;
  /** Emit a warning event: kind e.g. 'rcu-stall', the kernel's one-line text, the full report. */
  warn(kind: SlabWarningKind, message: string, report: string): void;
  readonly rcuStallTimeoutMs: number;
  readonly debug: boolean;
}
