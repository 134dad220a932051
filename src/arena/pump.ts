/**
 * The request pump: requests other threads post to this thread's slot (kernel: IPIs and
 * per-CPU work items) are served here, on allocator slow paths (serviceRequests) and from
 * the event loop (an Atomics.waitAsync on the slot's T_REQ word).
 *
 * Shared words: T_REQ (Atomics.add by requesters, then notify) and T_REQ_FLAGS (REQ_*,
 * Atomics.or by requesters, Atomics.exchange by us in takeRequests, threads.ts; a requester
 * ors the flags before it bumps T_REQ). The pump re-arms by loading T_REQ after serving: a
 * request whose bump lands before that load but after our exchange is not served until the
 * next post or allocator slow path (requesters are bounded and re-post; noted, unchanged).
 * R_FLUSH of each of
 * our cpu records: set by a flusher (destroy), cleared by us with Atomics.store after the
 * flush. Locks: serving a flush takes the cache's barn/list locks and the kmalloc
 * list_lock as any flush does (table in src/layout.ts); the pump itself takes none. Death:
 * a thread killed while serving leaves the requester to time out (destroy and the barriers
 * are bounded) until its slot is detached as dead, which flushes everything it held.
 */
import { C_STATE, CS_FREE, R_FLUSH, REQ_FLUSH, REQ_KFREE, REQ_RCU, T_REQ, type ArenaLayout } from '../layout.js';
import type { ThreadReports } from '../report.js';
import type { Cache } from '../slab/cache.js';
import type { SlabCore } from '../slab/core.js';
import type { ThreadTable } from '../threads.js';

/** What the pump needs of the thread's arena (the Arena passes itself). */
export interface PumpHost {
  readonly i32: Int32Array;
  readonly layout: ArenaLayout;
  readonly slot: number;
  readonly threads: ThreadTable;
  readonly slab: Pick<SlabCore, 'recordHolds' | 'flushRecord'>;
  readonly rcu: { serviceRequests(): void };
  readonly kfreeRcuImpl: { serviceRequests(): void };
  readonly reporter: ThreadReports;
  readonly isDetached: boolean;
  descW(idx: number): number;
  recW(slot: number, idx: number): number;
  internalHandle(idx: number): Cache;
}

/**
 * Serve requests posted to this thread (flush cpu slabs, RCU, kfree_rcu); called on
 * allocator slow paths and from the event-loop pump.
 */
export function serviceRequests(a: PumpHost): void {
  if (a.isDetached) return;
  const f = a.threads.takeRequests(a.slot);
  if (f === 0) return;
  // Each request is served even if another one throws (the flags are gone once taken).
  try {
    if (f & REQ_FLUSH) serveFlush(a);
  } finally {
    try {
      if (f & REQ_RCU) a.rcu.serviceRequests();
    } finally {
      if (f & REQ_KFREE) a.kfreeRcuImpl.serviceRequests();
    }
  }
}

/** REQ_FLUSH: flush the sheaves of every cache whose record in our slot has R_FLUSH set. */
function serveFlush(a: PumpHost): void {
  const i32 = a.i32;
  for (let idx = 0; idx < a.layout.maxCaches; idx++) {
    const r = a.recW(a.slot, idx);
    if (Atomics.load(i32, r + R_FLUSH) === 0) continue;
    if (a.slab.recordHolds(r) && i32[a.descW(idx) + C_STATE] !== CS_FREE) a.slab.flushRecord(a.internalHandle(idx), r);
    Atomics.store(i32, r + R_FLUSH, 0);
  }
}

/**
 * The event-loop pump: an Atomics.waitAsync on this slot's request word. A pending
 * waitAsync does not keep a Node thread alive, so an idle thread exits normally.
 * `serve` is the thread's Arena.serviceRequests (what every other caller runs too).
 */
export function armPump(a: PumpHost, serve: () => void): void {
  if (a.isDetached) return;
  const w = a.threads.w(a.slot, T_REQ);
  const v = Atomics.load(a.i32, w);
  const r = Atomics.waitAsync(a.i32, w, v);
  const next = (): void => {
    if (a.isDetached) return;
    try {
      serve();
    } catch (e) {
      // Never an unhandled rejection from the library's own pump: report it.
      const msg = `slabrcu: serving a request on thread ${a.slot} failed: ${(e as Error)?.message ?? String(e)}`;
      a.reporter.warn('service-error', undefined, msg, String((e as Error)?.stack ?? e));
    } finally {
      armPump(a, serve);
    }
  };
  if (r.async) void r.value.then(next);
  else queueMicrotask(next);
}
