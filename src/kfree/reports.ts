/**
 * The kfree_rcu warnings and reports: a bad rcu_head offset (kfree-rcu-bad-head), a dead
 * drainer's object in doubt (kfree-rcu-dead-drain), a barrier that gave up on a thread
 * (kvfree-rcu-barrier: unresponsive or stalled), and how stall reports name threads.
 *
 * Concurrency: reads only. The thread table (T_STATE, T_TID, ...: threads.ts, Atomics.load)
 * for the names and states of threads; nothing is locked, nothing is written but this
 * thread's report log and error count (report.ts ThreadReports, through the host's warn
 * and countSlabError: thread-local). A thread killed while reporting leaves nothing half
 * done.
 */
import { unanswered } from '../hotplug/autowatch.js';
import { PAGE_SIZE } from '../layout.js';
import { bugHeader, fixLine, userFrames } from '../report.js';
import type { KfreeHost } from './host.js';
import { RCU_HEAD_BYTES } from './layout.js';

/** Stack frames shown in a bad-rcu_head report. */
const REPORT_FRAMES = 8;

export class KfreeReports {
  constructor(private readonly host: KfreeHost) {}

  /** kvfree_call_rcu with an rcu_head offset that is not a 4-byte aligned word of the object (nothing queued). */
  badHead(ptr: number, off: number, objectSize: number, cache: string | undefined): void {
    const host = this.host;
    const name = cache ?? (objectSize > PAGE_SIZE ? 'kmalloc-large' : '<unknown>');
    const msg = `kvfree_call_rcu(): rcu_head offset ${String(off)} of object 0x${ptr.toString(16)} is not a 4-byte aligned word inside the object (object_size ${objectSize}); not queued`;
    const hdr = bugHeader(host, name, `Invalid rcu_head offset ${String(off)}`);
    host.countSlabError(1);
    host.warn('kfree-rcu-bad-head', cache, msg,
      `${hdr}Object 0x${ptr.toString(16)}: rcu_head offset ${String(off)} must be an integer multiple of ${RCU_HEAD_BYTES} in 0..${objectSize - RCU_HEAD_BYTES}\n` +
        `${userFrames(new Error().stack).slice(0, REPORT_FRAMES).join('\n')}\n${fixLine(name, `Object at 0x${ptr.toString(16)} not queued`)}`);
  }

  /** A drainer died freeing `dn` objects from `doubt`: they may still be allocated. */
  deadDrain(slot: number, doubt: number, dn: number): void {
    const msg = dn > 1
      ? `kfree_rcu: thread ${slot} died while freeing ${dn} objects of one slab from 0x${doubt.toString(16)}; they may still be allocated`
      : `kfree_rcu: thread ${slot} died while freeing object 0x${doubt.toString(16)}; it may still be allocated`;
    this.host.warn('kfree-rcu-dead-drain', undefined, msg,
      `${msg}\n${dn > 1 ? 'The slab\'s in-use count may also be stale (it was inside the cache lock). ' : ''}Every other object it had in hand is freed.`);
  }

  /** A barrier's threads that did not close their batch in time. */
  unresponsive(slots: number[]): void {
    if (slots.length === 0) return;
    const host = this.host;
    const who = unanswered(host, slots);
    const msg = `kvfree_rcu_barrier: thread(s) ${who.line} did not close their kfree_rcu batch within ${host.options.destroyFlushTimeoutMs} ms`;
    host.warn('kvfree-rcu-barrier', undefined, msg, `${msg}\n${who.detail}\nA thread serves the request on its next kfreeRcu() call or event-loop turn; a thread that never yields keeps its open batch.`);
  }

  /** A barrier that gave up on a grace period stalled by `stalled`. */
  stalled(stalled: number[], gpWaitMs: number): void {
    if (stalled.length === 0) return;
    const msg = `kvfree_rcu_barrier: gave up after ${gpWaitMs} ms waiting for a grace period stalled by thread ${this.describeThreads(stalled)}`;
    this.host.warn('kvfree-rcu-barrier', undefined, msg,
      `${msg}\nThe objects queued before the barrier stay allocated (never freed under a reader that may still see them); ` +
        'they are freed after the grace period completes, once the stalled thread leaves its read section (memb) or passes a quiescent state (qsbr).');
  }

  /** "slot 3 (Node threadId 7)" for each slot: what stall reports name. */
  describeThreads(slots: number[]): string {
    return slots.map((s) => `slot ${s} (Node threadId ${this.host.threads.tid(s)})`).join(', ');
  }
}
