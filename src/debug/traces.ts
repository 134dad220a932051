/**
 * /sys/kernel/debug/slab/<cache>/alloc_traces and free_traces (mm/slub.c
 * slab_debug_trace_open / process_slab / add_location / slab_debugfs_show): the tracks of
 * the objects in use, grouped by stack, most frequent first. For SLAB_STORE_USER caches.
 *
 * Like the kernel, both files walk the objects that are in use (not on a freelist) on the
 * partial and full lists: alloc_traces groups their alloc tracks, free_traces their free
 * tracks (where each of them was freed the previous time). Quarantined objects are freed
 * objects, so they are left out.
 *
 * Line format: "%7ld <caller>[ waste=<w>/<per>] age=<min>/<avg>/<max>|age=<n> pid=<min>-<max>|pid=<n>
 * [cpus=<list>]" then the stack, one frame a line, indented by 8 spaces.
 */
import { C_LOCK } from '../layout.js';
import type { Cache } from '../slab/cache.js';
import { listPfns } from '../slab/lists.js';
import { lock, unlock } from '../sync/mutex.js';
import { geoOf, trackWord } from './geometry.js';
import type { SlubDebug } from './index.js';
import { quarantineMarker, TR_CPU, TR_HANDLE, TR_PID, TR_WHEN } from './layout.js';

/** One line of alloc_traces / free_traces: the objects whose track has the same stack. */
export interface TraceLocation {
  /** Objects with this stack. */
  count: number;
  /** First frame of the stack ("<not-available>" for objects without a track). */
  caller: string;
  /** The whole stack, innermost first. */
  frames: string[];
  /** Bytes kmalloc gave beyond the request, per object (kmalloc caches with orig_size). */
  waste: number;
  /** Youngest track age (ms). */
  ageMin: number;
  /** Average track age (ms). */
  ageAvg: number;
  /** Oldest track age (ms). */
  ageMax: number;
  /** Smallest Node thread id among the tracks (the kernel's pid; see TrackInfo.nodeThreadId). */
  pidMin: number;
  /** Largest Node thread id among the tracks. */
  pidMax: number;
  /** Thread slots (the kernel's cpus). */
  cpus: number[];
}

function cpuList(cpus: number[]): string {
  // %*pbl: ranges "0-3,5".
  const out: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j]! + 1) j++;
    out.push(i === j ? `${cpus[i]}` : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

export function slabTraces(dbg: SlubDebug, c: Cache, which: 'alloc' | 'free'): { locations: TraceLocation[]; text: string } {
  const a = dbg.a;
  const i32 = a.i32;
  const g = geoOf(c);
  if (!g.storeUser) return { locations: [], text: '' };
  const now = Date.now() >>> 0;
  const byKey = new Map<string, TraceLocation & { sum: number; cpuSet: Set<number> }>();
  a.slab.flushCpu(c);
  lock(i32, c.d + C_LOCK);
  try {
    for (const full of [false, true]) {
      for (const pfn of listPfns(i32, a.metaW, c.d, full)) {
        const free = dbg.checker.freeSet(g, pfn);
        const first = g.first(pfn);
        for (let k = 0; k < g.objects; k++) {
          const p = first + k * g.size;
          if (free.has(p) || (dbg.quarantine && Atomics.load(i32, (p + g.fp) >> 2) === quarantineMarker(p))) continue;
          const w = trackWord(g, p, which === 'free');
          const cpu = i32[w + TR_CPU]!;
          const handle = cpu === 0 ? 0 : i32[w + TR_HANDLE]!;
          const waste = which === 'alloc' ? g.objectSize - dbg.checker.origSize(g, p) : 0;
          const key = `${handle}/${waste}`;
          let l = byKey.get(key);
          const age = cpu === 0 ? 0 : (now - i32[w + TR_WHEN]!) >>> 0;
          const pid = cpu === 0 ? 0 : i32[w + TR_PID]!;
          if (!l) {
            const frames = cpu === 0 ? [] : dbg.depot.fetch(handle);
            l = {
              count: 0, caller: cpu === 0 ? '<not-available>' : frames[0] ?? '<unknown>', frames, waste,
              ageMin: age, ageAvg: 0, ageMax: age, pidMin: pid, pidMax: pid, cpus: [], sum: 0, cpuSet: new Set(),
            };
            byKey.set(key, l);
          }
          l.count++;
          l.sum += age;
          l.ageMin = Math.min(l.ageMin, age);
          l.ageMax = Math.max(l.ageMax, age);
          l.pidMin = Math.min(l.pidMin, pid);
          l.pidMax = Math.max(l.pidMax, pid);
          if (cpu !== 0) l.cpuSet.add(cpu - 1);
        }
      }
    }
  } finally {
    unlock(i32, c.d + C_LOCK);
  }
  const locations: TraceLocation[] = [...byKey.values()]
    .sort((x, y) => y.count - x.count)
    .map(({ sum, cpuSet, ...l }) => ({ ...l, ageAvg: Math.floor(sum / l.count), cpus: [...cpuSet].sort((x, y) => x - y) }));
  let text = '';
  for (const l of locations) {
    text += `${String(l.count).padStart(7)} ${l.caller}`;
    if (l.waste) text += ` waste=${l.waste * l.count}/${l.waste}`;
    text += l.ageMin !== l.ageMax ? ` age=${l.ageMin}/${l.ageAvg}/${l.ageMax}` : ` age=${l.ageMin}`;
    text += l.pidMin !== l.pidMax ? ` pid=${l.pidMin}-${l.pidMax}` : ` pid=${l.pidMin}`;
    if (l.cpus.length) text += ` cpus=${cpuList(l.cpus)}`;
    text += '\n';
    for (const f of l.frames) text += `        ${f}\n`;
    text += '\n';
  }
  return { locations, text };
}
