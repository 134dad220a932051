/**
 * The reporting room: kernel report shapes (mm/slub.c __slab_bug / slab_fix,
 * kernel/panic.c print_tainted), caller lookup (%pS of _RET_IP_), and the per-thread
 * {@link ThreadReports} every subsystem raises its WARN()/BUG reports through (the slab free
 * checks, kfree_rcu, debug, RCU stalls, hotplug). It imports no subsystem.
 *
 * Concurrency: none shared. A Reporter is one thread's (its listeners, its log of the last
 * 200 reports, its slab_errors count and taint); the only shared words it reads are the
 * page metadata kind and head pfn of a reported pointer (slabOffset: an Atomics.load of the
 * kind, a plain load of the head pfn, both written under the cache's list_lock before the
 * page is published), read after the fact for the `@offset=` of a message: a stale value
 * only changes a number in the text. No lock is taken (see the lock-order table in
 * src/layout.ts); a thread dying while reporting loses only its own report.
 */
import { headPfnOf, P_CACHE, P_FLAGS, PAGE_SHIFT, PAGE_SIZE, PK_MASK, PK_TAIL } from './layout.js';
import { OS_ALLOC, OS_CACHED, OS_FREE, OS_QUAR, OS_RCU } from './layout.js';
import type { SlabWarningKind } from './warnings.js';

export const BANNER_EQ = '='.repeat(77);
export const BANNER_DASH = '-'.repeat(77);

/**
 * "=====\nBUG <cache> (<taint>): <msg>\n-----\n\n". The first BUG of an arena prints
 * "Not tainted"; afterwards the arena is tainted B (TAINT_BAD_PAGE), as in the kernel.
 */
export function bugHeader(a: { taint(): string }, cache: string, msg: string): string {
  const taint = a.taint();
  return `${BANNER_EQ}\nBUG ${cache} (${taint}): ${msg}\n${BANNER_DASH}\n\n`;
}

export function fixLine(cache: string, msg: string): string {
  return `FIX ${cache}: ${msg}\n`;
}

/** Stack frames that belong to this library (trimmed from traces and caller lookups). */
const OWN = /[/\\](?:slabrcu[/\\](?:dist[/\\])?src|dist[/\\]src)[/\\](?!cli[/\\]|demo[/\\])/;

/** Frames of `stack` outside the library, as "fn (file:line:col)" strings. */
export function userFrames(stack: string | undefined): string[] {
  if (!stack) return [];
  const lines = stack.split('\n').slice(1).map((l) => l.trim().replace(/^at /, ''));
  return lines.filter((l) => l !== '' && !OWN.test(l) && !l.startsWith('new Promise') && !l.includes('node:internal'));
}

/** The first frame outside the library, kernel "%pS" style: "fn+file:line". */
export function callerOf(stack: string | undefined): string {
  return userFrames(stack)[0] ?? '<unknown>';
}

/**
 * The `@offset=` of object reports: `p - slab_address(slab)` as the kernel prints it, i.e.
 * from the start of the slab's head page, not of the 4 KiB page `p` is in (they differ
 * for every object past the first page of a slab of order > 0). A tail page of a compound
 * slab holds its head's pfn in P_CACHE.
 */
export function slabOffset(a: ReportArena, p: number): number {
  let pfn = p >>> PAGE_SHIFT;
  if (pfn >= a.layout.maxPages) return p & (PAGE_SIZE - 1);
  // layout.ts headOfPage, but with an Atomics.load of the kind (headOfPage reads it plainly).
  const m = a.pm(pfn);
  if ((Atomics.load(a.i32, m + P_FLAGS) & PK_MASK) === PK_TAIL) pfn = a.i32[m + P_CACHE]!;
  return p - pfn * PAGE_SIZE;
}

/** What a ThreadReports reads of the arena (page metadata, for `@offset=`). */
export interface ReportArena {
  readonly i32: Int32Array;
  readonly metaW: number;
  readonly layout: { readonly maxPages: number };
  /** Word index of page pfn's metadata. */
  pm(pfn: number): number;
}

/** A WARN()/BUG report as a structured event. */
export interface SlabWarning {
  /** What happened: one of {@link SlabWarningKind} (the README's "Troubleshooting" lists them). */
  readonly kind: SlabWarningKind;
  /** The cache concerned, when there is one. */
  readonly cache?: string;
  /** The kernel's one-line text. */
  readonly message: string;
  /** The full report block. */
  readonly report: string;
  /** Thread slot (the {@link Arena.threadId} of the thread) that raised it. */
  readonly thread: number;
}

/** The cache a report names: any handle (slab/cache.ts Cache) has it. */
export interface ReportedCache {
  readonly cacheName: string;
}

/** Reports kept per thread (Arena.reports). */
const REPORT_LOG_MAX = 200;

/**
 * One thread's reporting: listeners, the report log, slab_errors and the taint. The Arena
 * creates it (Arena.reporter) and its onWarning/reports/slabErrors/taint delegate to it;
 * subsystems reach it through their host interfaces (slab/host.ts, debug/host.ts) and raise
 * reports on it directly.
 */
export class ThreadReports {
  private readonly listeners: ((w: SlabWarning) => void)[] = [];
  private slabErrorCount = 0;
  /** @internal */ readonly log: SlabWarning[] = [];

  /**
   * @param slot the thread's slot, stamped on every report
   * @param a the page metadata, for `@offset=`
   * @param cacheNameOf the canonical name of cache idx (the "Wrong slab cache" report names the owner)
   */
  constructor(
    private readonly slot: number,
    private readonly a: ReportArena,
    private readonly cacheNameOf: (idx: number) => string,
    onWarning?: (w: SlabWarning) => void,
  ) {
    if (onWarning) this.listeners.push(onWarning);
  }

  /** Subscribe to reports raised in this thread. Returns an unsubscribe function. */
  onWarning(fn: (w: SlabWarning) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Raise a report: logged, then given to the listeners (or process.emitWarning when there are none). */
  warn(kind: SlabWarningKind, cache: string | undefined, message: string, report: string): void {
    const w: { -readonly [K in keyof SlabWarning]: SlabWarning[K] } = { kind, message, report, thread: this.slot };
    if (cache !== undefined) w.cache = cache;
    this.log.push(w);
    if (this.log.length > REPORT_LOG_MAX) this.log.shift();
    if (this.listeners.length) {
      for (const fn of [...this.listeners]) fn(w);
    } else {
      const proc = (globalThis as { process?: { emitWarning?: (m: string, o: object) => void } }).process;
      proc?.emitWarning?.(message, { type: 'SlabrcuWarning', detail: report });
    }
  }

  /** Kernel taint string for BUG headers: "Not tainted" until the first BUG, then "Tainted: B". */
  taint(): string {
    return this.slabErrorCount === 0 ? 'Not tainted' : 'Tainted: B';
  }

  /** Count report lines the way kunit's slab_errors does. */
  countSlabError(n = 1): void {
    this.slabErrorCount += n;
  }

  /** Reports counted like the kernel's kunit `slab_errors` in this thread. */
  get slabErrors(): number {
    return this.slabErrorCount;
  }

  /** A free of an object that is already free (or cached in a sheaf). */
  reportDoubleFree(c: ReportedCache, ptr: number): void {
    const hdr = bugHeader(this, c.cacheName, 'Object already free');
    this.countSlabError(2);
    this.warn('double-free', c.cacheName, `${c.cacheName}: double free of object 0x${ptr.toString(16)}`,
      `${hdr}Object 0x${ptr.toString(16)} @offset=${slabOffset(this.a, ptr)}\n${userFrames(new Error().stack).slice(0, 8).join('\n')}\n` +
        fixLine(c.cacheName, `Object at 0x${ptr.toString(16)} not freed`));
  }

  /**
   * A free or kfreeRcu of an object whose state byte (OS_*, slab/objstate.ts) says it is
   * not the caller's to give: refused, nothing changed, one report.
   */
  reportStateMisuse(c: ReportedCache, ptr: number, op: 'free' | 'kfreeRcu', state: number): void {
    if (op === 'free' && (state === OS_FREE || state === OS_CACHED)) {
      this.reportDoubleFree(c, ptr);
      return;
    }
    const name = c.cacheName;
    const what =
      state === OS_RCU
        ? op === 'free' ? 'free of an object pending in kfree_rcu' : 'double kfree_rcu'
        : state === OS_QUAR ? `${op === 'free' ? 'free' : 'kfree_rcu'} of an object in the quarantine (already freed)`
          : state === OS_ALLOC ? 'object state corrupt' : 'kfree_rcu of a free object';
    const hdr = bugHeader(this, name, 'Object already free');
    this.countSlabError(2);
    this.warn('double-free', name, `${name}: double free of object 0x${ptr.toString(16)} (${what})`,
      `${hdr}Object 0x${ptr.toString(16)} @offset=${this.slabOffset(ptr)}: ${what}\n${userFrames(new Error().stack).slice(0, 8).join('\n')}\n` +
        fixLine(name, `Object at 0x${ptr.toString(16)} not ${op === 'free' ? 'freed' : 'queued'}`));
  }

  /** Offset of `ptr` within its slab (the kernel's `@offset=`: p - slab_address), for a pointer known to be in a slab. */
  slabOffset(ptr: number): number {
    return ptr - headPfnOf(this.a.i32, this.a.metaW, ptr) * PAGE_SIZE;
  }

  /** A free of a pointer that is no object (outside the arena, not a slab page, interior, another cache's). */
  reportInvalidFree(c: ReportedCache | undefined, ptr: number, why: string): void {
    const name = c?.cacheName ?? '<unknown>';
    const hdr = bugHeader(this, name, `Invalid object pointer 0x${Number(ptr).toString(16)}`);
    this.countSlabError(2);
    this.warn('invalid-free', c?.cacheName, `${c ? 'kmem_cache_free' : 'kfree'}: invalid pointer 0x${Number(ptr).toString(16)} (${why})`,
      `${hdr}Pointer 0x${Number(ptr).toString(16)}: ${why}\n${userFrames(new Error().stack).slice(0, 8).join('\n')}\n` +
        fixLine(name, `Object at 0x${Number(ptr).toString(16)} not freed`));
  }

  /** cache_from_obj's "Wrong slab cache" WARN. */
  reportWrongCache(c: ReportedCache, ownerIdx: number, ptr: number): void {
    const other = this.cacheNameOf(ownerIdx);
    const msg = `${c.cacheName}: Wrong slab cache. ${c.cacheName} but object is from ${other}`;
    this.countSlabError(1);
    this.warn('wrong-cache', c.cacheName, msg, `${msg}\nObject 0x${ptr.toString(16)}\n${userFrames(new Error().stack).slice(0, 8).join('\n')}\n`);
  }
}
