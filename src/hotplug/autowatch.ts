/**
 * Worker hotplug without wiring (kernel: CPU hotplug notifiers, which need no driver to
 * register a CPU by hand).
 *
 * A thread with an attached arena watches every Worker it creates afterwards by itself:
 * Node emits `process.on('worker', w)` in the creating thread for each new Worker
 * (piscina's and tinypool's included). When such a worker exits for any reason (return,
 * throw, terminate(), process.exit(), a pool's idle timeout or recycling), each arena
 * attached in this thread looks its Node threadId up in the slot table and, if the worker
 * still holds a slot there, detaches it for it (Arena.workerExited: kfree_rcu batches
 * adopted, sheaves and cpu slabs flushed, RCU offline). The slot is free again at once.
 *
 * `arena.watch(worker)` goes through the same path (one exit listener per worker), for
 * workers created before the arena was attached or by another thread.
 *
 * This module imports no `node:` module (the core entry runs in browsers): `process` is
 * feature-detected on globalThis; without it nothing is installed and watch() still works.
 *
 * Per-thread state only: which arenas are attached here (weakly held, so an arena that
 * is dropped is not kept alive) and which watched workers are still running (for the
 * alive / exited / unknown words of warnings, see describeSlots).
 */
import { T_DEAD, TS_LIVE } from '../layout.js';

/** What the autowatch needs of an Arena (kept structural: no runtime import of arena.ts). */
export interface WatchingArena {
  readonly isDetached: boolean;
  /** Detach the slot of the exited Node thread `tid`, if it still holds one. */
  workerExited(tid: number): void;
}

/** What a Worker offers (node:worker_threads Worker, or anything shaped like it). */
export interface WorkerLike {
  readonly threadId: number;
  once(event: 'exit', listener: (code: number) => void): unknown;
}

interface ProcessLike {
  on?: (event: string, listener: (w: WorkerLike) => void) => unknown;
}

const arenas = new Set<WeakRef<WatchingArena>>();
/** Node threadIds of watched workers that have not exited yet. */
const running = new Set<number>();
/** Node threadIds of watched workers that exited (bounded: the most recent 4096). */
const exited = new Set<number>();
const tracked = new WeakSet<object>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (typeof proc?.on !== 'function') return;
  // Node emits 'worker' on the creating thread's process object, on the tick after the
  // Worker constructor returned (threadId is known; the worker cannot have exited yet).
  proc.on('worker', (w: WorkerLike) => {
    if (arenas.size > 0) trackWorker(w);
  });
}

/** Called by every Arena of this thread (create and attach). */
export function registerArena(a: WatchingArena): void {
  arenas.add(new WeakRef(a));
  install();
}

/** Watch one worker: on exit, every arena attached in this thread detaches its slot. Idempotent. */
export function trackWorker(w: WorkerLike): void {
  if (tracked.has(w)) return;
  tracked.add(w);
  const tid = w.threadId;
  running.add(tid);
  w.once('exit', () => {
    running.delete(tid);
    exited.add(tid);
    if (exited.size > 4096) exited.delete(exited.values().next().value as number);
    for (const ref of arenas) {
      const a = ref.deref();
      if (a === undefined) {
        arenas.delete(ref);
        continue;
      }
      a.workerExited(tid);
    }
  });
}

/** How the calling thread sees the owner of a slot. */
export type SlotOwnerState = 'alive' | 'exited' | 'detached' | 'unknown';

export interface SlotOwner {
  slot: number;
  /** Node threadId of the owner (-1 if not known). */
  tid: number;
  state: SlotOwnerState;
  /** One phrase: what the state means and what to do. */
  advice: string;
}

/** The thread table words describeSlots reads (ThreadTable, structurally). */
export interface SlotTable {
  state(slot: number): number;
  tid(slot: number): number;
  w(slot: number, field: number): number;
}

/**
 * For warnings about threads that did not answer (unflushed kfree_rcu batches, cpu slabs):
 * is each owner alive, exited, or unknown to this thread, and what to do about it.
 */
export function describeSlots(threads: SlotTable, i32: Int32Array, slots: readonly number[]): SlotOwner[] {
  return slots.map((slot) => {
    const tid = threads.tid(slot);
    const live = threads.state(slot) === TS_LIVE;
    const dead = Atomics.load(i32, threads.w(slot, T_DEAD)) === 1;
    if (!live) return { slot, tid, state: 'detached', advice: 'it has detached since (nothing to do)' };
    if (dead || exited.has(tid)) {
      return { slot, tid, state: 'exited', advice: 'it exited and its watcher is detaching it (being handled; nothing to do)' };
    }
    if (running.has(tid)) {
      return {
        slot, tid, state: 'alive',
        advice: 'it is alive (watched) but did not yield to its event loop: a long synchronous loop, or an idle pool worker blocked in ' +
          "Atomics.wait (piscina: atomics: 'async'; tinypool: useAtomics: false), or call arena.detach() in it when its work is done",
      };
    }
    return {
      slot, tid, state: 'unknown',
      advice: 'not watched by this thread: if it has exited, call arena.watch(worker) in the thread that created it ' +
        '(workers created after that thread attached an arena are watched by themselves), or arena.detach() in the worker before it exits',
    };
  });
}

/** "1 (alive, Node thread 3), 4 (unknown, Node thread 9)" for one-line messages. */
export function slotsLine(owners: readonly SlotOwner[]): string {
  return owners.map((o) => `${o.slot} (${o.state}${o.tid >= 0 ? `, Node thread ${o.tid}` : ''})`).join(', ');
}

/** One line per thread for the report block. */
export function slotsAdvice(owners: readonly SlotOwner[]): string {
  return owners.map((o) => `  thread ${o.slot}${o.tid >= 0 ? ` (Node thread ${o.tid})` : ''}: ${o.state}: ${o.advice}`).join('\n');
}

/**
 * For a warning about threads that did not answer a request: `line` for the one-line
 * message ("1 (alive, Node thread 3), 4 (unknown, Node thread 9)"), `detail` for the
 * report block (one line per thread: its state and what to do).
 */
export function unanswered(a: { readonly threads: SlotTable; readonly i32: Int32Array }, slots: readonly number[]): { line: string; detail: string } {
  const owners = describeSlots(a.threads, a.i32, slots);
  return { line: slotsLine(owners), detail: slotsAdvice(owners) };
}
