/**
 * Worker of the 2-worker model test (test/model2w.test.ts): attaches to the arena it is
 * sent, runs one command per message and replies with the result, the warnings this
 * thread raised during the command (onWarning) and the exception text if it threw.
 * Public API only. (Does nothing when run as a main module.)
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { Arena, type Cache } from '../../src/index.js';

export type ModelCmd =
  | { op: 'attach'; sab: SharedArrayBuffer; caches: string[] }
  | { op: 'alloc'; cache: number; n: number; tag0: number }
  | { op: 'free'; cache: number; ptr: number }
  | { op: 'kfree'; ptr: number }
  | { op: 'kfreeRcu'; ptr: number; head?: number }
  | { op: 'barrier' }
  | { op: 'shrink'; cache: number };

export interface ModelReply {
  ptrs?: number[];
  warnings: { kind: string; message: string; report: string }[];
  /** Warnings this thread raised between commands (a timer's kfree_rcu drain). */
  background: { kind: string; message: string; report: string }[];
  threw?: string;
  slot?: number;
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  let a: Arena | undefined;
  let caches: Cache[] = [];
  let warnings: ModelReply['warnings'] = [];
  port.on('message', async (m: ModelCmd) => {
    const reply: ModelReply = { warnings: [], background: warnings };
    warnings = [];
    try {
      switch (m.op) {
        case 'attach': {
          if (a && !a.isDetached) a.detach();
          a = Arena.attach(m.sab);
          a.onWarning((w) => warnings.push({ kind: w.kind, message: w.message, report: w.report }));
          caches = m.caches.map((n) => a!.findCache(n)!);
          reply.slot = a.threadId;
          break;
        }
        case 'alloc': {
          // up to n objects, stopping at the first 0; each tagged (word 0 = tag, last word = ~tag)
          const c = caches[m.cache]!;
          const out: number[] = [];
          for (let i = 0; i < m.n; i++) {
            const p = c.alloc();
            out.push(p);
            if (p === 0) break;
            const t = (m.tag0 + i) | 0;
            // only write inside the arena (a bad pointer is the main thread's to report)
            if (Number.isInteger(p) && p > 0 && p + c.objectSize <= a!.committedBytes()) {
              a!.dv.setInt32(p, t, true);
              a!.dv.setInt32(p + c.objectSize - 4, ~t, true);
            }
          }
          reply.ptrs = out;
          break;
        }
        case 'free':
          caches[m.cache]!.free(m.ptr);
          break;
        case 'kfree':
          a!.kfree(m.ptr);
          break;
        case 'kfreeRcu':
          if (m.head === undefined) a!.kfreeRcu(m.ptr);
          else a!.kfreeRcu(m.ptr, m.head);
          break;
        case 'barrier':
          await a!.kvfreeRcuBarrierAsync();
          break;
        case 'shrink':
          caches[m.cache]!.shrink();
          break;
      }
    } catch (e) {
      reply.threw = String((e as Error)?.message ?? e);
    }
    reply.warnings = warnings;
    warnings = [];
    port.postMessage(reply);
  });
}
