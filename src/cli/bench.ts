/**
 * `slabrcu bench`: runs bench/run.ts (only present in a clone of the repository: the
 * published package ships the library and the CLI, not the benchmarks), shows progress
 * bars on a terminal, prints each section's table, writes bench/results.md (with
 * --quick: bench/quick/results.md, gitignored; the committed results are never
 * overwritten by a quick run).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import cliProgress from 'cli-progress';
import { useColor } from './util.js';

/** The section ids of bench/run.ts SECTIONS (a test checks they agree). */
export const BENCH_SECTIONS: readonly string[] = ['slab', 'i12', 'rcu', 'kfree', 'debug'];

export interface BenchCliOptions {
  only?: string[];
  quick?: boolean;
  out?: string;
  json?: boolean;
}

interface Row { name: string; value: number; unit: string; baseline?: string; ratio?: number; floor?: number }
interface Section { title: string; rows: Row[]; notes?: string[] }
export interface RunResult { sections: Section[]; skipped: { id: string; reason: string }[]; files: string[]; machine: object }
export type Progress =
  | { kind: 'section-start'; id: string; index: number; total: number }
  | { kind: 'section-progress'; id: string; done: number; total: number; label: string }
  | { kind: 'section-end'; id: string; ok: boolean; reason?: string };
export interface RunModule {
  runBench(o: { only?: string[]; quick?: boolean; out?: string; onProgress?: (e: Progress) => void }): Promise<RunResult>;
}

const RUN = new URL('../../bench/run.js', import.meta.url);

const num = (x: number): string =>
  Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(2);

/**
 * Run the benchmarks and report them. `run` is given when bench/run.js itself is the
 * entry point (importing it again from here would wait on its own evaluation).
 */
export async function reportBenchToConsole(o: BenchCliOptions, run?: RunModule['runBench']): Promise<number> {
  if (!run && !existsSync(fileURLToPath(RUN))) {
    process.stderr.write('slabrcu bench: the benchmarks are not part of the installed package; run `npm run bench` in a clone of the repository.\n');
    return 2;
  }
  const runBench = run ?? ((await import(RUN.href)) as RunModule).runBench;
  const tty = process.stdout.isTTY === true && !o.json;
  const bars = tty ? new cliProgress.MultiBar({ format: ' {bar} {percentage}% | {id} {label}', hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic) : undefined;
  let bar: cliProgress.SingleBar | undefined;
  const res = await runBench({
    only: o.only,
    quick: o.quick,
    out: o.out,
    onProgress(e) {
      if (e.kind === 'section-start') {
        if (bars) bar = bars.create(1, 0, { id: e.id, label: '' });
        else if (!o.json) process.stderr.write(`bench: ${e.id} (${e.index + 1}/${e.total})\n`);
      } else if (e.kind === 'section-progress') {
        bar?.setTotal(e.total);
        bar?.update(e.done, { label: e.label });
      } else {
        bar?.update(bar.getTotal(), { label: e.ok ? 'done' : 'skipped' });
        if (!e.ok && !o.json) process.stderr.write(`bench: ${e.id} skipped: ${e.reason}\n`);
      }
    },
  });
  bars?.stop();
  if (o.json) {
    process.stdout.write(JSON.stringify(res, null, 2) + '\n');
    return 0;
  }
  for (const s of res.sections) {
    const color = useColor(process.stdout);
    const t = new Table({ head: ['benchmark', 'median', 'unit', 'ratio', 'floor'], style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] } });
    for (const r of s.rows) {
      const floor = r.floor === undefined ? '' : `≥${r.floor}× ${r.ratio !== undefined && r.ratio >= r.floor ? 'met' : 'MISSED'}`;
      t.push([r.name, num(r.value), r.unit, r.ratio === undefined ? '' : `${num(r.ratio)}×`, floor]);
    }
    process.stdout.write(`\n${s.title}\n${t.toString()}\n`);
  }
  process.stdout.write(`\nwrote ${res.files.join(', ')}\n`);
  return 0;
}
