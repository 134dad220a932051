/**
 * Stack depot (kernel: lib/stackdepot.c, stack_depot_save / stack_depot_fetch /
 * stack_depot_print): deduplicated stack traces in shared memory, referenced from the
 * alloc/free tracks of objects by a 32-bit handle, readable by every thread.
 *
 * A trace is the list of frames of `new Error().stack` outside this library (the
 * kernel skips the allocator's own frames with stack_trace_save's `skipnr`), joined by
 * '\n', at most MAX_FRAMES frames and MAX_CHARS UTF-16 units.
 *
 * Record layout (in PK_PAGES blocks tagged DEPOT_PAGE_TAG), at a 4-aligned byte offset
 * that is the record's handle:
 *   word 0  DEPOT_MAGIC
 *   word 1  next record in the same hash bucket (handle, 0 = end)
 *   word 2  hash (FNV-1a of the text)
 *   word 3  length in UTF-16 units
 *   then the text as UTF-16 units, padded to 4 bytes.
 *
 * Concurrency: inserting takes D_DEPOT_LOCK (lookups of a new text too, so two threads
 * never store the same trace twice). A record is written completely before its handle is
 * published (Atomics.store of the bucket head, then the unlock), and it never changes
 * afterwards; a handle reaches another thread only through a track word written under a
 * cache's list_lock or through the quarantine lock, so that thread's reads of the record
 * happen after the writes. Like the kernel's non-evictable depot, records are never
 * freed: a program has a bounded number of distinct allocation sites.
 *
 * Each thread keeps a small Map from the raw stack string to its handle, so a call
 * site seen before costs one `Error().stack` and one Map lookup, no lock.
 */
import type { DebugHost } from './host.js';
import { headPfnOf, P_CACHE, P_FLAGS, PAGE_SHIFT, PAGE_SIZE, PK_MASK, PK_PAGES, pageFlags } from '../layout.js';
import { userFrames } from '../report.js';
import { lock, unlock } from '../sync/mutex.js';
import {
  D_BUCKETS, D_DEPOT_BYTES, D_DEPOT_END, D_DEPOT_LOCK, D_DEPOT_POOL, D_DEPOT_RECORDS, D_DEPOT_USED, DEPOT_BUCKETS,
  DEPOT_PAGE_TAG,
} from './layout.js';

export const DEPOT_MAGIC = 0x44505453; // 'STPD'
export const MAX_FRAMES = 16; // kernel: TRACK_ADDRS_COUNT
export const MAX_CHARS = 2048;
const POOL_ORDER = 2; // 16 KiB blocks: a full-size record (16 + 4096 bytes) always fits
const LOCAL_CACHE_MAX = 4096;
/**
 * Room for our own frames above the caller when no entry function cuts them off (e.g.
 * kfree -> Cache.free -> freeChecked -> freeSlow -> freeLocked -> beforeFree -> setTrack
 * -> capture). Below the entry, only a couple of ours remain (Arena.kmalloc ->
 * Kmalloc.kmalloc). V8 pays per captured frame, so the limits are kept tight.
 */
const OWN_FRAMES = 10;
const OWN_BELOW_ENTRY = 3;

interface CallSite {
  getFileName(): string | null | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
}

interface V8ErrorConstructor {
  captureStackTrace?: (o: object, fn?: Function) => void;
  prepareStackTrace?: (e: Error, sites: CallSite[]) => unknown;
  stackTraceLimit?: number;
}

const callSites = (_e: Error, sites: CallSite[]): unknown => sites;

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

export class StackDepot {
  private readonly i32: Int32Array;
  private readonly u16: Uint16Array;
  private readonly base: number; // word index of the debug region
  private readonly local = new Map<string, number>();

  constructor(private readonly a: DebugHost) {
    this.i32 = a.i32;
    this.u16 = new Uint16Array(a.sab);
    this.base = a.layout.debugBase >> 2;
  }

  /**
   * set_track_prepare: capture the caller's stack and store it. Returns a handle (0 if
   * the depot is full). On V8 the frames are taken as CallSite objects and keyed by
   * file:line:column, which costs a fraction of formatting `Error().stack`; the text is
   * formatted only the first time a stack is seen. Elsewhere, `new Error().stack`.
   */
  capture(entry?: Function): number {
    const E = Error as unknown as V8ErrorConstructor;
    if (typeof E.captureStackTrace !== 'function') return this.captureText();
    const oldPrep = E.prepareStackTrace;
    const oldLimit = E.stackTraceLimit;
    E.prepareStackTrace = callSites;
    E.stackTraceLimit = (entry ? OWN_BELOW_ENTRY : OWN_FRAMES) + MAX_FRAMES;
    const holder: { stack?: unknown } = {};
    let sites: unknown;
    try {
      // Frames above `entry` (the allocator's public method, when it is on the stack) are
      // ours: V8 does not materialize them, which is most of the cost.
      E.captureStackTrace(holder, entry ?? StackDepot.prototype.capture);
      sites = holder.stack;
      if (entry && Array.isArray(sites) && sites.length === 0) {
        E.stackTraceLimit = OWN_FRAMES + MAX_FRAMES;
        E.captureStackTrace(holder, StackDepot.prototype.capture);
        sites = holder.stack;
      }
    } finally {
      E.prepareStackTrace = oldPrep;
      E.stackTraceLimit = oldLimit;
    }
    if (!Array.isArray(sites)) return this.captureText();
    let key = '';
    for (const cs of sites as CallSite[]) key += `${cs.getFileName()}:${cs.getLineNumber()}:${cs.getColumnNumber()};`;
    const hit = this.local.get(key);
    if (hit !== undefined) return hit;
    const text = 'Error\n' + (sites as CallSite[]).map((cs) => `    at ${String(cs)}`).join('\n');
    return this.remember(key, text);
  }

  private captureText(): number {
    const E = Error as { stackTraceLimit?: number };
    const old = E.stackTraceLimit;
    E.stackTraceLimit = OWN_FRAMES + MAX_FRAMES;
    const raw = new Error().stack ?? '';
    E.stackTraceLimit = old;
    const hit = this.local.get(raw);
    return hit !== undefined ? hit : this.remember(raw, raw);
  }

  private remember(key: string, stackText: string): number {
    const h = this.save(userFrames(stackText).slice(0, MAX_FRAMES).join('\n'));
    if (h !== 0) {
      if (this.local.size >= LOCAL_CACHE_MAX) this.local.clear();
      this.local.set(key, h);
    }
    return h;
  }

  /** stack_depot_save: store `text` (deduplicated). Returns its handle, 0 when out of memory. */
  save(text: string): number {
    if (text.length > MAX_CHARS) text = text.slice(0, MAX_CHARS);
    const i32 = this.i32;
    const b = this.base;
    const hash = fnv1a(text);
    const bw = b + D_BUCKETS + (hash & (DEPOT_BUCKETS - 1));
    lock(i32, b + D_DEPOT_LOCK);
    try {
      for (let r = Atomics.load(i32, bw); r !== 0; r = i32[(r >> 2) + 1]!) {
        if (i32[(r >> 2) + 2] === hash && this.textAt(r) === text) return r;
      }
      const bytes = 16 + ((text.length * 2 + 3) & ~3);
      if (i32[b + D_DEPOT_POOL] === 0 || i32[b + D_DEPOT_USED]! + bytes > i32[b + D_DEPOT_END]!) {
        if (!this.newPool()) return 0;
      }
      const rec = i32[b + D_DEPOT_POOL]! + i32[b + D_DEPOT_USED]!;
      i32[b + D_DEPOT_USED] = i32[b + D_DEPOT_USED]! + bytes;
      const w = rec >> 2;
      i32[w] = DEPOT_MAGIC;
      i32[w + 1] = Atomics.load(i32, bw);
      i32[w + 2] = hash;
      i32[w + 3] = text.length;
      const u = (rec + 16) >> 1;
      for (let k = 0; k < text.length; k++) this.u16[u + k] = text.charCodeAt(k);
      Atomics.store(i32, bw, rec);
      i32[b + D_DEPOT_RECORDS]!++;
      return rec;
    } finally {
      unlock(i32, b + D_DEPOT_LOCK);
    }
  }

  /** A new pool block from the page allocator (under D_DEPOT_LOCK). */
  private newPool(): boolean {
    const a = this.a;
    const pfn = a.pages.alloc(POOL_ORDER);
    if (pfn === 0) return false;
    const m = a.pm(pfn);
    a.i32[m + P_CACHE] = DEPOT_PAGE_TAG;
    a.pages.markTails(pfn, POOL_ORDER);
    Atomics.store(a.i32, m + P_FLAGS, pageFlags(PK_PAGES, POOL_ORDER));
    const b = this.base;
    this.i32[b + D_DEPOT_POOL] = pfn << PAGE_SHIFT;
    this.i32[b + D_DEPOT_USED] = 0;
    this.i32[b + D_DEPOT_END] = PAGE_SIZE << POOL_ORDER;
    this.i32[b + D_DEPOT_BYTES] = this.i32[b + D_DEPOT_BYTES]! + (PAGE_SIZE << POOL_ORDER);
    return true;
  }

  private textAt(r: number): string {
    const len = this.i32[(r >> 2) + 3]!;
    const u = (r + 16) >> 1;
    let s = '';
    for (let k = 0; k < len; k += 1024) s += String.fromCharCode(...this.u16.subarray(u + k, u + Math.min(len, k + 1024)));
    return s;
  }

  /**
   * True if `h` is the handle of a stored record. Tracks can be overwritten by a buggy
   * program (an overflow into the metadata), so a handle read from a track is checked
   * before it is followed.
   */
  isValid(h: number): boolean {
    const a = this.a;
    if (!Number.isInteger(h) || h <= 0 || (h & 3) !== 0 || h + 16 > a.committedBytes()) return false;
    const pfn = headPfnOf(a.i32, a.metaW, h);
    const m = a.pm(pfn);
    if ((a.i32[m + P_FLAGS]! & PK_MASK) !== PK_PAGES || a.i32[m + P_CACHE] !== DEPOT_PAGE_TAG) return false;
    const len = a.i32[(h >> 2) + 3]!;
    return a.i32[h >> 2] === DEPOT_MAGIC && len >= 0 && len <= MAX_CHARS && h + 16 + len * 2 <= ((pfn << PAGE_SHIFT) + (PAGE_SIZE << POOL_ORDER));
  }

  /** stack_depot_fetch: the frames of a handle (empty if the handle is not valid). */
  fetch(h: number): string[] {
    if (!this.isValid(h)) return [];
    const t = this.textAt(h);
    return t === '' ? [] : t.split('\n');
  }

  /** Depot statistics (records stored, bytes of pages taken). */
  stats(): { records: number; bytes: number } {
    const i32 = this.i32;
    const b = this.base;
    lock(i32, b + D_DEPOT_LOCK);
    try {
      return { records: i32[b + D_DEPOT_RECORDS]!, bytes: i32[b + D_DEPOT_BYTES]! };
    } finally {
      unlock(i32, b + D_DEPOT_LOCK);
    }
  }
}
