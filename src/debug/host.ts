/**
 * What the debug room (src/debug/: SLUB debug checks, reports, validate, the quarantine,
 * the stack depot, traces) gets from the rest of the arena; the model is rcu/host.ts. No
 * file under src/debug/ imports the Arena: SlubDebug and its parts take a DebugHost, which
 * the thread's Arena satisfies structurally (it passes itself).
 *
 * - the buffer and its map: `sab`, `u8`, `i32`, `layout` (firstPage, maxPages, debugBase),
 *   `metaW`, `pm`, `committedBytes` (H_NR_PAGES, Atomics.load);
 * - this thread: `slot`, `options.quarantineBytes`;
 * - the other rooms, narrowed to the calls debug makes: `pages` (alloc and markTails for
 *   the quarantine ring and depot pages, nrPages for validate: zone lock), `threads.tid`
 *   (track messages), `slab` (freeToSlab out of the quarantine, flushCpu before validate
 *   and traces: list_lock), `kmallocs.classify` (a pointer's cache), `internalHandle`, and
 *   `reporter` (report.ts ThreadReports: debug reports, slab_errors, taint).
 * Locks: the host takes none; debug's own (quarantine lock, stack depot lock) sit in the
 * table of src/layout.ts.
 */
import type { ArenaLayout } from '../layout.js';
import type { PageAllocator } from '../heap/buddy.js';
import type { ThreadTable } from '../threads.js';
import type { ThreadReports } from '../report.js';
import type { Cache } from '../slab/cache.js';
import type { SlabCore } from '../slab/core.js';
import type { Kmalloc } from '../slab/kmalloc.js';
import type { DebugHooks } from './hooks.js';

/** The arena as the debug room sees it (see the header). */
export interface DebugHost {
  readonly sab: SharedArrayBuffer;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly layout: ArenaLayout;
  readonly metaW: number;
  readonly slot: number;
  readonly options: { readonly quarantineBytes: number };
  readonly pages: Pick<PageAllocator, 'alloc' | 'markTails' | 'nrPages'>;
  readonly threads: Pick<ThreadTable, 'tid'>;
  readonly slab: Pick<SlabCore, 'freeToSlab' | 'flushCpu'>;
  readonly kmallocs: Pick<Kmalloc, 'classify'>;
  readonly debugHooks: DebugHooks | undefined;
  readonly reporter: ThreadReports;
  /** Word index of page pfn's metadata. */
  pm(pfn: number): number;
  /** Bytes of the arena usable now. */
  committedBytes(): number;
  /** A handle without a name for cache idx. */
  internalHandle(idx: number): Cache;
}
