/**
 * One interface over the two ways the RCU tests run: on a real Arena (Arena.create /
 * Arena.attach / arena.watch) and on the stand-alone harness (rcu-harness.ts), which
 * also lets a test see detachDeadSlot's count of dropped callbacks.
 */
import type { Worker } from 'node:worker_threads';
import { Arena } from '../../src/arena.js';
import type { Rcu } from '../../src/rcu/index.js';
import { attachHarness, createHarness, scratch, type Warning } from './rcu-harness.js';

export type EnvKind = 'arena' | 'harness';

export interface RcuEnv {
  kind: EnvKind;
  /** The main thread's arena (arena kind only). */
  arena?: Arena;
  rcu: Rcu;
  i32: Int32Array;
  /** Absolute Int32 index of scratch word i (0..255), zeroed. */
  scratch(i: number): number;
  /** What a test worker needs to attach (workerData). */
  workerData: WorkerInit;
  warnings: Warning[];
  onWarning: ((w: Warning) => void) | null;
  /** Detach the worker's slot for it when it exits (arena.watch). */
  watch(w: Worker, slot: number, gen: number): void;
  /** Last detachDeadSlot result (harness only: the number of dropped callbacks). */
  lastDropped: number;
  close(): void;
}

export type WorkerInit =
  | { kind: 'arena'; sab: SharedArrayBuffer }
  | { kind: 'harness'; init: ReturnType<typeof createHarness> };

export interface EnvOptions {
  flavour: 'memb' | 'qsbr';
  stallMs?: number;
  debug?: boolean;
}

export function makeEnv(kind: EnvKind, o: EnvOptions): RcuEnv {
  if (kind === 'arena') {
    const arena = Arena.create({
      bytes: 4 << 20,
      maxThreads: 8,
      rcu: o.flavour,
      ...(o.stallMs !== undefined ? { rcuStallTimeoutMs: o.stallMs } : {}),
      ...(o.debug ? { debug: 'F' } : {}),
    });
    const base = arena.kmalloc(1024) >> 2;
    const env: RcuEnv = {
      kind,
      arena,
      rcu: arena.rcu,
      i32: arena.i32,
      scratch: (i) => base + i,
      workerData: { kind: 'arena', sab: arena.sab },
      warnings: [],
      onWarning: null,
      watch: (w) => arena.watch(w),
      lastDropped: -1,
      close: () => arena.detach(),
    };
    arena.onWarning((w) => {
      const x = { kind: w.kind, message: w.message, report: w.report };
      env.warnings.push(x);
      env.onWarning?.(x);
    });
    return env;
  }
  const init = createHarness({ flavour: o.flavour, stallMs: o.stallMs ?? 21000, debug: o.debug ?? false, maxThreads: 8 });
  const att = attachHarness(init);
  const env: RcuEnv = {
    kind,
    rcu: att.rcu,
    i32: att.i32,
    scratch: (i) => scratch(init, i),
    workerData: { kind: 'harness', init },
    warnings: att.warnings,
    onWarning: null,
    watch: (w, slot, gen) => {
      w.once('exit', () => {
        env.lastDropped = att.detachDead(slot, gen);
      });
    },
    lastDropped: -1,
    close: () => att.detach(),
  };
  att.onWarning = (w) => env.onWarning?.(w);
  return env;
}
