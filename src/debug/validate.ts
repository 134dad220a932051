/**
 * validate_slab_cache (mm/slub.c validate_slab_cache / validate_slab_node /
 * validate_slab): flush this thread's cpu slab, then, under the cache's list_lock, walk
 * every slab on the partial and full lists: check_slab, on_freelist (which repairs the
 * freelist and the in-use count), then check_object on every object, as inactive if it
 * is on the freelist, quarantined if it carries the quarantine marker, active otherwise.
 * Bytes found wrong are restored, so a second validate finds nothing (kunit
 * test_next_pointer relies on this).
 *
 * Other threads' cpu slabs (frozen, owned by them) cannot be walked without them; they
 * are counted so the slab totals still add up. Debug caches never have any.
 *
 * The result's `errors` is the number of reports counted the way kunit's slab_errors
 * counts them (arena.slabErrors before and after).
 */
import { C_LOCK, C_NR_PARTIAL, C_NR_SLABS, P_FREELIST, P_INUSE, R_SLAB } from '../layout.js';
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
  const before = a.slabErrors;
  const prevCollector = r.collector;
  r.collector = result.reports;
  try {
    a.slab.flushCpu(c);
    lock(i32, c.d + C_LOCK);
    try {
      const partial = listPfns(i32, a.metaW, c.d, false);
      for (const pfn of partial) validateSlab(dbg, g, pfn, result);
      if (partial.length !== i32[c.d + C_NR_PARTIAL]) {
        r.line('slab-error', c, `SLUB ${c.cacheName}: ${partial.length} partial slabs counted but counter=${i32[c.d + C_NR_PARTIAL]}`, 1);
      }
      const full = listPfns(i32, a.metaW, c.d, true);
      for (const pfn of full) validateSlab(dbg, g, pfn, result);
      let frozen = 0;
      for (let s = 0; s < a.layout.maxThreads; s++) {
        const p = i32[a.recW(s, c.idx) + R_SLAB]!;
        if (p !== 0) frozen++;
      }
      const counted = partial.length + full.length + frozen;
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
  result.errors = a.slabErrors - before;
  return result;
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
