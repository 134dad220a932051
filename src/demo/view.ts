/**
 * The demo's live view: a slabtop-like frame redrawn in place on a terminal (log-update:
 * it rewrites only the lines that changed and never leaves a stale copy), or one plain
 * line per tick when stdout is not a terminal (CI logs, pipes).
 *
 * renderFrame() is a pure function of a snapshot and the terminal size, so it is tested
 * without a terminal: every line fits `width` columns (80 and up; columns that do not fit
 * are dropped, right to left, then long names are shortened) and the frame fits `height`
 * rows (extra cache rows and workers are summed into one "… more" row).
 */
import Table from 'cli-table3';
import type { Role } from './control.js';
import type { SlabinfoRow } from './slabinfo.js';

export interface WorkerRate {
  index: number;
  role: Role;
  readsPerSec: number;
  updatesPerSec: number;
  errors: number;
}

export interface Snapshot {
  elapsedS: number;
  durationS: number;
  caches: (SlabinfoRow & { kfreeRcuPending?: number })[];
  gpsCompleted: number;
  gpsPerSec: number;
  workers: WorkerRate[];
  tableCount: number;
}

export interface FrameOptions {
  /** Terminal columns (default 80). */
  width?: number;
  /** Terminal rows (default 24). */
  height?: number;
  /** ANSI colours for the table headers (default false). */
  color?: boolean;
}

const k = (x: number): string =>
  x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(1)}k` : String(Math.round(x));

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Columns a string takes on a terminal (ANSI escapes take none; the demo prints no wide characters). */
export function visibleWidth(s: string): number {
  return s.replace(ANSI, '').length;
}

/** Cut a line to `width` visible columns (escape sequences kept, an ellipsis marks the cut). */
export function fitLine(s: string, width: number): string {
  if (visibleWidth(s) <= width) return s;
  const esc = /\x1b\[[0-9;?]*[A-Za-z]/y;
  let out = '';
  let n = 0;
  for (let i = 0; i < s.length; ) {
    esc.lastIndex = i;
    const m = esc.exec(s);
    if (m) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    if (n >= width - 1) break;
    out += s[i];
    n++;
    i++;
  }
  return out + '…' + (out.includes('\x1b[') ? '\x1b[0m' : '');
}

function shorten(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, Math.max(1, max - 1)) + '…';
}

interface Column<R> {
  head: string;
  align: 'left' | 'right';
  cell: (r: R) => string;
}

/**
 * A compact cli-table3 table of `rows` with as many of `cols` as fit in `width` (the
 * first column always; the others are dropped from the right).
 */
function fitTable<R>(cols: Column<R>[], rows: R[], width: number, color: boolean, first = 0): string {
  let use = cols;
  let nameMax = 24;
  for (;;) {
    const t = new Table({
      // Colours by hand: cli-table3's styles go through @colors/colors, which turns them
      // off by itself when CI is set or stdout is not a terminal, so `color: true` would be
      // ignored whenever the frame is drawn for anything but this process's own tty.
      head: use.map((c) => (color ? `${CYAN}${c.head}${RESET_FG}` : c.head)),
      colAligns: use.map((c) => c.align),
      style: { head: [], border: [], compact: true },
    });
    for (const r of rows) t.push(use.map((c, i) => (i === first ? shorten(c.cell(r), nameMax) : c.cell(r))));
    const text = color ? greyBorders(t.toString()) : t.toString();
    const wide = text.split('\n').reduce((m, l) => Math.max(m, visibleWidth(l)), 0);
    if (wide <= width) return text;
    if (use.length > 2) use = use.slice(0, -1);
    else if (nameMax > 8) nameMax -= 4;
    else return text.split('\n').map((l) => fitLine(l, width)).join('\n');
  }
}

const CYAN = '\x1b[36m';
const GREY = '\x1b[90m';
const RESET_FG = '\x1b[39m';
const BORDER_RUN = /[─│┌┐└┘├┤┬┴┼]+/g;

/** Each run of box-drawing characters in grey. */
function greyBorders(text: string): string {
  return text.replace(BORDER_RUN, (run) => `${GREY}${run}${RESET_FG}`);
}

type CacheRow = Snapshot['caches'][number] | { name: string; more: number };

const CACHE_COLS: Column<CacheRow>[] = [
  { head: 'cache', align: 'left', cell: (r) => ('more' in r ? `… ${r.more} more` : r.name) },
  { head: 'active', align: 'right', cell: (r) => ('more' in r ? '' : k(r.activeObjs)) },
  { head: 'total', align: 'right', cell: (r) => ('more' in r ? '' : k(r.numObjs)) },
  { head: 'slabs', align: 'right', cell: (r) => ('more' in r ? '' : k(r.numSlabs)) },
  { head: 'kfreeRcu pending', align: 'right', cell: (r) => ('more' in r ? '' : r.kfreeRcuPending === undefined ? '' : k(r.kfreeRcuPending)) },
  { head: 'obj size', align: 'right', cell: (r) => ('more' in r ? '' : String(r.objSize)) },
];

type WorkerRow = WorkerRate | { more: number; readsPerSec: number; updatesPerSec: number; errors: number };

const WORKER_COLS: Column<WorkerRow>[] = [
  { head: 'worker', align: 'left', cell: (w) => ('more' in w ? `… ${w.more} more` : `#${w.index}`) },
  { head: 'role', align: 'left', cell: (w) => ('more' in w ? '' : w.role) },
  { head: 'reads/s', align: 'right', cell: (w) => k(w.readsPerSec) },
  { head: 'updates/s', align: 'right', cell: (w) => k(w.updatesPerSec) },
  { head: 'bad reads', align: 'right', cell: (w) => String(w.errors) },
];

/** Keep the first `max` rows, sum the rest into one "… more" row. */
function capRows<R, M>(rows: R[], max: number, more: (rest: R[]) => M): (R | M)[] {
  if (rows.length <= max) return rows;
  const keep = Math.max(0, max - 1);
  return [...rows.slice(0, keep), more(rows.slice(keep))];
}

/** The live frame: title, caches, workers, totals; every line within width, the whole within height. */
export function renderFrame(s: Snapshot, o: FrameOptions = {}): string {
  const width = Math.max(40, Math.floor(o.width ?? 80));
  const height = Math.max(16, Math.floor(o.height ?? 24));
  const color = o.color === true;
  const total = s.workers.reduce((a, w) => a + w.readsPerSec, 0);
  const totalU = s.workers.reduce((a, w) => a + w.updatesPerSec, 0);
  const bad = s.workers.reduce((a, w) => a + w.errors, 0);
  // Title in two short lines rather than one that wraps at 80 columns.
  const title = [
    `slabrcu demo  ${s.elapsedS.toFixed(1)}s / ${s.durationS}s   sessions in table: ${s.tableCount}   RCU GPs: ${s.gpsCompleted} (${s.gpsPerSec.toFixed(0)}/s)`,
    `total: ${k(total)} reads/s, ${k(totalU)} updates/s, ${bad} bad reads`,
  ];
  // Rows left for the two tables: each takes its rows + 4 (borders, header, separator).
  const budget = height - 1 - title.length - 8;
  const cacheMax = Math.max(2, Math.min(s.caches.length, Math.ceil(budget / 2)));
  const workerMax = Math.max(2, budget - Math.min(s.caches.length, cacheMax));
  const cacheRows = capRows<CacheRow, CacheRow>(s.caches, cacheMax, (rest) => ({ name: '', more: rest.length }));
  const workerRows = capRows<WorkerRow, WorkerRow>(s.workers, workerMax, (rest) => ({
    more: rest.length,
    readsPerSec: rest.reduce((a, w) => a + w.readsPerSec, 0),
    updatesPerSec: rest.reduce((a, w) => a + w.updatesPerSec, 0),
    errors: rest.reduce((a, w) => a + w.errors, 0),
  }));
  const lines = [
    ...title,
    ...fitTable(CACHE_COLS, cacheRows, width, color).split('\n'),
    ...fitTable(WORKER_COLS, workerRows, width, color).split('\n'),
  ];
  return lines.map((l) => fitLine(l, width)).join('\n');
}

/** One plain line per tick, for logs and pipes. */
export function renderLine(s: Snapshot): string {
  const sess = s.caches.find((c) => c.name === 'session');
  const reads = s.workers.reduce((a, w) => a + w.readsPerSec, 0);
  const ups = s.workers.reduce((a, w) => a + w.updatesPerSec, 0);
  const bad = s.workers.reduce((a, w) => a + w.errors, 0);
  return (
    `[${s.elapsedS.toFixed(1)}s] reads/s ${k(reads)} updates/s ${k(ups)} bad ${bad}` +
    (sess ? ` | session active ${sess.activeObjs} total ${sess.numObjs} slabs ${sess.numSlabs} kfreeRcu pending ${sess.kfreeRcuPending ?? '?'}` : '') +
    ` | GPs ${s.gpsCompleted}`
  );
}

/**
 * Word-wrap prose to `width` columns (each line separately; a continuation is indented
 * two columns more than its line). Infinity: unchanged. Lines without spaces to break
 * at (paths, tables) are cut with fitLine rather than left to wrap.
 */
export function wrapText(text: string, width: number): string {
  if (!Number.isFinite(width)) return text;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (visibleWidth(line) <= width) {
      out.push(line);
      continue;
    }
    const indent = /^\s*/.exec(line)![0];
    const cont = indent + '  ';
    let cur = '';
    for (const word of line.slice(indent.length).split(' ')) {
      const lead = cur === '' ? '' : ' ';
      if (cur !== '' && visibleWidth(cur + lead + word) > width) {
        out.push(fitLine(cur, width));
        cur = cont + word;
      } else {
        cur = cur === '' ? indent + word : cur + lead + word;
      }
    }
    if (cur !== '') out.push(fitLine(cur, width));
  }
  return out.join('\n');
}
