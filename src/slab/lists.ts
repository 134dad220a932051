/**
 * Slab lists of a cache (kernel: kmem_cache_node partial list, and the full list that
 * SLUB keeps with SLAB_STORE_USER; we keep it always so a leak can be listed in full).
 * Doubly linked through page metadata P_NEXT/P_PREV by pfn; heads in the descriptor.
 * Every function here runs under the cache's C_LOCK.
 */
import { pageMeta, Hot } from '../layout.js';

/** P_FLAGS bits above kind (bits 0-3, PK_MASK) and order (bits 4-7). */
export const ON_PARTIAL = 1 << 8;
export const ON_FULL = 1 << 9;

export function listAdd(i32: Int32Array, meta: number, d: number, full: boolean, pfn: number, tail: boolean): void {
  const hw = d + (full ? Hot.C_FULL_HEAD : Hot.C_PARTIAL_HEAD);
  const tw = d + (full ? Hot.C_FULL_TAIL : Hot.C_PARTIAL_TAIL);
  const m = pageMeta(meta, pfn);
  if (tail) {
    const t = i32[tw];
    i32[m + Hot.P_PREV] = t;
    i32[m + Hot.P_NEXT] = 0;
    if (t !== 0) i32[pageMeta(meta, t) + Hot.P_NEXT] = pfn;
    else i32[hw] = pfn;
    i32[tw] = pfn;
  } else {
    const h = i32[hw];
    i32[m + Hot.P_NEXT] = h;
    i32[m + Hot.P_PREV] = 0;
    if (h !== 0) i32[pageMeta(meta, h) + Hot.P_PREV] = pfn;
    else i32[tw] = pfn;
    i32[hw] = pfn;
  }
  i32[m + Hot.P_FLAGS] |= full ? ON_FULL : ON_PARTIAL;
  if (!full) i32[d + Hot.C_NR_PARTIAL]++;
}

export function listDel(i32: Int32Array, meta: number, d: number, pfn: number): void {
  const m = pageMeta(meta, pfn);
  const f = i32[m + Hot.P_FLAGS];
  const full = (f & ON_FULL) !== 0;
  if (!full && (f & ON_PARTIAL) === 0) return;
  const hw = d + (full ? Hot.C_FULL_HEAD : Hot.C_PARTIAL_HEAD);
  const tw = d + (full ? Hot.C_FULL_TAIL : Hot.C_PARTIAL_TAIL);
  const next = i32[m + Hot.P_NEXT];
  const prev = i32[m + Hot.P_PREV];
  if (prev !== 0) i32[pageMeta(meta, prev) + Hot.P_NEXT] = next;
  else i32[hw] = next;
  if (next !== 0) i32[pageMeta(meta, next) + Hot.P_PREV] = prev;
  else i32[tw] = prev;
  i32[m + Hot.P_NEXT] = 0;
  i32[m + Hot.P_PREV] = 0;
  i32[m + Hot.P_FLAGS] = f & ~(ON_FULL | ON_PARTIAL);
  if (!full) i32[d + Hot.C_NR_PARTIAL]--;
}

/** pfns on a list, head to tail. */
export function listPfns(i32: Int32Array, meta: number, d: number, full: boolean): number[] {
  const out: number[] = [];
  for (let p = i32[d + (full ? Hot.C_FULL_HEAD : Hot.C_PARTIAL_HEAD)]; p !== 0; p = i32[pageMeta(meta, p) + Hot.P_NEXT]) out.push(p);
  return out;
}
