/**
 * RCU torture test (Node only): liburcu's rcutorture "rcu_stress" / the kernel's
 * rcutorture pipeline, on real worker threads over one arena.
 *
 * A pipeline of RCU_STRESS_PIPE_LEN elements { pipe_count, mbtest } lives in the arena.
 * The writer reinitialises the next element (mbtest = 0, pipe_count = 0, mbtest = 1),
 * publishes it as `current`, ages every other element by one, then waits for a grace
 * period (cycling through synchronize(), synchronizeAsync(), startPoll()+pollState()
 * and call()). Readers, inside a read section, load `current`, check mbtest (0 means
 * they see an element being recycled under them: a memory-ordering error) and record
 * its pipe_count in a histogram. An element a reader can still see has been aged at most
 * once (the GP after it was replaced waited for that reader), so any age above 1 is a
 * failure. `broken: true` makes the writer's GPs skip the wait for readers: the run must
 * then report failures (that is what proves the test can catch a broken RCU).
 *
 * Shared words (in one kmalloc'd block, "globals"; indices below):
 *   TG_CURRENT  byte offset of the current element; Atomics.store by the writer after the
 *               element's fields, Atomics.load by readers (rcu_assign_pointer /
 *               rcu_dereference).
 *   TG_STOP     set to 1 by the main thread (Atomics.store) when time is up.
 *   TG_READS / TG_UPDATES  progress counters (Atomics.add by readers / the writer).
 * Element fields: E_PIPE, E_MBTEST: Atomics.store by the writer, Atomics.load by readers,
 * and Atomics.add(E_PIPE) by the writer's ageing pass.
 */
import { Worker } from 'node:worker_threads';
import { Arena } from '../arena.js';

export const RCU_STRESS_PIPE_LEN = 10;
export const TG_CURRENT = 0;
export const TG_STOP = 1;
export const TG_READS = 2;
export const TG_UPDATES = 3;
export const TG_ELEMS = 16; // element pointers from here
export const E_PIPE = 0;
export const E_MBTEST = 1;

/** Options of {@link runTorture}. */
export interface TortureOptions {
  /** RCU flavour of the torture arena (default 'memb'). */
  flavour?: 'memb' | 'qsbr';
  /** How long to run (default 5 s). */
  seconds?: number;
  /** Reader workers, 1..32 (default 2). */
  readers?: number;
  /** Skip the wait for readers in the writer's grace periods: must produce failures. */
  broken?: boolean;
  /**
   * memb readers' readUnlock() path (rcu.setUnlockPath): 'x64' (plain store; the default
   * on x64) or 'portable' (Atomics.exchange). Default: the threads' default.
   */
  unlock?: 'x64' | 'portable';
  /** Called about every 250 ms with the progress so far. */
  onProgress?: (p: { elapsedMs: number; reads: number; updates: number }) => void;
}

/** What {@link runTorture} measured and found. */
export interface TortureResult {
  /** RCU flavour used. */
  flavour: 'memb' | 'qsbr';
  /** Seconds run. */
  seconds: number;
  /** Reader workers. */
  readers: number;
  /** True when run with `broken` (failures expected). */
  broken: boolean;
  /** The readers' unlock path. */
  unlock: 'x64' | 'portable';
  /** histogram[age] = reads that saw an element of that age (the last bucket is "PIPE_LEN or more"). */
  histogram: number[];
  /** Reads done by all readers. */
  reads: number;
  /** Updates done by the writer. */
  updates: number;
  /** Grace periods the writer waited for. */
  gracePeriods: number;
  /** Reads that saw an element older than one grace period. */
  failures: number;
  /** Reads that saw an element being recycled (mbtest == 0). */
  mbErrors: number;
  /** True when no read saw an element older than one grace period and none was recycled under it (false is expected with `broken`). */
  passed: boolean;
  /** urcutorture-style text. */
  summary: string;
}

export interface TortureWorkerData {
  role: 'reader' | 'writer';
  sab: SharedArrayBuffer;
  globals: number; // word index
  broken: boolean;
  unlock?: 'x64' | 'portable';
}

export interface TortureWorkerResult {
  role: 'reader' | 'writer';
  histogram?: number[];
  reads?: number;
  mbErrors?: number;
  updates?: number;
  gracePeriods?: number;
  error?: string;
}

/** The validated options (seconds and readers), with their defaults. */
function tortureSettings(o: TortureOptions): { flavour: 'memb' | 'qsbr'; seconds: number; readers: number; broken: boolean } {
  const flavour = o.flavour ?? 'memb';
  const seconds = o.seconds ?? 5;
  const readers = o.readers ?? 2;
  const broken = o.broken ?? false;
  if (!(seconds > 0)) throw new RangeError('runTorture: seconds must be > 0');
  if (!Number.isInteger(readers) || readers < 1 || readers > 32) throw new RangeError('runTorture: readers must be an integer in 1..32');
  return { flavour, seconds, readers, broken };
}

/** The shared words ("globals") and the pipeline's elements, the first one current; returns the globals' word index. */
function buildPipeline(arena: Arena): number {
  const i32 = arena.i32;
  const gp = arena.kmalloc(256);
  if (gp === 0) throw new Error('runTorture: arena exhausted');
  const g = gp >> 2;
  for (let k = 0; k < 64; k++) Atomics.store(i32, g + k, 0);
  for (let k = 0; k < RCU_STRESS_PIPE_LEN; k++) {
    const e = arena.kmalloc(64);
    Atomics.store(i32, (e >> 2) + E_PIPE, RCU_STRESS_PIPE_LEN);
    Atomics.store(i32, (e >> 2) + E_MBTEST, 1);
    Atomics.store(i32, g + TG_ELEMS + k, e);
  }
  Atomics.store(i32, g + TG_CURRENT, Atomics.load(i32, g + TG_ELEMS));
  Atomics.store(i32, (Atomics.load(i32, g + TG_ELEMS) >> 2) + E_PIPE, 0);
  return g;
}

/** The readers and the writer, each watched by the arena: their results, and a promise that settles once all are ready (or one exited first). */
function spawnWorkers(arena: Arena, data: Omit<TortureWorkerData, 'role'>, readers: number): { results: Promise<TortureWorkerResult>[]; allStarted: Promise<void> } {
  const url = new URL('./torture-worker.js', import.meta.url);
  const results: Promise<TortureWorkerResult>[] = [];
  let started = 0;
  const allStarted = new Promise<void>((resolveStarted) => {
    const spawn = (role: 'reader' | 'writer'): void => {
      const w = new Worker(url, { workerData: { role, ...data } satisfies TortureWorkerData });
      arena.watch(w);
      results.push(
        new Promise((resolve) => {
          let got: TortureWorkerResult | undefined;
          w.on('message', (m: { type: string; result?: TortureWorkerResult }) => {
            if (m.type === 'ready' && ++started === readers + 1) resolveStarted();
            if (m.type === 'result') got = m.result;
          });
          w.on('error', (e) => {
            got = { role, error: e instanceof Error ? e.message : String(e) };
          });
          w.on('exit', () => {
            if (started < readers + 1) resolveStarted();
            resolve(got ?? { role, error: 'worker exited without a result' });
          });
        }),
      );
    };
    for (let k = 0; k < readers; k++) spawn('reader');
    spawn('writer');
  });
  return { results, allStarted };
}

/** Let the workers run for `seconds`, reporting progress about every 250 ms, then tell them to stop. */
async function runFor(i32: Int32Array, g: number, seconds: number, onProgress: TortureOptions['onProgress']): Promise<void> {
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(250, Math.max(1, end - performance.now()))));
    onProgress?.({ elapsedMs: performance.now() - t0, reads: Atomics.load(i32, g + TG_READS), updates: Atomics.load(i32, g + TG_UPDATES) });
  }
  Atomics.store(i32, g + TG_STOP, 1);
}

/** What the workers found, summed: the age histogram, the counters, and their errors. */
interface TortureTally {
  histogram: number[];
  reads: number;
  mbErrors: number;
  updates: number;
  gracePeriods: number;
  errors: string[];
  failures: number;
}

/** Sum the workers' results (`sharedUpdates` counts the updates if the writer died without a result). */
function tally(rs: TortureWorkerResult[], sharedUpdates: number): TortureTally {
  const histogram = new Array<number>(RCU_STRESS_PIPE_LEN + 1).fill(0);
  let reads = 0;
  let mbErrors = 0;
  let updates = 0;
  let gracePeriods = 0;
  const errors: string[] = [];
  for (const r of rs) {
    if (r.error) errors.push(`${r.role}: ${r.error}`);
    if (r.histogram) r.histogram.forEach((n, k) => (histogram[k]! += n));
    reads += r.reads ?? 0;
    mbErrors += r.mbErrors ?? 0;
    updates += r.updates ?? 0;
    gracePeriods += r.gracePeriods ?? 0;
  }
  if (updates === 0) updates = sharedUpdates; // the writer died: count what it published
  let failures = 0;
  for (let k = 2; k < histogram.length; k++) failures += histogram[k]!;
  return { histogram, reads, mbErrors, updates, gracePeriods, errors, failures };
}

/** The urcutorture-style text of a run. */
function summaryText(r: Omit<TortureResult, 'summary'>, errors: string[]): string {
  const { flavour, unlock, broken, readers, seconds, reads, updates, mbErrors, gracePeriods, histogram, failures, passed } = r;
  const lines = [
    `rcutorture (${flavour}${flavour === 'memb' ? `, ${unlock} unlock` : ''}${broken ? ', BROKEN: grace periods skip the wait' : ''}): ${readers} readers + 1 writer, ${seconds} s`,
    `n_reads: ${reads}  n_updates: ${updates}  n_mberror: ${mbErrors}  grace periods: ${gracePeriods}`,
    `rcu_stress_count: ${histogram.join(' ')}`,
  ];
  if (failures) lines.push(`!!! ${failures} reads saw an element older than one grace period (age > 1)`);
  if (mbErrors) lines.push(`!!! ${mbErrors} reads saw an element being recycled (memory-ordering errors)`);
  for (const e of errors) lines.push(`!!! ${e}`);
  lines.push(passed ? 'SUCCESS' : 'FAILURE');
  return lines.join('\n');
}

/** rcutorture / urcutorture's rcu_stress test on real workers: readers check the age of what they see, a writer recycles elements after each grace period. */
export async function runTorture(o: TortureOptions = {}): Promise<TortureResult> {
  const { flavour, seconds, readers, broken } = tortureSettings(o);
  const arena = Arena.create({ bytes: 4 << 20, maxThreads: readers + 4, rcu: flavour });
  const unlock = o.unlock ?? arena.rcu.unlockPath;
  const i32 = arena.i32;
  const g = buildPipeline(arena);
  const { results, allStarted } = spawnWorkers(arena, { sab: arena.sab, globals: g, broken, ...(o.unlock ? { unlock: o.unlock } : {}) }, readers);
  await allStarted;
  await runFor(i32, g, seconds, o.onProgress);
  const rs = await Promise.all(results);
  const sharedUpdates = Atomics.load(i32, g + TG_UPDATES);
  arena.detach();

  const { histogram, reads, mbErrors, updates, gracePeriods, errors, failures } = tally(rs, sharedUpdates);
  const passed = failures === 0 && mbErrors === 0 && errors.length === 0 && reads > 0 && updates > 0;
  const result = { flavour, seconds, readers, broken, unlock, histogram, reads, updates, gracePeriods, failures, mbErrors, passed };
  return { ...result, summary: summaryText(result, errors) };
}
