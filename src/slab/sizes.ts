/**
 * Object layout and slab geometry, as SLUB computes them
 * (mm/slab_common.c calculate_alignment, mm/slub.c calculate_sizes / calculate_order).
 *
 * A "word" here is the kernel's sizeof(void *) = 8 on 64-bit: sizes and alignments
 * follow the 64-bit kernel so that the numbers users compare with /proc/slabinfo match.
 * Our free pointer itself is a 4-byte arena offset stored in the first half of its word.
 */
import { SLAB_HWCACHE_ALIGN, SLAB_KMALLOC, SLAB_POISON, SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TYPESAFE_BY_RCU } from '../flags.js';
import { CACHE_LINE, MAX_ORDER, PAGE_SHIFT, PAGE_SIZE } from '../layout.js';

export const WORD = 8; // sizeof(void *)
export const ARCH_SLAB_MINALIGN = 8; // __alignof__(unsigned long long)
export const TRACK_BYTES = 16; // struct track: stack id, thread slot, thread id, time (ms, u32)
export const SLUB_MAX_ORDER = 3; // PAGE_ALLOC_COSTLY_ORDER
export const MIN_PARTIAL = 5;
export const MAX_PARTIAL = 10;
export const MAX_OBJS_PER_PAGE = 32767;

/** n rounded up to a multiple of a (kernel: ALIGN). */
export const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
const alignDown = (n: number, a: number): number => Math.floor(n / a) * a;

/** fls(): index of the most significant set bit, 1-based; fls(0) = 0. */
export function fls(x: number): number {
  return x === 0 ? 0 : 32 - Math.clz32(x);
}

/** get_order(size): smallest order with PAGE_SIZE << order >= size. */
export function getOrder(size: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

/** calculate_alignment(flags, align, size). */
export function calculateAlignment(flags: number, align: number, size: number): number {
  if (flags & SLAB_HWCACHE_ALIGN) {
    let ralign = CACHE_LINE;
    while (size <= ralign / 2) ralign /= 2;
    align = Math.max(align, ralign);
  }
  align = Math.max(align, ARCH_SLAB_MINALIGN);
  return alignUp(align, WORD);
}

/** Where everything lives in one object's stride, as {@link calculateSizes} computes it (mm/slub.c calculate_sizes). */
export interface ObjectLayout {
  /** Object size requested. */
  objectSize: number;
  /** Stride between objects (s->size). */
  size: number;
  /** Object alignment. */
  align: number;
  /** s->inuse: object plus right red zone. */
  inuse: number;
  /** Free pointer offset from the object start. */
  offset: number;
  /** Left red zone before each object (0 without SLAB_RED_ZONE). */
  redLeftPad: number;
  /** Alloc track at trackOffset, free track at trackOffset + TRACK_BYTES (-1 if none). */
  trackOffset: number;
  /** kmalloc orig_size (u32) offset (-1 if none). */
  origSizeOffset: number;
  /** The free pointer lives after the object (TYPESAFE_BY_RCU, poison, a ctor, or a red zone on a small or kmalloc object). */
  freeptrOutside: boolean;
  /** __OBJECT_POISON: free objects really are poisoned. */
  objectPoison: boolean;
}

/** calculate_sizes(): where everything lives in one object's stride. */
export function calculateSizes(flags: number, objectSize: number, align: number, hasCtor: boolean): ObjectLayout {
  let size = alignUp(objectSize, WORD);
  const objectPoison = !!(flags & SLAB_POISON) && !(flags & SLAB_TYPESAFE_BY_RCU) && !hasCtor;
  // A right red zone: if the object is word aligned there is no slack, so add a word.
  if (flags & SLAB_RED_ZONE && size === objectSize) size += WORD;
  const inuse = size;
  let offset: number;
  let freeptrOutside = false;
  if (
    flags & SLAB_TYPESAFE_BY_RCU ||
    flags & SLAB_POISON ||
    hasCtor ||
    (flags & SLAB_RED_ZONE && (objectSize < WORD || flags & SLAB_KMALLOC))
  ) {
    // The object's contents must survive while it is free (RCU readers, ctor state) or
    // be checkable (poison): the free pointer goes after the object.
    offset = size;
    size += WORD;
    freeptrOutside = true;
  } else {
    // Keep it mid-object, away from the edges where small overflows land.
    offset = alignDown(Math.floor(objectSize / 2), WORD);
  }
  let trackOffset = -1;
  let origSizeOffset = -1;
  if (flags & SLAB_STORE_USER) {
    trackOffset = size;
    size += 2 * TRACK_BYTES;
    if (flags & SLAB_KMALLOC) {
      origSizeOffset = size;
      size += 4;
    }
  }
  let redLeftPad = 0;
  if (flags & SLAB_RED_ZONE) {
    // Padding after the metadata so an overwrite from the previous object's end hits red
    // zone bytes rather than tracking data; then the left red zone itself.
    size += WORD;
    redLeftPad = alignUp(WORD, align);
    size += redLeftPad;
  }
  size = alignUp(size, align);
  return { objectSize, size, align, inuse, offset, redLeftPad, trackOffset, origSizeOffset, freeptrOutside, objectPoison };
}

/**
 * Strides from which a slab's object states live in its pages' metadata (8 bytes per
 * page, enough for 8 objects a page) rather than at the slab's end: at 512 B and up one
 * byte per object at the end would cost a whole object per slab for power-of-two sizes.
 */
export const STATE_IN_META_MIN = 512;

/**
 * order_objects(order, size), less the object-state bytes: below STATE_IN_META_MIN each
 * object also needs one state byte at the end of its slab.
 */
export function orderObjects(order: number, size: number): number {
  const per = size >= STATE_IN_META_MIN ? size : size + 1;
  return Math.floor((PAGE_SIZE << order) / per);
}

/**
 * calculate_sheaf_capacity: 0 for debug caches and quarantined frees, else by stride
 * (4 / 12 / 26 / 60 below PAGE_SIZE / 1024 / 256), grown to fill the sheaf's kmalloc
 * bucket (header SH_HDR = 16 bytes + 4 per object), then at least what was asked for.
 */
export function sheafCapacityFor(size: number, requested: number): number {
  const base = size >= PAGE_SIZE ? 4 : size >= 1024 ? 12 : size >= 256 ? 26 : 60;
  let bucket = 32;
  while (bucket < 16 + 4 * base) bucket <<= 1;
  return Math.max((bucket - 16) >> 2, requested);
}

function calcSlabOrder(size: number, minOrder: number, maxOrder: number, fract: number): number {
  let order = minOrder;
  for (; order <= maxOrder; order++) {
    const slabSize = PAGE_SIZE << order;
    if (slabSize % size <= slabSize / fract) break;
  }
  return order;
}

/**
 * calculate_order(size) with nr_cpus = maxThreads (our CPUs are thread slots), so a
 * cache's geometry depends only on the arena's parameters, never on the host machine.
 */
export function calculateOrder(size: number, nrCpus: number): number {
  const minObjectsDefault = 4 * (fls(nrCpus) + 1);
  const maxObjects = Math.max(orderObjects(SLUB_MAX_ORDER, size), 1);
  const minObjects = Math.min(minObjectsDefault, maxObjects);
  const minOrder = Math.max(0, getOrder(minObjects * size));
  if (orderObjects(minOrder, size) > MAX_OBJS_PER_PAGE) return getOrder(size * MAX_OBJS_PER_PAGE) - 1;
  for (let fraction = 16; fraction > 1; fraction /= 2) {
    const order = calcSlabOrder(size, minOrder, SLUB_MAX_ORDER, fraction);
    if (order <= SLUB_MAX_ORDER) return order;
  }
  const order = getOrder(size);
  if (order <= MAX_ORDER) return order;
  return -1;
}

/** min_partial = clamp(ilog2(size) / 2, MIN_PARTIAL, MAX_PARTIAL). */
export function minPartial(size: number): number {
  const v = Math.floor((fls(size) - 1) / 2);
  return Math.min(MAX_PARTIAL, Math.max(MIN_PARTIAL, v));
}

export const PAGE_BYTES_OF_ORDER = (order: number): number => PAGE_SIZE << order;
/** @internal (its declaration would name the internal const enum Hot) */
export const PAGES_SHIFT = PAGE_SHIFT;
