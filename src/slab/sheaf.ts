/**
 * Percpu sheaves (kernel: struct slab_sheaf, struct slub_percpu_sheaves): a sheaf is a
 * kmalloc object of SH_HDR + 4 * capacity bytes, a header (SH_COUNT, SH_CAP, SH_CACHE)
 * and the object slots, used as a LIFO. Each thread's cpu record of a cache holds a main
 * sheaf (R_SHEAF / R_SHEAF_TOP / R_SHEAF_LIM, the fast paths' words) and a spare
 * (R_SPARE); the barn (barn.ts) holds the others.
 *
 * Record words (owner-only, plain stores; others read them only once the owner is dead):
 * - R_SHEAF: byte address of the main sheaf's first slot (header SH_HDR bytes before).
 * - R_SHEAF_TOP: word index of the next free slot; 0 = no main sheaf. Written last when a
 *   sheaf is attached and first when it is detached, so a thread stopped in between
 *   leaves a record that says "no main sheaf" (that sheaf is lost with the thread, never
 *   seen twice).
 * - R_SHEAF_LIM: word index one past the last slot; 0 with no main sheaf.
 * - R_SPARE: header address of the spare sheaf, whose SH_COUNT is exact; 0 if none.
 * While a sheaf is main its SH_COUNT is stale; detaching writes it from R_SHEAF_TOP.
 *
 * Storage comes from the kmalloc cache of its size through that cache's locked path
 * (never its own sheaves, so a kmalloc cache's sheaf never needs a sheaf), with no
 * memory-pressure reclaim (which could re-enter the caller's sheaf code). It is not
 * counted in that cache's allocation counters (stats().objects, slabinfo active_objs
 * count what users allocated); its slabs and pages are counted as usual.
 */
import type { SlabHost } from './host.js';
import { Hot } from '../layout.js';
import type { Cache } from './cache.js';

export class Sheaves {
  constructor(private readonly a: SlabHost) {}

  /** alloc_empty_sheaf: a new empty sheaf for cache c, 0 if no memory. */
  alloc(c: Cache): number {
    const a = this.a;
    const kc = a.kmallocs.cacheFor(Hot.SH_HDR + 4 * c.sheafCap);
    if (!kc.allocOk()) return 0;
    const s = a.slab.allocLocked(kc, false, false); // storage, not counted as the kmalloc cache's objects
    if (s === 0) return 0;
    const i32 = a.i32;
    const h = s >> 2;
    i32[h + Hot.SH_COUNT] = 0;
    i32[h + Hot.SH_CAP] = c.sheafCap;
    i32[h + Hot.SH_CACHE] = c.idx + 1;
    Atomics.add(i32, c.d + Hot.C_ST_BASE + Hot.ST_SHEAF_ALLOC, 1);
    return s;
  }

  /** free_empty_sheaf: give an (emptied) sheaf's storage back. */
  free(c: Cache, s: number): void {
    const a = this.a;
    const kc = a.kmallocs.cacheFor(Hot.SH_HDR + 4 * c.sheafCap);
    a.slab.freeToSlab(kc, s, Hot.OS_ALLOC, true, false);
    Atomics.add(a.i32, c.d + Hot.C_ST_BASE + Hot.ST_SHEAF_FREE, 1);
  }

  /** Make sheaf `s` (header address, SH_COUNT exact) the main sheaf of this thread's record; R_SHEAF_TOP last. */
  attachMain(c: Cache, s: number): void {
    const i32 = this.a.i32;
    const r = c.rec;
    const h = s >> 2;
    const base = h + (Hot.SH_HDR >> 2);
    const n = i32[h + Hot.SH_COUNT]!;
    i32[r + Hot.R_SHEAF] = s + Hot.SH_HDR;
    i32[r + Hot.R_SHEAF_LIM] = base + c.sheafCap;
    i32[r + Hot.R_SHEAF_TOP] = base + n;
  }

  /** Take this thread's main sheaf out of its record (SH_COUNT written first). 0 if none. */
  detachMain(c: Cache): number {
    return this.detachRecordMain(c, c.rec);
  }

  /**
   * Take record `rec`'s main sheaf out (ours, or a dead thread's): SH_COUNT from the top,
   * then R_SHEAF_TOP = 0 first. A torn record (top outside the sheaf) counts as none.
   */
  detachRecordMain(c: Cache, rec: number): number {
    const i32 = this.a.i32;
    const top = i32[rec + Hot.R_SHEAF_TOP]!;
    const slots = i32[rec + Hot.R_SHEAF]!;
    i32[rec + Hot.R_SHEAF_TOP] = 0;
    i32[rec + Hot.R_SHEAF_LIM] = 0;
    i32[rec + Hot.R_SHEAF] = 0;
    if (top === 0 || slots === 0) return 0;
    const s = slots - Hot.SH_HDR;
    const h = s >> 2;
    const n = top - (slots >> 2);
    if (n < 0 || n > i32[h + Hot.SH_CAP]! || i32[h + Hot.SH_CACHE] !== c.idx + 1) return 0;
    i32[h + Hot.SH_COUNT] = n;
    return s;
  }

  /**
   * Swap the main and the spare sheaf. Each leaves the record before it enters the other
   * place, so a thread stopped in between has lost one, never holds one twice.
   */
  swapMainSpare(c: Cache): void {
    const i32 = this.a.i32;
    const r = c.rec;
    const spare = i32[r + Hot.R_SPARE]!;
    i32[r + Hot.R_SPARE] = 0;
    const old = this.detachMain(c);
    this.attachMain(c, spare);
    i32[r + Hot.R_SPARE] = old;
  }
}
