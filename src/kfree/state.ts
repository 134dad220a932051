/**
 * This thread's kfree_rcu context: the host, the word indices every module uses, the
 * owner-only JS fields more than one module reads, and the links between the modules.
 *
 * Concurrency: nothing here is shared memory. The fields are thread-local (one KfreeState
 * per thread per arena) and only this thread's JS touches them; the shared words are
 * described by the module that reads or writes them (and by layout.ts). `handles` caches
 * one Cache handle per cache index, revalidated against the descriptor's C_GEN (a plain
 * read: the generation changes only under slab_mutex when the cache is destroyed or its
 * slot reused, and a stale handle is then replaced, never used).
 */
import type { Cache } from '../slab/cache.js';
import { Hot } from '../layout.js';
import { G_WORDS, SLOT_WORDS } from './layout.js';
import type { KfreeHost } from './host.js';
import type { KfreeBlocks } from './blocks.js';
import type { KfreeInsert } from './insert.js';
import type { KfreeSheaves } from './sheaves.js';
import type { KfreeDrain } from './drain.js';
import type { KfreePump } from './pump.js';
import type { KfreeBarrier } from './barrier.js';
import type { KfreeAdopt } from './adopt.js';
import type { KfreeReports } from './reports.js';
import type { KfreeCounts } from './counts.js';

/** Milliseconds since the epoch, in 31 bits (the S_OPENED stamp: a small integer word). */
export const AGE_MOD = 0x80000000;
export const now31 = (): number => Date.now() & (AGE_MOD - 1);
/** Age in ms of a now31() stamp (wraps every 24.8 days). */
export const ageMs = (stamp: number): number => (now31() - stamp + AGE_MOD) % AGE_MOD;

export class KfreeState {
  readonly i32: Int32Array;
  /** Word index of the region header. */
  readonly g: number;
  /** Word index of this thread's slot line. */
  readonly me: number;
  readonly slot: number;
  readonly metaW: number;
  /** Word index of cache descriptor 0, and of this thread's cpu record of cache 0. */
  readonly descW0: number;
  readonly recW0: number;
  private readonly handles: (Cache | undefined)[] = [];
  /** This thread has detached: everything goes through the checked slow path (which throws). */
  off = false;
  /** KfreeRcu.testingMark (see there). */
  testingMark: ((mark: string) => void) | undefined = undefined;

  // The modules, linked by KfreeRcu's constructor (index.ts) right after this is built.
  blocks!: KfreeBlocks;
  insert!: KfreeInsert;
  sheaves!: KfreeSheaves;
  drain!: KfreeDrain;
  pump!: KfreePump;
  barrier!: KfreeBarrier;
  adopt!: KfreeAdopt;
  reports!: KfreeReports;
  counts!: KfreeCounts;

  constructor(readonly host: KfreeHost) {
    this.i32 = host.i32;
    this.g = host.baseWord;
    this.slot = host.slot;
    this.me = this.slotW(host.slot);
    this.metaW = host.metaW;
    this.descW0 = host.descW(0);
    this.recW0 = host.recW(host.slot, 0);
  }

  mark(m: string): void {
    if (this.testingMark !== undefined) this.testingMark(m);
  }

  /** Word index of `slot`'s line in the kfree region. */
  slotW(slot: number): number {
    return this.g + G_WORDS + slot * SLOT_WORDS;
  }

  /** A handle per cache index for this thread, revalidated by generation. */
  handle(idx: number): Cache {
    const h = this.handles[idx];
    if (h !== undefined && h.gen === this.i32[h.d + Hot.C_GEN]) return h;
    const nh = this.host.internalHandle(idx);
    this.handles[idx] = nh;
    return nh;
  }

  /** A block page back to the buddy allocator (its page kind cleared first). */
  freePage(pfn: number): void {
    this.i32[this.host.pm(pfn) + Hot.P_FLAGS] = 0;
    this.host.pages.free(pfn, 0);
  }
}
