/**
 * Kernel report shapes (mm/slub.c __slab_bug / slab_fix, kernel/panic.c print_tainted)
 * and caller lookup (%pS of _RET_IP_).
 */
import type { Arena } from './arena.js';
import { P_CACHE, P_FLAGS, PAGE_SHIFT, PAGE_SIZE, PK_MASK, PK_TAIL } from './layout.js';

export const BANNER_EQ = '='.repeat(77);
export const BANNER_DASH = '-'.repeat(77);

/**
 * "=====\nBUG <cache> (<taint>): <msg>\n-----\n\n". The first BUG of an arena prints
 * "Not tainted"; afterwards the arena is tainted B (TAINT_BAD_PAGE), as in the kernel.
 */
export function bugHeader(a: Pick<Arena, 'taint'>, cache: string, msg: string): string {
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
export function slabOffset(a: Arena, p: number): number {
  let pfn = p >>> PAGE_SHIFT;
  if (pfn >= a.layout.maxPages) return p & (PAGE_SIZE - 1);
  // layout.ts headOfPage, but with an Atomics.load of the kind (headOfPage reads it plainly).
  const m = a.pm(pfn);
  if ((Atomics.load(a.i32, m + P_FLAGS) & PK_MASK) === PK_TAIL) pfn = a.i32[m + P_CACHE]!;
  return p - pfn * PAGE_SIZE;
}
