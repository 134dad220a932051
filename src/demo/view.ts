/**
 * The demo's live view: a slabtop-like table redrawn in place on a terminal, or one
 * plain line per tick when stdout is not a terminal (CI logs, pipes).
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

const k = (x: number): string =>
  x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(1)}k` : String(Math.round(x));

export function renderTable(s: Snapshot): string {
  const caches = new Table({
    head: ['cache', 'active objs', 'total objs', 'obj size', 'slabs', 'kfreeRcu pending'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right'],
    style: { head: ['cyan'], compact: true },
  });
  for (const c of s.caches) {
    caches.push([c.name, c.activeObjs, c.numObjs, c.objSize, c.numSlabs, c.kfreeRcuPending ?? '']);
  }
  const workers = new Table({
    head: ['worker', 'role', 'reads/s', 'updates/s', 'bad reads'],
    colAligns: ['left', 'left', 'right', 'right', 'right'],
    style: { head: ['cyan'], compact: true },
  });
  for (const w of s.workers) workers.push([`#${w.index}`, w.role, k(w.readsPerSec), k(w.updatesPerSec), w.errors]);
  const total = s.workers.reduce((a, w) => a + w.readsPerSec, 0);
  const totalU = s.workers.reduce((a, w) => a + w.updatesPerSec, 0);
  return [
    `slabrcu demo  ${s.elapsedS.toFixed(1)}s / ${s.durationS}s   sessions in table: ${s.tableCount}   RCU grace periods: ${s.gpsCompleted} (${s.gpsPerSec.toFixed(0)}/s)`,
    caches.toString(),
    workers.toString(),
    `total: ${k(total)} reads/s, ${k(totalU)} updates/s`,
  ].join('\n');
}

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

/** Redraws a block of text in place (cursor up + clear to end of screen). */
export class LiveRegion {
  private lines = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}
  draw(text: string): void {
    if (this.lines > 0) this.out.write(`\x1b[${this.lines}A\x1b[0J`);
    this.out.write(text + '\n');
    this.lines = text.split('\n').length;
  }
  /** Keep what is on screen and start fresh below it. */
  done(): void {
    this.lines = 0;
  }
}
