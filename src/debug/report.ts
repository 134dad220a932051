/**
 * SLUB debug reports in the kernel's shapes (mm/slub.c slab_bug / object_err /
 * slab_err / slab_fix / print_trailer / print_tracking / print_section, lib/hexdump.c
 * print_hex_dump with DUMP_PREFIX_ADDRESS, 16 bytes a row, 1-byte groups, ASCII).
 *
 * Counting follows lib/slub_kunit.c's `slab_errors` (slab_add_kunit_errors): each
 * object_err, slab_err and slab_fix counts 1; a check_bytes_and_report mismatch counts 1
 * for the report and 1 for the FIX of restore_bytes. Counts go to arena.reporter.countSlabError
 * as they happen, so the taint of each BUG header is right ("Not tainted" only for the
 * first report of a thread).
 *
 * Delivery: texts accumulate in an "incident"; a closed incident waits in this thread's
 * pending queue and goes out as one onWarning event (arena.reporter.warn) at the next safe point,
 * i.e. once no allocator lock is held: at the end of Cache.alloc's slow path and of
 * Cache.free for debug caches, of validate(), of a quarantine put or eviction. So a
 * listener may call into the allocator (stats(), validate(), alloc/free) without
 * deadlocking on the cache's list_lock, and an exception it throws propagates to the
 * allocator call that raised the report, as for the core's own reports.
 */
import type { DebugHost } from './host.js';
import { P_FLAGS, P_FREELIST, P_INUSE, PAGE_SHIFT } from '../layout.js';
import { bugHeader, fixLine } from '../report.js';
import type { Cache } from '../slab/cache.js';
import { trackWord, type Geo } from './geometry.js';
import { TR_CPU, TR_HANDLE, TR_PID, TR_WHEN } from './layout.js';
import type { StackDepot } from './stackdepot.js';
import type { SlabWarningKind } from '../warnings.js';

export const hex = (n: number): string => (n >>> 0).toString(16);

/** print_hex_dump(KERN_ERR, label, DUMP_PREFIX_ADDRESS, 16, 1, addr, len, true). */
export function hexDump(u8: Uint8Array, label: string, addr: number, len: number): string {
  let out = '';
  for (let off = 0; off < len; off += 16) {
    const n = Math.min(16, len - off);
    let hx = '';
    let asc = '';
    for (let k = 0; k < n; k++) {
      const b = u8[addr + off + k]!;
      hx += (k ? ' ' : '') + (b < 16 ? '0' : '') + b.toString(16);
      asc += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    }
    // hex_dump_to_buffer: the ASCII column starts at rowsize * 2 + rowsize / groupsize + 1.
    out += `${label}${hex(addr + off).padStart(8, '0')}: ${hx.padEnd(49)}${asc}\n`;
  }
  return out;
}

interface Incident {
  kind: SlabWarningKind;
  cache: string;
  message: string;
  text: string;
}

export class Reporter {
  private open: Incident | undefined;
  private depth = 0;
  private readonly pending: Incident[] = [];
  /** Texts of delivered incidents go here too while a validate() runs. */
  collector: string[] | undefined;

  constructor(
    private readonly a: DebugHost,
    private readonly depot: StackDepot,
  ) {}

  /** Run fn with one incident open: everything reported inside goes out as one event. */
  group<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      if (--this.depth === 0) this.flush();
    }
  }

  /** Add text to the open incident (or deliver it at once). The first piece names the incident. */
  emit(kind: SlabWarningKind, cache: string, message: string, text: string, count: number): void {
    if (count) this.a.reporter.countSlabError(count);
    if (this.open) {
      this.open.text += text;
    } else {
      this.open = { kind, cache, message, text };
    }
    if (this.depth === 0) this.flush();
  }

  private flush(): void {
    const inc = this.open;
    this.open = undefined;
    if (!inc) return;
    this.collector?.push(inc.text);
    this.pending.push(inc);
  }

  /** Deliver the closed incidents (call only where this thread holds no allocator lock). */
  deliver(): void {
    while (this.pending.length > 0) {
      const inc = this.pending.shift()!;
      this.a.reporter.warn(inc.kind, inc.cache, inc.message, inc.text);
    }
  }

  // ------------------------------------------------------------- pieces

  /** print_track: "Allocated in <caller> age=<ms> cpu=<slot> pid=<tid>" and the depot frames. */
  track(what: 'Allocated' | 'Freed', g: Geo, obj: number, now: number): string {
    const w = trackWord(g, obj, what === 'Freed');
    const i32 = this.a.i32;
    const cpu = i32[w + TR_CPU]!;
    if (cpu === 0) return '';
    const h = i32[w + TR_HANDLE]!;
    const frames = this.depot.fetch(h);
    const age = (now - i32[w + TR_WHEN]!) >>> 0;
    let s = `${what} in ${frames[0] ?? '<unknown>'} age=${age} cpu=${cpu - 1} pid=${i32[w + TR_PID]}\n`;
    if (frames.length) s += frames.map((f) => ` ${f}\n`).join('');
    else s += 'object allocation/free stack trace missing\n';
    return s;
  }

  /** print_tracking. */
  tracking(g: Geo, obj: number): string {
    if (g.trackOff < 0) return '';
    const now = Date.now() >>> 0;
    return this.track('Allocated', g, obj, now) + this.track('Freed', g, obj, now);
  }

  /** print_slab_info. */
  slabInfo(c: Cache, pfn: number): string {
    const i32 = this.a.i32;
    const m = this.a.pm(pfn);
    return `Slab 0x${hex(pfn << PAGE_SHIFT)} objects=${c.objects} used=${i32[m + P_INUSE]} fp=0x${hex(i32[m + P_FREELIST]!)} flags=0x${hex(i32[m + P_FLAGS]!)}(slab)\n`;
  }

  /** print_trailer: tracks, slab, object line and the hex dumps of the whole stride. */
  trailer(g: Geo, pfn: number, p: number): string {
    const u8 = this.a.u8;
    const addr = pfn << PAGE_SHIFT;
    let s = this.tracking(g, p);
    s += this.slabInfo(g.c, pfn);
    s += `Object 0x${hex(p)} @offset=${p - addr} fp=0x${hex(this.a.i32[(p + g.fp) >> 2]!)}\n\n`;
    if (g.redZone) s += hexDump(u8, 'Redzone  ', p - g.redLeftPad, g.redLeftPad);
    else if (p > addr + 16) s += hexDump(u8, 'Bytes b4 ', p - 16, 16);
    s += hexDump(u8, 'Object   ', p, Math.min(g.objectSize, 4096));
    if (g.redZone) s += hexDump(u8, 'Redzone  ', p + g.objectSize, g.inuse - g.objectSize);
    if (g.padStart !== g.sizeFromObject) s += hexDump(u8, 'Padding  ', p + g.padStart, g.sizeFromObject - g.padStart);
    return s;
  }

  /** BUG header + trailer (object_err), counted 1. */
  objectErr(kind: SlabWarningKind, g: Geo, pfn: number, obj: number, reason: string, pre = ''): void {
    const name = g.c.cacheName;
    let text = pre + bugHeader(this.a.reporter, name, reason);
    if (obj === 0 || !g.validPointer(pfn, obj)) text += this.slabInfo(g.c, pfn) + `Invalid pointer 0x${hex(obj)}\n`;
    else text += this.trailer(g, pfn, obj);
    this.emit(kind, name, `${name}: ${reason}`, text, 1);
  }

  /** BUG header + slab info (slab_err), counted 1. */
  slabErr(kind: SlabWarningKind, c: Cache, pfn: number, msg: string): void {
    const name = c.cacheName;
    this.emit(kind, name, `${name}: ${msg}`, bugHeader(this.a.reporter, name, msg) + this.slabInfo(c, pfn), 1);
  }

  /** slab_fix, counted 1. */
  fix(c: Cache, msg: string): void {
    const name = c.cacheName;
    this.emit('slab-error', name, `FIX ${name}: ${msg}`, fixLine(name, msg), 1);
  }

  /** A plain pr_err line of validate (counted like slab_add_kunit_errors there). */
  line(kind: SlabWarningKind, c: Cache, msg: string, count: number): void {
    this.emit(kind, c.cacheName, msg, `${msg}\n`, count);
  }
}
