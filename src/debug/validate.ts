/**
 * validate_slab_cache (mm/slub.c validate_slab_cache / validate_slab_node /
 * validate_slab): flush this thread's sheaves, then, under the cache's list_lock, walk
 * every slab on the partial and full lists: check_slab, on_freelist (which repairs the
 * freelist and the in-use count), then check_object on every object, as inactive if it
 * is on the freelist, quarantined if it carries the quarantine marker, active otherwise.
 * Bytes found wrong are restored, so a second validate finds nothing (kunit
 * test_next_pointer relies on this).
 *
 * Before that, the lists themselves are checked (checkLists): a cycle, a page on both
 * lists or twice, a page that is not a slab of this cache (a free buddy block, another
 * cache's slab), list bits that disagree with the list, nr_partial and nr_slabs against
 * the lists, and per slab the freelist against the object-state bytes and P_INUSE.
 * Broken lists are reported, then rebuilt from the object states (slab/repair.ts), so
 * the walk that follows is over sane lists and a second validate finds nothing.
 *
 * The result's `errors` is the number of reports counted the way kunit's slab_errors
 * counts them (arena.reporter.slabErrors before and after).
 */
import {
  C_FULL_HEAD, C_LOCK, C_NR_PARTIAL, C_NR_SLABS, C_PARTIAL_HEAD, OS_FREE, P_CACHE, P_FLAGS, P_FREELIST, P_INUSE, P_NEXT,
  PAGE_SHIFT, PK_MASK, PK_SLAB,
} from '../layout.js';
import { rebuildCacheLists } from '../slab/repair.js';
import { stateAddr } from '../slab/objstate.js';
import { ON_FULL, ON_PARTIAL } from '../slab/lists.js';
import type { Cache } from '../slab/cache.js';
import { listAdd, listDel, listPfns } from '../slab/lists.js';
import { lock, unlock } from '../sync/mutex.js';
import { Mode } from './checks.js';
import { geoOf, type Geo } from './geometry.js';
import type { ValidateResult } from './hooks.js';
import type { SlubDebug } from './index.js';
import { quarantineMarker } from './layout.js';

export function validateCache(dbg: SlubDebug, c: Cache): ValidateResult {
  const a = dbg.a;
  const i32 = a.i32;
  const g = geoOf(c);
  const r = dbg.reporter;
  const result: ValidateResult = { errors: 0, objects: 0, slabs: 0, reports: [] };
  const before = a.reporter.slabErrors;
  const prevCollector = r.collector;
  r.collector = result.reports;
  try {
    a.slab.flushCpu(c);
    lock(i32, c.d + C_LOCK);
    try {
      const problems = checkLists(dbg, c);
      for (const p of problems) r.line('slab-error', c, `SLUB ${c.cacheName}: ${p}`, 1);
      if (problems.length > 0) {
        const rb = rebuildCacheLists({ i32, u8: a.u8, metaW: a.metaW, firstPage: a.layout.firstPage, nrPages: a.pages.nrPages }, c);
        r.line('slab-error', c, `FIX ${c.cacheName}: slab lists rebuilt from the object states (${rb.slabs} slabs, ${rb.partial} partial)`, 0);
      }
      const partial = listPfns(i32, a.metaW, c.d, false);
      for (const pfn of partial) validateSlab(dbg, g, pfn, result);
      if (partial.length !== i32[c.d + C_NR_PARTIAL]) {
        r.line('slab-error', c, `SLUB ${c.cacheName}: ${partial.length} partial slabs counted but counter=${i32[c.d + C_NR_PARTIAL]}`, 1);
      }
      const full = listPfns(i32, a.metaW, c.d, true);
      for (const pfn of full) validateSlab(dbg, g, pfn, result);
      const counted = partial.length + full.length;
      if (counted !== i32[c.d + C_NR_SLABS]) {
        r.line('slab-error', c, `SLUB: ${c.cacheName} ${counted} slabs counted but counter=${i32[c.d + C_NR_SLABS]}`, 1);
      }
      result.slabs = partial.length + full.length;
      // Repairs can change where a slab belongs: never leave a slab without free
      // objects on the partial list (the allocator would take it), nor one with free
      // objects on the full list (they would be lost to it).
      for (const pfn of partial) {
        if (i32[a.pm(pfn) + P_FREELIST] === 0) {
          listDel(i32, a.metaW, c.d, pfn);
          listAdd(i32, a.metaW, c.d, true, pfn, false);
        }
      }
      for (const pfn of full) {
        const m = a.pm(pfn);
        if (i32[m + P_FREELIST] !== 0 && i32[m + P_INUSE]! < c.objects) {
          listDel(i32, a.metaW, c.d, pfn);
          listAdd(i32, a.metaW, c.d, false, pfn, true);
        }
      }
    } finally {
      unlock(i32, c.d + C_LOCK);
    }
  } finally {
    r.collector = prevCollector;
  }
  result.errors = a.reporter.slabErrors - before;
  return result;
}

/**
 * The structure of cache c's slab lists (under its C_LOCK): every problem as one line.
 * Walks are bounded by the number of pages, so a cycle ends them.
 */
function checkLists(dbg: SlubDebug, c: Cache): string[] {
  const a = dbg.a;
  const i32 = a.i32;
  const u8 = a.u8;
  const out: string[] = [];
  const seen = new Map<number, string>();
  const maxWalk = a.pages.nrPages + 1;
  const hex = (pfn: number): string => `0x${(pfn << PAGE_SHIFT).toString(16)}`;
  for (const [name, head, bit] of [['partial', C_PARTIAL_HEAD, ON_PARTIAL], ['full', C_FULL_HEAD, ON_FULL]] as const) {
    let n = 0;
    for (let p = i32[c.d + head]!; p !== 0; p = i32[a.pm(p) + P_NEXT]!) {
      if (++n > maxWalk || seen.get(p) === name) {
        out.push(`${name} list has a cycle at slab ${hex(p)}`);
        break;
      }
      if (seen.has(p)) {
        out.push(`slab ${hex(p)} is on both the ${seen.get(p)} and the ${name} list`);
        break;
      }
      seen.set(p, name);
      const m = a.pm(p);
      const f = i32[m + P_FLAGS]!;
      if ((f & PK_MASK) !== PK_SLAB || i32[m + P_CACHE] !== c.idx) {
        out.push(`page ${hex(p)} on the ${name} list is not a slab of this cache (kind ${f & PK_MASK}, cache ${i32[m + P_CACHE]})`);
        break;
      }
      if ((f & bit) === 0) out.push(`slab ${hex(p)} on the ${name} list lacks its list bit`);
      // A debug cache's freelist is on_freelist's to check and repair, with the kernel's
      // reports (Freechain corrupt, Wrong object count): only the lists are checked here.
      if (c.debug) continue;
      // The freelist against the object states and the in-use count.
      const first = (p << PAGE_SHIFT) + c.redLeftPad;
      let nfree = 0;
      for (let o = i32[m + P_FREELIST]!; o !== 0 && nfree <= c.objects; o = i32[(o + c.fp) >> 2]!) {
        const k = (o - first) / c.size;
        if (!Number.isInteger(k) || k < 0 || k >= c.objects) {
          nfree = -1;
          break;
        }
        if (u8[stateAddr(c.stGeo, p, k)] !== OS_FREE) {
          nfree = -2;
          break;
        }
        nfree++;
      }
      let stateFree = 0;
      for (let k = 0; k < c.objects; k++) if (u8[stateAddr(c.stGeo, p, k)] === OS_FREE) stateFree++;
      if (nfree === -1 || nfree > c.objects) out.push(`slab ${hex(p)}: freelist leaves the slab`);
      else if (nfree === -2) out.push(`slab ${hex(p)}: freelist holds an object that is not free`);
      else if (nfree !== stateFree) out.push(`slab ${hex(p)}: ${nfree} objects on the freelist but ${stateFree} free`);
      else if (i32[m + P_INUSE] !== c.objects - nfree) out.push(`slab ${hex(p)}: inuse ${i32[m + P_INUSE]} but ${c.objects - nfree} objects are not free`);
      else if ((name === 'full') !== (nfree === 0)) out.push(`slab ${hex(p)} with ${nfree} free objects is on the ${name} list`);
    }
  }
  let np = 0;
  for (const v of seen.values()) if (v === 'partial') np++;
  if (out.length === 0 && np !== i32[c.d + C_NR_PARTIAL]) out.push(`${np} partial slabs on the list but nr_partial=${i32[c.d + C_NR_PARTIAL]}`);
  if (out.length === 0 && seen.size !== i32[c.d + C_NR_SLABS]) out.push(`${seen.size} slabs on the lists but nr_slabs=${i32[c.d + C_NR_SLABS]}`);
  return out;
}

/** validate_slab. */
function validateSlab(dbg: SlubDebug, g: Geo, pfn: number, result: ValidateResult): void {
  const ck = dbg.checker;
  if (!ck.checkSlab(g, pfn) || !ck.onFreelist(g, pfn, 0)) return;
  const free = ck.freeSet(g, pfn);
  const i32 = dbg.a.i32;
  const q = dbg.quarantine !== undefined;
  const first = g.first(pfn);
  for (let k = 0; k < g.objects; k++) {
    const p = first + k * g.size;
    result.objects++;
    let mode = Mode.Active;
    if (free.has(p)) mode = Mode.Inactive;
    else if (q && Atomics.load(i32, (p + g.fp) >> 2) === quarantineMarker(p)) mode = Mode.Quarantined;
    if (mode === Mode.Quarantined) ck.bytesKind = 'use-after-free';
    try {
      if (!ck.checkObject(g, pfn, p, mode)) break;
    } finally {
      ck.bytesKind = 'slab-error';
    }
  }
}
