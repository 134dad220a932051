/**
 * Shared helpers for the slab tests: slabinfo parsing, object patterns, warnings,
 * workers. (This file is also picked up by `node --test dist/test/` as a "test file";
 * it only defines functions, so running it does nothing.)
 */
import { Worker } from 'node:worker_threads';
import type { Arena, SlabWarning } from '../../src/index.js';

export interface SlabinfoRow {
  name: string;
  active: number;
  num: number;
  objsize: number;
  perSlab: number;
  pagesPerSlab: number;
  activeSlabs: number;
  numSlabs: number;
  sharedAvail: number;
  line: string;
}

export const SLABINFO_HEAD1 = 'slabinfo - version: 2.1';
export const SLABINFO_HEAD2 =
  '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>';

const ROW = /^(\S+)\s+(\d+) +(\d+) +(\d+) +(\d+) +(\d+) : tunables +0 +0 +0 : slabdata +(\d+) +(\d+) +(\d+)$/;

/** Parse /proc/slabinfo text into rows keyed by cache name (throws on any malformed line). */
export function parseSlabinfo(text: string): Map<string, SlabinfoRow> {
  const lines = text.split('\n');
  if (lines[0] !== SLABINFO_HEAD1) throw new Error(`slabinfo: bad first header line: ${JSON.stringify(lines[0])}`);
  if (lines[1] !== SLABINFO_HEAD2) throw new Error(`slabinfo: bad second header line: ${JSON.stringify(lines[1])}`);
  if (lines[lines.length - 1] !== '') throw new Error('slabinfo: text must end with a newline');
  const out = new Map<string, SlabinfoRow>();
  for (const line of lines.slice(2, -1)) {
    const m = ROW.exec(line);
    if (!m) throw new Error(`slabinfo: malformed row: ${JSON.stringify(line)}`);
    const n = (k: number): number => Number(m[k]);
    if (out.has(m[1]!)) throw new Error(`slabinfo: cache ${m[1]} listed twice`);
    out.set(m[1]!, {
      name: m[1]!, active: n(2), num: n(3), objsize: n(4), perSlab: n(5), pagesPerSlab: n(6),
      activeSlabs: n(7), numSlabs: n(8), sharedAvail: n(9), line,
    });
  }
  return out;
}

/** printf-style right/left padding, to build expected slabinfo rows independently. */
export const rpad = (v: string | number, w: number): string => String(v).padStart(w, ' ');
export const lpad = (v: string | number, w: number): string => String(v).padEnd(w, ' ');

/** The row the kernel's cache_show() prints: "%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u : slabdata %6lu %6lu %6lu". */
export function expectedRow(name: string, active: number, num: number, objsize: number, perSlab: number, pages: number, slabs: number): string {
  return `${lpad(name, 17)} ${rpad(active, 6)} ${rpad(num, 6)} ${rpad(objsize, 6)} ${rpad(perSlab, 4)} ${rpad(pages, 4)}` +
    ` : tunables ${rpad(0, 4)} ${rpad(0, 4)} ${rpad(0, 4)} : slabdata ${rpad(slabs, 6)} ${rpad(slabs, 6)} ${rpad(0, 6)}`;
}

/** Fill [ptr, ptr+size) with a pattern derived from `tag` (first word = tag, then tag-derived bytes). */
export function fillPattern(a: Arena, ptr: number, size: number, tag: number): void {
  const u8 = a.u8;
  const b = (tag * 131 + 7) & 0xff;
  u8.fill(b, ptr, ptr + size);
  if (size >= 4) a.dv.setUint32(ptr, tag >>> 0, true);
}

/** True if [ptr, ptr+size) still holds fillPattern(tag). */
export function checkPattern(a: Arena, ptr: number, size: number, tag: number): boolean {
  const u8 = a.u8;
  const b = (tag * 131 + 7) & 0xff;
  let k = 0;
  if (size >= 4) {
    if (a.dv.getUint32(ptr, true) !== tag >>> 0) return false;
    k = 4;
  }
  for (; k < size; k++) if (u8[ptr + k] !== b) return false;
  return true;
}

/** Collect warnings raised in this thread while fn runs (listener removed afterwards). */
export function withWarnings<T>(a: Arena, fn: () => T): { result: T; warnings: SlabWarning[] } {
  const warnings: SlabWarning[] = [];
  const off = a.onWarning((w) => warnings.push(w));
  try {
    return { result: fn(), warnings };
  } finally {
    off();
  }
}

/** A compiled worker script next to the compiled tests (dist/test/workers/<name>.js). */
export function workerUrl(name: string): URL {
  return new URL(`../workers/${name}.js`, import.meta.url);
}

/**
 * A worker whose messages and exit are recorded from the moment it is created, so none
 * can be missed however the test awaits them (an 'exit' listener attached after the
 * fact would wait forever).
 */
export class TestWorker {
  readonly w: Worker;
  private readonly queue: unknown[] = [];
  private waiting: ((m: unknown) => void) | undefined;
  private failure: Error | undefined;
  private failWaiting: ((e: Error) => void) | undefined;
  /** Resolves with the exit code; rejects if the worker threw or exited with a non-zero code. */
  readonly exited: Promise<number>;

  constructor(url: URL, workerData: unknown) {
    this.w = new Worker(url, { workerData });
    let error: Error | undefined;
    this.w.on('error', (e: Error) => { error = e; });
    this.w.on('message', (m: unknown) => {
      if (this.waiting) {
        const f = this.waiting;
        this.waiting = undefined;
        this.failWaiting = undefined;
        f(m);
      } else this.queue.push(m);
    });
    this.exited = new Promise<number>((resolve, reject) => {
      this.w.once('exit', (code: number) => {
        const e = error ?? (code !== 0 ? new Error(`worker exited with code ${code}`) : undefined);
        this.failure = e ?? new Error(`worker exited (code ${code}) before sending the message awaited`);
        if (this.failWaiting) {
          const f = this.failWaiting;
          this.waiting = undefined;
          this.failWaiting = undefined;
          f(this.failure);
        }
        if (e) reject(e);
        else resolve(code);
      });
    });
    this.exited.catch(() => {}); // observed by whoever awaits it
  }

  /** The next message (in order); rejects if the worker is gone and none is queued. */
  next<T = unknown>(): Promise<T> {
    if (this.queue.length) return Promise.resolve(this.queue.shift() as T);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.waiting = resolve as (m: unknown) => void;
      this.failWaiting = reject;
    });
  }

  /** Wait for a clean exit (code 0, no error). */
  async join(): Promise<void> {
    await this.exited;
  }
}

/** Every slab cache's active count in slabinfo (name -> active). */
export function activeByName(a: Arena): Map<string, number> {
  const m = new Map<string, number>();
  for (const [k, v] of parseSlabinfo(a.slabinfo())) m.set(k, v.active);
  return m;
}

/** Small deterministic PRNG (mulberry32) for tests that need varied but reproducible data. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export { Worker };
