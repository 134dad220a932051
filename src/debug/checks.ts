/**
 * SLUB object and slab checks (mm/slub.c init_object, check_bytes_and_report,
 * restore_bytes, check_pad_bytes, slab_pad_check, check_object, check_slab, on_freelist,
 * set_track / init_tracking), written from their documented behaviour.
 *
 * Every function here runs with the cache's list_lock (C_LOCK) held, or on memory no
 * other thread can reach (a new slab, an object being evicted from the quarantine), so
 * byte accesses are plain.
 */
import { STATE_IN_META_MIN, TRACK_BYTES } from '../slab/sizes.js';
import type { DebugHost } from './host.js';
import { P_FLAGS, P_FREELIST, P_INUSE, PAGE_SHIFT } from '../layout.js';
import { Cache } from '../slab/cache.js';
import { trackWord, type Geo } from './geometry.js';
import {
  P_DISABLED, POISON_END, POISON_FREE, POISON_INUSE, quarantineMarker, SLUB_RED_ACTIVE, SLUB_RED_INACTIVE, TR_CPU, TR_HANDLE, TR_PID,
  TR_WHEN,
} from './layout.js';
import { bugHeader } from '../report.js';
import { hex, hexDump, type Reporter } from './report.js';
import type { StackDepot } from './stackdepot.js';
import type { SlabWarningKind } from '../warnings.js';

/** How check_object treats an object. */
export const enum Mode {
  /** Allocated (SLUB_RED_ACTIVE). */
  Active = 0,
  /** On a freelist (SLUB_RED_INACTIVE). */
  Inactive = 1,
  /** Held by the quarantine: inactive red zones, quarantine poison, marker in the free pointer. */
  Quarantined = 2,
}

export class Checker {
  private readonly u8: Uint8Array;
  private readonly i32: Int32Array;
  /** Kind of the reports of check_bytes (the quarantine says 'use-after-free'). */
  bytesKind: SlabWarningKind = 'slab-error';

  constructor(
    private readonly a: DebugHost,
    private readonly r: Reporter,
    private readonly depot: StackDepot,
    private readonly pid: number,
  ) {
    this.u8 = a.u8;
    this.i32 = a.i32;
  }

  // ------------------------------------------------------------ writing

  /** init_object(s, object, val): red zones to val, poison (or the kmalloc tail) per flags. */
  initObject(g: Geo, p: number, val: number): void {
    const u8 = this.u8;
    let poisonSize = g.objectSize;
    if (g.redZone) {
      u8.fill(val, p - g.redLeftPad, p);
      if (g.origOff >= 0 && val === SLUB_RED_ACTIVE) poisonSize = this.origSize(g, p);
    }
    if (g.objectPoison) {
      u8.fill(POISON_FREE, p, p + poisonSize - 1);
      u8[p + poisonSize - 1] = POISON_END;
    }
    if (g.redZone) u8.fill(val, p + poisonSize, p + g.inuse);
  }

  /** init_tracking: both tracks empty. */
  initTracking(g: Geo, p: number): void {
    if (g.storeUser) this.i32.fill(0, trackWord(g, p, false), trackWord(g, p, false) + ((2 * TRACK_BYTES) >> 2));
  }

  /** set_track: stack handle, thread slot, thread id, time. */
  setTrack(g: Geo, p: number, free: boolean): void {
    if (!g.storeUser) return;
    const w = trackWord(g, p, free);
    const i32 = this.i32;
    i32[w + TR_HANDLE] = this.depot.capture(free ? Cache.prototype.free : Cache.prototype.alloc);
    i32[w + TR_CPU] = this.a.slot + 1;
    i32[w + TR_PID] = this.pid;
    i32[w + TR_WHEN] = Date.now() | 0;
  }

  origSize(g: Geo, p: number): number {
    if (g.origOff < 0) return g.objectSize;
    const v = this.i32[(p + g.origOff) >> 2]!;
    // A clobbered orig_size must not send the checks outside the object.
    return v >= 1 && v <= g.objectSize ? v : g.objectSize;
  }

  setOrigSize(g: Geo, p: number, size: number): void {
    if (g.origOff >= 0) this.i32[(p + g.origOff) >> 2] = size;
  }

  // ------------------------------------------------------------- checks

  /**
   * check_bytes_and_report: bytes [start, start+len) must all be `value`. On a mismatch
   * report "[<what> overwritten] ...", the object (first error of the object only), then
   * restore the bytes ("FIX <cache>: Restoring ..."). Counts 2. Returns true if clean.
   */
  checkBytes(g: Geo, pfn: number, obj: number, what: string, start: number, value: number, len: number, printObj: boolean): boolean {
    if (len <= 0) return true;
    const u8 = this.u8;
    let fault = -1;
    for (let k = start; k < start + len; k++) {
      if (u8[k] !== value) {
        fault = k;
        break;
      }
    }
    if (fault < 0) return true;
    let end = start + len;
    while (end > fault && u8[end - 1] === value) end--;
    const base = pfn << PAGE_SHIFT;
    const line = `[${what} overwritten] 0x${hex(fault)}-0x${hex(end - 1)} @offset=${fault - base}. First byte 0x${hex(u8[fault]!)} instead of 0x${hex(value)}`;
    const name = g.c.cacheName;
    this.r.group(() => {
      if (printObj) this.r.objectErr(this.bytesKind, g, pfn, obj, 'Object corrupt', `${line}\n`);
      else this.r.emit(this.bytesKind, name, line, `${line}\n`, 1);
      this.r.fix(g.c, `Restoring ${what} 0x${hex(fault)}-0x${hex(end - 1)}=0x${hex(value)}`);
    });
    u8.fill(value, fault, end);
    return false;
  }

  /** check_pad_bytes: the object padding after the metadata is 0x5a. */
  checkPadBytes(g: Geo, pfn: number, p: number, printObj: boolean): boolean {
    if (g.sizeFromObject === g.padStart) return true;
    return this.checkBytes(g, pfn, p, 'Object padding', p + g.padStart, POISON_INUSE, g.sizeFromObject - g.padStart, printObj);
  }

  /** check_object(s, slab, object, val) (plus the quarantine mode). Returns true if clean. */
  checkObject(g: Geo, pfn: number, p: number, mode: Mode): boolean {
    const active = mode === Mode.Active;
    const val = active ? SLUB_RED_ACTIVE : SLUB_RED_INACTIVE;
    let ok = true;
    if (g.redZone) {
      if (!this.checkBytes(g, pfn, p, 'Left Redzone', p - g.redLeftPad, val, g.redLeftPad, ok)) ok = false;
      if (!this.checkBytes(g, pfn, p, 'Right Redzone', p + g.objectSize, val, g.inuse - g.objectSize, ok)) ok = false;
      if (g.origOff >= 0 && active) {
        const orig = this.origSize(g, p);
        if (g.objectSize > orig && !this.checkBytes(g, pfn, p, 'kmalloc Redzone', p + orig, val, g.objectSize - orig, ok)) ok = false;
      }
    } else if (g.poison && g.objectSize < g.inuse) {
      if (!this.checkBytes(g, pfn, p, 'Alignment padding', p + g.objectSize, POISON_INUSE, g.inuse - g.objectSize, ok)) ok = false;
    }
    if (mode === Mode.Quarantined) {
      if (!this.checkQuarantinePoison(g, pfn, p, ok)) ok = false;
    } else if (g.poison && !active && g.objectPoison) {
      if (!this.checkBytes(g, pfn, p, 'Poison', p, POISON_FREE, g.objectSize - 1, ok)) ok = false;
      if (!this.checkBytes(g, pfn, p, 'End Poison', p + g.objectSize - 1, POISON_END, 1, ok)) ok = false;
    }
    if (g.poison && !this.checkPadBytes(g, pfn, p, ok)) ok = false;
    // The free pointer can only be checked where the object does not overlap it, and a
    // quarantined object holds the marker there instead.
    if (mode !== Mode.Quarantined && (g.fpOutside || !active)) {
      const fpW = (p + g.fp) >> 2;
      if (!g.validPointer(pfn, this.i32[fpW]!)) {
        this.r.objectErr('slab-error', g, pfn, p, 'Freepointer corrupt');
        // Nothing better to do than cut the chain here (kernel: set_freepointer(NULL)); the
        // object count check of on_freelist then notices the lost objects.
        this.i32[fpW] = 0;
        ok = false;
      }
    }
    return ok;
  }

  /**
   * The quarantine's poison: 6b..a5 over the object, except the 4 bytes of the marker
   * when the free pointer lies inside the object. Nothing to check for caches whose
   * object contents must survive (ctor).
   */
  private checkQuarantinePoison(g: Geo, pfn: number, p: number, printObj: boolean): boolean {
    if (!g.quarantinePoison) return true;
    const n = g.objectSize;
    const m0 = g.fpOutside ? n : g.fp;
    const m1 = g.fpOutside ? n : Math.min(n, g.fp + 4);
    let ok = true;
    const rng = (from: number, to: number, v: number, what: string): void => {
      from = Math.max(from, 0);
      if (to > from && !this.checkBytes(g, pfn, p, what, p + from, v, to - from, ok && printObj)) ok = false;
    };
    rng(0, Math.min(m0, n - 1), POISON_FREE, 'Poison');
    rng(m1, n - 1, POISON_FREE, 'Poison');
    if (n - 1 >= m1 || n - 1 < m0) rng(n - 1, n, POISON_END, 'End Poison');
    return ok;
  }

  /** Fill a freed object with the quarantine poison and put the marker in its free pointer. */
  quarantinePoison(g: Geo, p: number): void {
    if (g.quarantinePoison && !g.objectPoison) {
      this.u8.fill(POISON_FREE, p, p + g.objectSize - 1);
      this.u8[p + g.objectSize - 1] = POISON_END;
    }
    // Atomics.store: a validate() in another thread that sees the marker (Atomics.load)
    // also sees the poison written before it, even for caches whose frees take no lock.
    Atomics.store(this.i32, (p + g.fp) >> 2, quarantineMarker(p));
  }

  /** slab_pad_check: the slab's tail between its objects and its state bytes is 0x5a. Counts 1 (the FIX). */
  slabPadCheck(g: Geo, pfn: number): void {
    if (!g.poison) return;
    const start = pfn << PAGE_SHIFT;
    // The slab's padding lies between the last object and the object-state bytes, which
    // strides below STATE_IN_META_MIN keep at the very end (slab/objstate.ts).
    const end0 = start + g.slabBytes - (g.size < STATE_IN_META_MIN ? g.objects : 0);
    const pad = start + g.objects * g.size;
    const remainder = end0 - pad;
    if (remainder <= 0) return;
    const u8 = this.u8;
    let fault = -1;
    for (let k = pad; k < end0; k++) {
      if (u8[k] !== POISON_INUSE) {
        fault = k;
        break;
      }
    }
    if (fault < 0) return;
    let end = end0;
    while (end > fault && u8[end - 1] === POISON_INUSE) end--;
    const name = g.c.cacheName;
    const msg = `Padding overwritten. 0x${hex(fault)}-0x${hex(end - 1)} @offset=${fault - start}`;
    // slab_bug() prints the banner but, unlike object_err / slab_err, kunit does not count
    // it: only the FIX of restore_bytes counts.
    this.r.group(() => {
      this.r.emit('slab-error', name, `${name}: ${msg}`, bugHeader(this.a.reporter, name, msg) + hexDump(this.u8, 'Padding ', pad, remainder) + this.r.slabInfo(g.c, pfn), 0);
      this.r.fix(g.c, `Restoring slab padding 0x${hex(fault)}-0x${hex(end - 1)}=0x${hex(POISON_INUSE)}`);
    });
    u8.fill(POISON_INUSE, fault, end);
  }

  /** check_slab. Returns false if the slab must not be used or walked further. */
  checkSlab(g: Geo, pfn: number): boolean {
    const i32 = this.i32;
    const m = this.a.pm(pfn);
    const inuse = i32[m + P_INUSE]!;
    if (inuse > g.objects || inuse < 0) {
      this.r.slabErr('slab-error', g.c, pfn, `inuse ${inuse} > max ${g.objects}`);
      return false;
    }
    if (i32[m + P_FLAGS]! & P_DISABLED) {
      this.r.slabErr('slab-error', g.c, pfn, 'Slab disabled since SLUB metadata consistency check failed');
      return false;
    }
    this.slabPadCheck(g, pfn);
    return true;
  }

  /**
   * on_freelist(s, slab, search): walk the slab's freelist; repair what can be repaired
   * (cut a corrupt chain, clear a freelist that starts corrupt or cycles, fix the in-use
   * count). Returns true if `search` is on the list (for search = 0: if the list is usable).
   */
  onFreelist(g: Geo, pfn: number, search: number): boolean {
    const i32 = this.i32;
    const m = this.a.pm(pfn);
    let nr = 0;
    let object = 0;
    let fp = i32[m + P_FREELIST]!;
    while (fp !== 0 && nr <= g.objects) {
      if (fp === search) return true;
      if (!g.validPointer(pfn, fp)) {
        if (object !== 0) {
          this.r.objectErr('slab-error', g, pfn, object, 'Freechain corrupt');
          i32[(object + g.fp) >> 2] = 0;
          break;
        }
        this.r.group(() => {
          this.r.slabErr('slab-error', g.c, pfn, 'Freepointer corrupt');
          i32[m + P_FREELIST] = 0;
          i32[m + P_INUSE] = g.objects;
          this.r.fix(g.c, 'Freelist cleared');
        });
        return false;
      }
      object = fp;
      fp = i32[(object + g.fp) >> 2]!;
      nr++;
    }
    if (nr > g.objects) {
      this.r.group(() => {
        this.r.slabErr('slab-error', g.c, pfn, 'Freelist cycle detected');
        i32[m + P_FREELIST] = 0;
        i32[m + P_INUSE] = g.objects;
        this.r.fix(g.c, 'Freelist cleared');
      });
      return false;
    }
    const inuse = i32[m + P_INUSE]!;
    if (inuse !== g.objects - nr) {
      this.r.group(() => {
        this.r.slabErr('slab-error', g.c, pfn, `Wrong object count. Counter is ${inuse} but counted were ${g.objects - nr}`);
        i32[m + P_INUSE] = g.objects - nr;
        this.r.fix(g.c, 'Object count adjusted');
      });
    }
    return search === 0;
  }

  /** The set of objects on slab pfn's freelist (after on_freelist made it sane). */
  freeSet(g: Geo, pfn: number): Set<number> {
    const s = new Set<number>();
    const i32 = this.i32;
    for (let o = i32[this.a.pm(pfn) + P_FREELIST]!; o !== 0 && s.size <= g.objects; o = i32[(o + g.fp) >> 2]!) s.add(o);
    return s;
  }
}
