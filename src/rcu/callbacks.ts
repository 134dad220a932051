/**
 * Per-thread callback list (kernel: rcu_segcblist; liburcu: call_rcu's per-thread queue).
 *
 * Closures cannot cross threads, so callbacks queued by a thread run on that thread,
 * from its event loop (the softirq analog, see pump in index.ts). The list is thread-local
 * JS state; the only shared word is the slot's S_NCBS: the number of callbacks queued and
 * not yet invoked, Atomics.store()d by the owner after every change, read by barrier
 * callers (a thread whose S_NCBS is 0 has nothing a barrier must wait for: the store
 * comes after the callbacks ran, so reading 0 orders their effects before the reader)
 * and by stall reports.
 *
 * Segments: consecutive callbacks tagged with the same GP cookie share one segment, so
 * a burst of call()s between two GPs costs one array push each and one cookie check.
 * Cookies are non-decreasing along the list (they are snapshots of a monotonic G_SEQ),
 * so the ready callbacks are always a prefix: callbacks run in the order they were queued.
 */
import { cookieDone } from './poll.js';

interface Segment {
  cookie: number;
  cbs: (() => void)[];
}

export class CallbackList {
  private segs: Segment[] = [];
  private head = 0;
  /** Callbacks ever queued / ever invoked (or dropped): thread-local, monotonic. */
  queued = 0;
  done = 0;

  get pending(): number {
    return this.queued - this.done;
  }

  push(cookie: number, cb: () => void): void {
    const tail = this.segs.length > this.head ? this.segs[this.segs.length - 1]! : undefined;
    if (tail !== undefined && tail.cookie === cookie) tail.cbs.push(cb);
    else this.segs.push({ cookie, cbs: [cb] });
    this.queued++;
  }

  /** Cookie of the oldest pending segment, or undefined. */
  headCookie(): number | undefined {
    return this.head < this.segs.length ? this.segs[this.head]!.cookie : undefined;
  }

  /** Cookie of the newest pending segment, or undefined. */
  tailCookie(): number | undefined {
    return this.head < this.segs.length ? this.segs[this.segs.length - 1]!.cookie : undefined;
  }

  /**
   * Invoke, in order, the callbacks whose GP completed by `seq`, stopping once `limit`
   * callbacks have run in total (barrier markers). Returns how many ran. A callback that
   * throws is reported through onError and the rest still run.
   */
  runReady(seq: number, onError: (e: unknown) => void, limit = Infinity): number {
    let ran = 0;
    while (this.head < this.segs.length && this.done < limit) {
      const seg = this.segs[this.head]!;
      if (!cookieDone(seq, seg.cookie)) break;
      // Take the segment off first: a callback may queue new callbacks (into new segments).
      this.segs[this.head] = undefined as unknown as Segment;
      this.head++;
      const cbs = seg.cbs;
      let i = 0;
      for (; i < cbs.length && this.done < limit; i++) {
        this.done++;
        ran++;
        try {
          cbs[i]!();
        } catch (e) {
          onError(e);
        }
      }
      if (i < cbs.length) {
        // Stopped at the limit: put the remainder back at the front.
        this.head--;
        this.segs[this.head] = { cookie: seg.cookie, cbs: cbs.slice(i) };
        break;
      }
    }
    if (this.head === this.segs.length) {
      this.segs = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.segs.length) {
      this.segs = this.segs.slice(this.head);
      this.head = 0;
    }
    return ran;
  }

  /** Forget every pending callback (the thread is going away). Returns how many were dropped. */
  drop(): number {
    const n = this.pending;
    this.segs = [];
    this.head = 0;
    this.done = this.queued;
    return n;
  }
}
