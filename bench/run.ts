/**
 * `npm run bench`: runs every benchmark section of the project and writes
 * bench/results.md and one SVG chart per section (bench/*.svg).
 *
 * Each section runs in its own child process (a fresh heap and JIT, so the 1M plain
 * objects of one section do not slow the GC of the next), one after the other (the
 * machine may have only 2 cores). A section whose module does not exist yet is
 * skipped and listed as such, so the harness works while the project grows.
 *
 * To add a section: write bench/<name>.ts exporting `async function benchX(opts?:
 * BenchOptions): Promise<BenchSection | BenchSection[]>` and add a line to SECTIONS.
 *
 * Usage: node dist/bench/run.js [--only slab,rcu] [--quick] [--out DIR] [--json]
 * (--quick writes to bench/quick/, gitignored, unless --out says otherwise).
 */
import { fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, platform, release } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';
import { chartFileName, sectionChart } from './charts.js';
import { resultsMarkdown, type BenchResults, type Machine } from './report.js';
import type { BenchOptions, BenchSection } from './types.js';

export interface SectionEntry {
  /** Short id for --only. */
  id: string;
  /** Module path relative to this file (compiled .js). */
  module: string;
  /** Name of the exported function. */
  fn: string;
}

/** Every section of the project, in report order. */
export const SECTIONS: readonly SectionEntry[] = [
  { id: 'slab', module: './slab.js', fn: 'benchSlab' },
  { id: 'i12', module: './issue12.js', fn: 'benchIssue12' },
  { id: 'rcu', module: './rcu.js', fn: 'benchRcu' },
  { id: 'kfree', module: './kfree.js', fn: 'benchKfree' },
  { id: 'debug', module: './debug.js', fn: 'benchDebug' },
];

export interface RunOptions {
  only?: string[];
  quick?: boolean;
  /** Where results.md and the SVGs go (default: the source bench/ directory). */
  out?: string;
  /** Called as sections progress (the CLI draws bars with it). */
  onProgress?: (ev: ProgressEvent) => void;
}

export type ProgressEvent =
  | { kind: 'section-start'; id: string; index: number; total: number }
  | { kind: 'section-progress'; id: string; done: number; total: number; label: string }
  | { kind: 'section-end'; id: string; ok: boolean; reason?: string };

/** Messages from a section child to the parent. */
type ChildMsg =
  | { t: 'progress'; done: number; total: number; label: string }
  | { t: 'result'; sections: BenchSection[] }
  | { t: 'missing'; reason: string }
  | { t: 'error'; message: string };

const HERE = new URL('.', import.meta.url);
/** The source bench/ directory (this file runs from dist/bench/). */
export const DEFAULT_OUT = fileURLToPath(new URL('../../bench/', import.meta.url));
/** Where --quick runs write (gitignored): their figures are not representative. */
export const QUICK_OUT = fileURLToPath(new URL('../../bench/quick/', import.meta.url));

/** The output directory of a run: --out, else bench/quick/ for --quick, else bench/. */
export function outDir(o: { out?: string; quick?: boolean }): string {
  const out = resolve(o.out ?? (o.quick ? QUICK_OUT : DEFAULT_OUT));
  if (o.quick && out === resolve(DEFAULT_OUT)) {
    throw new RangeError(`runBench: --quick figures are not representative: refusing to write them over ${join(out, 'results.md')} (use another --out)`);
  }
  return out;
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    node: process.version,
    platform: `${platform()} ${release()}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

/** Run one section in a child process. */
function runChild(entry: SectionEntry, quick: boolean, onMsg: (m: ChildMsg) => void): Promise<ChildMsg> {
  return new Promise((resolveP) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', entry.id, ...(quick ? ['--quick'] : [])], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // The 1M-object GC baseline needs room; --expose-gc lets sections settle the heap between contenders.
      execArgv: ['--max-old-space-size=4096', '--expose-gc'],
    });
    let last: ChildMsg | undefined;
    child.on('message', (m: ChildMsg) => {
      if (m.t === 'progress') onMsg(m);
      else last = m;
    });
    child.on('exit', (code, signal) => {
      resolveP(last ?? { t: 'error', message: `section process exited with ${signal ?? `code ${code}`}` });
    });
  });
}

/** Child side: import the section and send its result. */
async function childMain(id: string, quick: boolean): Promise<void> {
  const send = (m: ChildMsg): void => void process.send!(m);
  const entry = SECTIONS.find((s) => s.id === id);
  if (!entry) return send({ t: 'error', message: `unknown section ${id}` });
  const url = new URL(entry.module, HERE);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // Only the section's own module missing means "not written yet"; anything else is a bug to show.
    if (err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(fileURLToPath(url))) {
      return send({ t: 'missing', reason: `bench/${entry.module.replace(/^\.\//, '').replace(/\.js$/, '.ts')} does not exist yet` });
    }
    return send({ t: 'error', message: err.stack ?? String(err) });
  }
  const fn = mod[entry.fn];
  if (typeof fn !== 'function') return send({ t: 'missing', reason: `bench/${entry.module} does not export ${entry.fn}()` });
  const opts: BenchOptions = { quick, progress: (done, total, label) => send({ t: 'progress', done, total, label }) };
  try {
    const r = (await (fn as (o: BenchOptions) => Promise<BenchSection | BenchSection[]>)(opts));
    send({ t: 'result', sections: Array.isArray(r) ? r : [r] });
  } catch (e) {
    send({ t: 'error', message: (e as Error).stack ?? String(e) });
  }
}

/** Run the sections, write results.md and the charts, return what was written. */
export async function runBench(o: RunOptions = {}): Promise<BenchResults & { files: string[] }> {
  const out = outDir(o);
  const chosen = o.only?.length ? SECTIONS.filter((s) => o.only!.includes(s.id)) : SECTIONS;
  const unknown = (o.only ?? []).filter((id) => !SECTIONS.some((s) => s.id === id));
  if (unknown.length) throw new RangeError(`unknown bench section(s): ${unknown.join(', ')} (known: ${SECTIONS.map((s) => s.id).join(', ')})`);
  const results: BenchResults = { machine: machine(), sections: [], skipped: [], charts: {} };
  for (const [index, entry] of chosen.entries()) {
    o.onProgress?.({ kind: 'section-start', id: entry.id, index, total: chosen.length });
    const m = await runChild(entry, o.quick ?? false, (p) => {
      if (p.t === 'progress') o.onProgress?.({ kind: 'section-progress', id: entry.id, done: p.done, total: p.total, label: p.label });
    });
    if (m.t === 'result') {
      results.sections.push(...m.sections);
      o.onProgress?.({ kind: 'section-end', id: entry.id, ok: true });
    } else {
      const reason = m.t === 'missing' ? m.reason : m.t === 'error' ? `failed: ${m.message.split('\n')[0]}` : 'no result';
      results.skipped.push({ id: entry.id, reason });
      o.onProgress?.({ kind: 'section-end', id: entry.id, ok: false, reason: m.t === 'error' ? m.message : reason });
    }
  }
  await mkdir(out, { recursive: true });
  const files: string[] = [];
  for (const s of results.sections) {
    const svg = sectionChart(s);
    if (!svg) continue;
    const name = chartFileName(s.title);
    results.charts[s.title] = name;
    await writeFile(join(out, name), svg);
    files.push(join(out, name));
  }
  const md = join(out, 'results.md');
  await writeFile(md, resultsMarkdown(results));
  files.push(md);
  return { ...results, files };
}

function parseArgs(argv: string[]): { child?: string; quick: boolean; only?: string[]; out?: string; json: boolean } {
  const r: { child?: string; quick: boolean; only?: string[]; out?: string; json: boolean } = { quick: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--child') r.child = argv[++i];
    else if (a === '--quick') r.quick = true;
    else if (a === '--json') r.json = true;
    else if (a === '--only') r.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--out') r.out = argv[++i];
    else throw new Error(`bench: unknown argument ${a}`);
  }
  return r;
}

// Run directly (node dist/bench/run.js) rather than imported by the CLI.
if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    await childMain(args.child, args.quick);
  } else {
    const { reportBenchToConsole } = await import('../src/cli/bench.js');
    process.exitCode = await reportBenchToConsole({ only: args.only, quick: args.quick, out: args.out, json: args.json }, runBench);
  }
}
