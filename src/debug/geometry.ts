/**
 * Where each part of an object's stride lies, as the debug checks see it (mm/slub.c
 * get_info_end, size_from_object, check_valid_pointer, the "Object layout" comment above
 * check_pad_bytes). Offsets are from the object start; with SLAB_RED_ZONE the stride
 * begins red_left_pad bytes earlier.
 *
 *   [left red zone][object_size][right red zone .. inuse][free ptr][alloc track][free track][orig_size][padding 0x5a]
 */
import { SLAB_CONSISTENCY_CHECKS, SLAB_POISON, SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TRACE } from '../flags.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../layout.js';
import type { Cache } from '../slab/cache.js';
import { TRACK_BYTES, WORD } from '../slab/sizes.js';

export class Geo {
  readonly objectSize: number;
  readonly size: number;
  readonly inuse: number;
  readonly fp: number;
  readonly redLeftPad: number;
  readonly trackOff: number;
  readonly origOff: number;
  readonly objects: number;
  readonly slabBytes: number;
  readonly checks: boolean; // F
  readonly redZone: boolean; // Z
  readonly poison: boolean; // P
  readonly storeUser: boolean; // U
  readonly trace: boolean; // T
  /** __OBJECT_POISON: free objects really are filled with 6b..a5 (no ctor, not TYPESAFE_BY_RCU). */
  readonly objectPoison: boolean;
  /** The free pointer lies after the object (kernel: freeptr_outside_object). */
  readonly fpOutside: boolean;
  /** get_info_end(s). */
  readonly infoEnd: number;
  /** First byte of the "Object padding" (after tracks and orig_size). */
  readonly padStart: number;
  /** size_from_object(s). */
  readonly sizeFromObject: number;
  /** A freed object may be filled by the quarantine (no ctor state to keep). */
  readonly quarantinePoison: boolean;

  constructor(readonly c: Cache) {
    const f = c.flags;
    this.objectSize = c.objectSize;
    this.size = c.size;
    this.inuse = c.inuse;
    this.fp = c.fp;
    this.redLeftPad = c.redLeftPad;
    this.trackOff = c.trackOffset;
    this.origOff = c.origSizeOffset;
    this.objects = c.objects;
    this.slabBytes = PAGE_SIZE << c.order;
    this.checks = (f & SLAB_CONSISTENCY_CHECKS) !== 0;
    this.redZone = (f & SLAB_RED_ZONE) !== 0;
    this.poison = (f & SLAB_POISON) !== 0;
    this.storeUser = (f & SLAB_STORE_USER) !== 0 && c.trackOffset >= 0;
    this.trace = (f & SLAB_TRACE) !== 0;
    this.objectPoison = this.poison && !c.typesafeByRcu && !c.hasCtor;
    this.fpOutside = c.fp >= c.inuse;
    this.infoEnd = c.inuse + (this.fpOutside ? WORD : 0);
    let pad = this.infoEnd;
    if (this.storeUser) {
      pad += 2 * TRACK_BYTES;
      if (c.origSizeOffset >= 0) pad += 4;
    }
    this.padStart = pad;
    this.sizeFromObject = this.redZone ? c.size - c.redLeftPad : c.size;
    this.quarantinePoison = !c.hasCtor && !c.typesafeByRcu;
  }

  /** check_valid_pointer: 0, or an object boundary inside slab `pfn`. */
  validPointer(pfn: number, p: number): boolean {
    if (p === 0) return true;
    const base = pfn << PAGE_SHIFT;
    const q = p - this.redLeftPad - base;
    return q >= 0 && q < this.objects * this.size && q % this.size === 0;
  }

  /** First object of slab pfn. */
  first(pfn: number): number {
    return (pfn << PAGE_SHIFT) + this.redLeftPad;
  }
}

const cache = new WeakMap<Cache, Geo>();

/** The Geo of a cache handle (computed once per handle). */
export function geoOf(c: Cache): Geo {
  let g = cache.get(c);
  if (!g) {
    g = new Geo(c);
    cache.set(c, g);
  }
  return g;
}

/**
 * Word index of obj's stored alloc track (free = false) or free track (free = true, the
 * TRACK_BYTES after it); its words are TR_* (debug/layout.ts).
 */
export function trackWord(g: Geo, obj: number, free: boolean): number {
  return (obj + g.trackOff + (free ? TRACK_BYTES : 0)) >> 2;
}
