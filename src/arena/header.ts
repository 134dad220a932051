/**
 * The arena header (page 0, src/layout.ts H_*): checking Arena.create's options, writing
 * the header and initialising every region of a new buffer, the magic check of
 * Arena.attach, and reading the header back in any thread.
 *
 * Shared words: every H_* geometry and option word is written once, with plain stores, by
 * the creating thread before it publishes the buffer; H_MAGIC is stored last with
 * Atomics.store (seq-cst), and the buffer only reaches other threads through postMessage,
 * which happens-after it, so an attaching thread's plain reads see the whole header. The
 * page-kind words of the metadata pages (PK_RESERVED), the buddy free lists, the rcu and
 * kfree regions are initialised the same way, before the magic. Nothing here takes a lock
 * (see the lock-order table in src/layout.ts). A thread dying during create leaves a
 * buffer nobody else has seen; during attach's reads, nothing shared was changed.
 */
import { parseSlabDebug, type SlabDebugSpec } from '../debug/options.js';
import { PageAllocator } from '../heap/buddy.js';
import { initKfreeRegion } from '../kfree/index.js';
import { initRcuRegion } from '../rcu/index.js';
import {
  H_ARENA_ID, H_DEBUG_LEN, H_DEBUG_MAX, H_DEBUG_STR, H_DRAIN_MS, H_FIRST_PAGE, H_MAGIC, H_MAX_CACHES, H_MAX_PAGES,
  H_MAX_THREADS, H_QUARANTINE_BYTES, H_RCU_FLAVOUR, H_STALL_MS, H_VERSION, MAGIC, MAX_ARENA_BYTES, P_FLAGS, PAGE_SIZE,
  PK_RESERVED, VERSION, computeLayout, type ArenaLayout,
} from '../layout.js';
import { attachArgError } from '../hotplug/attach-arg.js';

/** Options of {@link Arena.create} (fixed for the arena's lifetime; every thread reads them from the buffer). */
export interface ArenaOptions {
  /** Initial size in bytes (default 32 MiB). */
  bytes?: number;
  /** Maximum size; the buffer is growable when larger than bytes (default: bytes). At most 1 GiB. */
  maxBytes?: number;
  /** Thread slots (default 64). */
  maxThreads?: number;
  /** Cache descriptors (default 128, kmalloc caches included). */
  maxCaches?: number;
  /** RCU flavour (default 'memb'). */
  rcu?: 'memb' | 'qsbr';
  /** slab_debug= letters, e.g. 'FZPU', or per cache 'FZ,cache1;P,cache2'. */
  debug?: string;
  /** KASAN-style quarantine budget in bytes (0 = off). */
  quarantineBytes?: number;
  /** RCU CPU stall warning timeout (default 21000 ms, the kernel's). */
  rcuStallTimeoutMs?: number;
  /** kfree_rcu batch drain delay (default 5000 ms, KFREE_DRAIN_JIFFIES). */
  kfreeRcuDrainMs?: number;
}

const DEFAULT_BYTES = 32 << 20;
const DEFAULT_MAX_THREADS = 64;
const DEFAULT_MAX_CACHES = 128;
const DEFAULT_STALL_MS = 21000;
const DEFAULT_DRAIN_MS = 5000;
/** Pages an arena must have beyond its metadata. */
const MIN_BUDDY_PAGES = 16;

/** ArenaOptions checked and defaulted, as the header stores them. */
interface HeaderConfig {
  bytes: number;
  maxBytes: number;
  maxThreads: number;
  maxCaches: number;
  rcu: 'memb' | 'qsbr';
  debug: string;
  quarantineBytes: number;
  stall: number;
  drain: number;
}

/** Check Arena.create's options (RangeError on the first bad one) and apply the defaults. */
function checkCreateOptions(opts: ArenaOptions): HeaderConfig {
  const bytes = opts.bytes ?? DEFAULT_BYTES;
  const maxBytes = opts.maxBytes ?? bytes;
  const maxThreads = opts.maxThreads ?? DEFAULT_MAX_THREADS;
  const maxCaches = opts.maxCaches ?? DEFAULT_MAX_CACHES;
  const int = (v: number, what: string, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`slabrcu: Arena.create: ${what} must be an integer in ${lo}..${hi}, got ${String(v)}`);
  };
  int(bytes, 'bytes', 64 * PAGE_SIZE, MAX_ARENA_BYTES);
  int(maxBytes, 'maxBytes', bytes, MAX_ARENA_BYTES);
  int(maxThreads, 'maxThreads', 1, 1024);
  int(maxCaches, 'maxCaches', 16, 4096);
  const rcu = opts.rcu ?? 'memb';
  if (rcu !== 'memb' && rcu !== 'qsbr') throw new RangeError(`slabrcu: Arena.create: rcu must be 'memb' or 'qsbr', got ${String(rcu)}`);
  // debug edit: slab_debug= without letters means F,Z,P,U for every cache; store it as
  // 'all' because an empty string in the header reads back as "no debug option".
  const debug = typeof opts.debug === 'string' && opts.debug.trim() === '' ? 'all' : (opts.debug ?? '');
  // Parse now so a bad option throws at create (each thread parses the stored copy).
  if (opts.debug !== undefined) parseSlabDebug(debug);
  if (debug.length > H_DEBUG_MAX) throw new RangeError('slabrcu: Arena.create: debug string too long');
  const quarantineBytes = opts.quarantineBytes ?? 0;
  int(quarantineBytes, 'quarantineBytes', 0, MAX_ARENA_BYTES);
  const stall = opts.rcuStallTimeoutMs ?? DEFAULT_STALL_MS;
  int(stall, 'rcuStallTimeoutMs', 1, 3_600_000);
  const drain = opts.kfreeRcuDrainMs ?? DEFAULT_DRAIN_MS;
  int(drain, 'kfreeRcuDrainMs', 0, 3_600_000);
  return { bytes, maxBytes, maxThreads, maxCaches, rcu, debug, quarantineBytes, stall, drain };
}

/** The buffer for `cfg`'s geometry (growable when maxBytes > bytes); RangeError if the metadata leaves no pages. */
function allocateBuffer(cfg: HeaderConfig, layout: ArenaLayout): SharedArrayBuffer {
  const { bytes, maxBytes, maxThreads, maxCaches } = cfg;
  const maxPages = Math.floor(maxBytes / PAGE_SIZE);
  const nrPages = Math.floor(bytes / PAGE_SIZE);
  if (layout.firstPage + MIN_BUDDY_PAGES > nrPages) {
    throw new RangeError(
      `slabrcu: Arena.create: ${bytes} bytes leave no room for pages: metadata for maxThreads=${maxThreads}, ` +
        `maxCaches=${maxCaches}, maxBytes=${maxBytes} takes ${layout.firstPage * PAGE_SIZE} bytes`,
    );
  }
  return maxBytes > bytes
    ? new SharedArrayBuffer(nrPages * PAGE_SIZE, { maxByteLength: maxPages * PAGE_SIZE })
    : new SharedArrayBuffer(nrPages * PAGE_SIZE);
}

/** The header words and the debug string (plain stores: nobody else sees the buffer yet). */
function writeHeaderWords(sab: SharedArrayBuffer, cfg: HeaderConfig, layout: ArenaLayout): void {
  const i32 = new Int32Array(sab);
  i32[H_VERSION] = VERSION;
  i32[H_MAX_THREADS] = cfg.maxThreads;
  i32[H_MAX_CACHES] = cfg.maxCaches;
  i32[H_MAX_PAGES] = layout.maxPages;
  i32[H_FIRST_PAGE] = layout.firstPage;
  i32[H_RCU_FLAVOUR] = cfg.rcu === 'qsbr' ? 1 : 0;
  i32[H_QUARANTINE_BYTES] = cfg.quarantineBytes;
  i32[H_STALL_MS] = cfg.stall;
  i32[H_DRAIN_MS] = cfg.drain;
  i32[H_ARENA_ID] = (Math.random() * 0x7fffffff) | 0;
  i32[H_DEBUG_LEN] = cfg.debug.length;
  const u16 = new Uint16Array(sab);
  for (let k = 0; k < cfg.debug.length; k++) u16[H_DEBUG_STR * 2 + k] = cfg.debug.charCodeAt(k);
}

/** The regions: metadata pages reserved, the buddy free lists, the rcu and kfree regions. */
function initRegions(sab: SharedArrayBuffer, cfg: HeaderConfig, layout: ArenaLayout): void {
  const i32 = new Int32Array(sab);
  const pages = new PageAllocator(i32, sab, layout);
  for (let p = 0; p < layout.firstPage; p++) i32[pages.pm(p) + P_FLAGS] = PK_RESERVED;
  pages.init(Math.floor(cfg.bytes / PAGE_SIZE));
  initRcuRegion(i32, layout.rcuBase >> 2, cfg.maxThreads, cfg.rcu);
  initKfreeRegion(i32, layout.kfreeBase >> 2, cfg.maxThreads);
}

/**
 * A new arena buffer for Arena.create: options checked, header written, regions set up,
 * then the magic published (Atomics.store, last).
 */
export function createArenaBuffer(opts: ArenaOptions): SharedArrayBuffer {
  const cfg = checkCreateOptions(opts);
  const layout = computeLayout({ maxThreads: cfg.maxThreads, maxCaches: cfg.maxCaches, maxPages: Math.floor(cfg.maxBytes / PAGE_SIZE) });
  const sab = allocateBuffer(cfg, layout);
  writeHeaderWords(sab, cfg, layout);
  initRegions(sab, cfg, layout);
  Atomics.store(new Int32Array(sab), H_MAGIC, MAGIC);
  return sab;
}

/** Arena.attach's argument check: a SharedArrayBuffer that starts with the magic, else the TypeError hotplug/attach-arg.ts words. */
export function checkArenaBuffer(sab: SharedArrayBuffer): void {
  if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < PAGE_SIZE || new Int32Array(sab, 0, 1)[0] !== MAGIC) {
    throw new TypeError(attachArgError(sab));
  }
}

/** What every thread reads back from the header when it attaches. */
export interface HeaderView {
  readonly layout: ArenaLayout;
  /** The slab_debug= string ('' when unset) and its parse. */
  readonly debug: string;
  readonly debugSpec: SlabDebugSpec;
  readonly rcuStallTimeoutMs: number;
  readonly kfreeRcuDrainMs: number;
  readonly quarantineBytes: number;
  readonly flavour: 'memb' | 'qsbr';
}

/** Read the header of an arena buffer (Error if its version is not ours). */
export function readHeader(i32: Int32Array, sab: SharedArrayBuffer): HeaderView {
  if (i32[H_VERSION] !== VERSION) throw new Error(`slabrcu: arena version ${i32[H_VERSION]} is not ${VERSION}`);
  const layout = computeLayout({ maxThreads: i32[H_MAX_THREADS]!, maxCaches: i32[H_MAX_CACHES]!, maxPages: i32[H_MAX_PAGES]! });
  let debug = '';
  for (let k = 0; k < i32[H_DEBUG_LEN]!; k++) debug += String.fromCharCode(new Uint16Array(sab)[H_DEBUG_STR * 2 + k]!);
  return {
    layout,
    debug,
    debugSpec: parseSlabDebug(i32[H_DEBUG_LEN] ? debug : undefined),
    rcuStallTimeoutMs: i32[H_STALL_MS]!,
    kfreeRcuDrainMs: i32[H_DRAIN_MS]!,
    quarantineBytes: i32[H_QUARANTINE_BYTES]!,
    flavour: i32[H_RCU_FLAVOUR] === 1 ? 'qsbr' : 'memb',
  };
}
