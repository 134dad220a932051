/**
 * `slabrcu demo` (= `npm start`): the seed made visible.
 *
 * Act 1, traffic: worker threads share an RCU hash table of "session" objects living in a
 * kmem cache. Readers look sessions up in read sections; writers replace them (copy,
 * update, publish) and kfreeRcu the old versions. A live view shows the caches (active
 * and total objects, slabs, objects waiting in kfreeRcu batches), grace periods, and
 * each worker's rates.
 *
 * Act 2, "module unload": the workers stop, every session is unlinked and handed to
 * kfreeRcu, and the cache is destroyed while thousands of those frees are still in
 * flight. destroy() returns at once (timed), a new cache with the same name is created
 * right away, and later the asynchronous report arrives: released, 0 leaked.
 * With --leak a writer "forgets" to free a few sessions: the report then carries the
 * kernel's warning and the leaked objects with their allocation traces.
 */
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Arena, type SlabWarning } from '../arena.js';
import { SLAB_STORE_USER } from '../flags.js';
import { RcuHashTable } from '../rht/index.js';
import type { Cache } from '../slab/cache.js';
import type { DestroyReport } from '../slab/destroy.js';
import {
  STOP, W_ALLOC_FAIL, W_ERRORS, W_LEAKED, W_READS, W_UPDATES, controlBuffer, workerWord, type DemoWorkerData, type Role,
} from './control.js';
import { SESSION_CACHE, Session, initSession } from './session.js';
import { createLogUpdate } from 'log-update';
import { leakReport } from './leak.js';
import { compactSlabinfo, fitSlabinfo, parseSlabinfo } from './slabinfo.js';
import { renderFrame, renderLine, wrapText, type Snapshot, type WorkerRate } from './view.js';
import { useColor } from '../cli/util.js';

export interface DemoOptions {
  /** Worker threads (half writers, at least one; the rest readers). Default 4. */
  workers?: number;
  /** Seconds of traffic before the unload. Default 18 (the whole demo takes about 20 s). */
  duration?: number;
  /** Make one writer leak sessions, to show the leak report. */
  leak?: boolean;
  /** Sessions in the table. Default 20000. */
  sessions?: number;
  /** Where the human-readable story goes; undefined = silent (JSON mode). */
  out?: NodeJS.WriteStream;
}

export interface DemoSummary {
  workers: { index: number; role: Role; reads: number; updates: number; badReads: number; allocFailures: number; leaked: number }[];
  durationS: number;
  reads: number;
  updates: number;
  badReads: number;
  gracePeriods: number;
  unload: {
    sessionsUnlinked: number;
    kfreeRcuInFlight: number;
    destroyReturnedMs: number;
    /** The promise had not settled when destroy() returned. */
    destroyReturnedBeforeReport: boolean;
    recreatedSameName: boolean;
    recreateMs: number;
    reportMs: number;
    report: DestroyReport;
  };
  warnings: { kind: string; message: string }[];
  slabinfoBefore: string;
  slabinfoAfter: string;
}

const LEAK_COUNT = 3;

/** Thread slots of the demo's arena: the main thread and up to DEMO_MAX_WORKERS workers. */
export const DEMO_MAX_THREADS = 64;
export const DEMO_MAX_WORKERS = DEMO_MAX_THREADS - 1;

function cacheRows(arena: Arena, pending: Map<string, number>): Snapshot['caches'] {
  return parseSlabinfo(arena.slabinfo())
    .filter((r) => r.numObjs > 0 || r.name === SESSION_CACHE)
    .map((r) => ({ ...r, kfreeRcuPending: pending.get(r.name) }));
}

/** slabinfo for the story: whole lines for logs and pipes, the columns that fit on a terminal. */
function slabinfoText(text: string, width: number): string {
  if (width === Infinity) {
    const c = compactSlabinfo(text, [SESSION_CACHE]);
    return c.text + (c.omitted ? `\n(${c.omitted} empty caches not shown)` : '');
  }
  const f = fitSlabinfo(text, width, [SESSION_CACHE]);
  const notes = [
    ...(f.omitted ? [`(${f.omitted} empty caches not shown)`] : []),
    ...(f.droppedColumns.length ? [`(columns not shown, to fit ${width}: ${f.droppedColumns.join(', ')})`] : []),
  ];
  return [f.text, ...notes].join('\n');
}

/** What the story writes to: the terminal's width and a line writer (silent without `out`). */
interface Story {
  out: NodeJS.WriteStream | undefined;
  tty: boolean;
  color: boolean;
  /** What fits: the terminal's columns (80 at least); logs and pipes get whole lines. */
  columns(): number;
  say(s?: string): void;
}

/** The demo's arena, its session cache (replaced by the one created again after the unload) and the table. */
interface DemoWorld {
  arena: Arena;
  cache: Cache;
  table: RcuHashTable;
  warnings: SlabWarning[];
  flags: number;
}

/** The worker threads, their roles and the control words they share with the main thread. */
interface DemoCrew {
  roles: Role[];
  writers: number;
  ctl: SharedArrayBuffer;
  c32: Int32Array;
  workers: Worker[];
  /** Settles when a worker posts its final message. */
  done: Promise<void>[];
  /** Settles with a worker's exit code (rejects on its 'error'). */
  exited: Promise<number>[];
}

/** The destroy() of the old cache, timed: its pending report, and `settled` once that report is there. */
interface TimedDestroy {
  pending: Promise<DestroyReport>;
  tDestroy: number;
  destroyReturnedMs: number;
  settled: boolean;
}

/** The validated options: worker count, seconds of traffic, sessions in the table. */
function demoSettings(o: DemoOptions): { nWorkers: number; durationS: number; sessions: number } {
  const nWorkers = o.workers ?? 4;
  if (!Number.isInteger(nWorkers) || nWorkers < 1 || nWorkers > DEMO_MAX_WORKERS) {
    throw new RangeError(`runDemo: workers must be an integer in 1..${DEMO_MAX_WORKERS} (the demo arena has ${DEMO_MAX_THREADS} thread slots, one is the main thread's), got ${String(o.workers)}`);
  }
  const durationS = o.duration ?? 18;
  if (!(durationS > 0) || !Number.isFinite(durationS)) throw new RangeError(`runDemo: duration must be a positive number of seconds, got ${String(o.duration)}`);
  const sessions = o.sessions ?? 20_000;
  return { nWorkers, durationS, sessions };
}

/** The story's writer over `out`: wrapped to the terminal, whole lines for logs and pipes. */
function storyOf(out: NodeJS.WriteStream | undefined): Story {
  const tty = out?.isTTY === true;
  const color = useColor(out);
  const columns = (): number => (tty ? Math.max(80, out!.columns ?? 80) : Infinity);
  const say = (s = ''): void => void out?.write(wrapText(s, columns()) + '\n');
  return { out, tty, color, columns, say };
}

/** The arena, the session cache, and the RCU hash table filled with `sessions` sessions. */
function buildWorld(sessions: number, leak: boolean | undefined): DemoWorld {
  const warnings: SlabWarning[] = [];
  const arena = Arena.create({ bytes: 64 << 20, maxBytes: 512 << 20, maxThreads: DEMO_MAX_THREADS, onWarning: (w) => warnings.push(w) });
  const flags = leak ? SLAB_STORE_USER : 0; // alloc/free tracks: the leak report shows where each object came from
  // Percpu sheaves: sessions are freed in another order than allocated (and by other
  // threads), and kfreeRcu of a sheaf cache fills kfree_rcu sheaves that the writers
  // allocate from again after their grace period.
  const cache = arena.createCache(SESSION_CACHE, { size: Session.size, align: Session.align, flags, sheafCapacity: 32 });
  const table = RcuHashTable.create(arena, { struct: Session, key: 'id', next: 'next', buckets: 8192 });
  for (let id = 1; id <= sessions; id++) {
    const p = cache.alloc();
    if (p === 0) throw new Error('demo: arena too small for the sessions');
    initSession(arena, p, id, 0);
    table.insert(p);
  }
  return { arena, cache, table, warnings, flags };
}

/** Half the workers (at least one) write, the rest read; the control words they share. */
function planCrew(nWorkers: number): Pick<DemoCrew, 'roles' | 'writers' | 'ctl' | 'c32'> {
  const writers = Math.max(1, Math.floor(nWorkers / 2));
  const roles: Role[] = Array.from({ length: nWorkers }, (_, i) => (i < writers ? 'writer' : 'reader'));
  const ctl = controlBuffer(nWorkers);
  return { roles, writers, ctl, c32: new Int32Array(ctl) };
}

/** The story's opening lines: what runs, on how many threads, for how long. */
function sayIntro(story: Story, sessions: number, nWorkers: number, writers: number, durationS: number, leak: boolean | undefined): void {
  story.say(`slabrcu demo: ${sessions} sessions in an RCU hash table, ${writers} writer(s) and ${nWorkers - writers} reader(s) on worker threads, ${durationS}s of traffic${leak ? ', one writer leaks sessions (--leak)' : ''}`);
  story.say(`readers: lookups inside arena.rcu.read(); writers: copy, update, publish, then arena.kfreeRcu(old)`);
  story.say();
}

/** Start one worker per role, each watched by the arena, with its final message and exit as promises. */
function spawnCrew(world: DemoWorld, plan: Pick<DemoCrew, 'roles' | 'writers' | 'ctl' | 'c32'>, sessions: number, leak: boolean | undefined): DemoCrew {
  const { arena, table } = world;
  const done: Promise<void>[] = [];
  const exited: Promise<number>[] = [];
  const workers = plan.roles.map((role, index) => {
    const data: DemoWorkerData = { sab: arena.sab, ctl: plan.ctl, table: table.ptr, role, index, keys: sessions, leak: leak && index === 0 ? LEAK_COUNT : 0 };
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
    arena.watch(w); // if it dies, its slot is detached for it and its kfreeRcu batches adopted
    done.push(new Promise((resolve) => w.once('message', () => resolve())));
    exited.push(new Promise((resolve, reject) => {
      w.once('error', reject);
      w.once('exit', resolve);
    }));
    return w;
  });
  return { ...plan, workers, done, exited };
}

/** A promise that rejects as soon as a worker fails (exits with a nonzero code or throws); it never resolves. */
function crewFailure(crew: DemoCrew): Promise<never> {
  const failed = Promise.race(crew.exited.map((p) => p.then((code) => (code !== 0 ? Promise.reject(new Error(`demo worker exited with code ${code}`)) : new Promise<never>(() => {})))));
  failed.catch(() => {});
  return failed;
}

/** Each worker's rates since the previous sample (`last`, updated in place) over `dt` seconds. */
function sampleRates(crew: DemoCrew, last: { reads: number; updates: number }[], dt: number): WorkerRate[] {
  const c32 = crew.c32;
  return crew.roles.map((role, index) => {
    const reads = Atomics.load(c32, workerWord(index, W_READS)) >>> 0;
    const updates = Atomics.load(c32, workerWord(index, W_UPDATES)) >>> 0;
    const r: WorkerRate = {
      index, role,
      readsPerSec: ((reads - last[index]!.reads) >>> 0) / dt,
      updatesPerSec: ((updates - last[index]!.updates) >>> 0) / dt,
      errors: Atomics.load(c32, workerWord(index, W_ERRORS)),
    };
    last[index] = { reads, updates };
    return r;
  });
}

/** Act 1's live view: a frame (terminal) or a line (logs) per tick until `durationS` is up, or a worker fails. */
async function liveView(
  world: DemoWorld, crew: DemoCrew, story: Story, durationS: number, t0: number, gps: () => number,
  region: ReturnType<typeof createLogUpdate> | undefined, failed: Promise<never>,
): Promise<void> {
  const last = crew.roles.map(() => ({ reads: 0, updates: 0 }));
  let lastT = t0;
  let lastGp = 0;
  const tickMs = story.tty ? 250 : 1000;
  while (performance.now() - t0 < durationS * 1000) {
    await Promise.race([sleep(Math.min(tickMs, durationS * 1000 - (performance.now() - t0))), failed]);
    const now = performance.now();
    const dt = Math.max(1e-3, (now - lastT) / 1000);
    const rates = sampleRates(crew, last, dt);
    const g = gps();
    const snap: Snapshot = {
      elapsedS: (now - t0) / 1000, durationS, gpsCompleted: g, gpsPerSec: (g - lastGp) / dt, workers: rates, tableCount: world.table.count,
      caches: cacheRows(world.arena, new Map([[SESSION_CACHE, world.cache.stats().kfree_rcu_pending]])),
    };
    lastT = now;
    lastGp = g;
    if (region) region(renderFrame(snap, { width: story.columns(), height: story.out!.rows ?? 24, color: story.color }));
    else story.say(renderLine(snap));
  }
}

/**
 * Act 1, traffic with the live view, then the workers told to stop and awaited. A worker
 * that fails (it could not attach, it threw) stops the demo: the others are told to stop
 * and terminated, so a failure never leaves the process hanging. Returns the counter of
 * grace periods completed since the traffic began.
 */
async function runTraffic(world: DemoWorld, crew: DemoCrew, story: Story, durationS: number): Promise<() => number> {
  const arena = world.arena;
  const gp0 = arena.rcu.getState();
  const gps = (): number => Math.max(0, ((arena.rcu.getState() - gp0) | 0) >> 2);
  const t0 = performance.now();
  const region = story.tty ? createLogUpdate(story.out!) : undefined;
  const failed = crewFailure(crew);
  try {
    await liveView(world, crew, story, durationS, t0, gps, region, failed);
    region?.done();

    // ---- act 2: module unload
    Atomics.store(crew.c32, STOP, 1);
    await Promise.race([Promise.all(crew.done), failed]);
    await Promise.all(crew.exited);
  } catch (e) {
    Atomics.store(crew.c32, STOP, 1);
    region?.done();
    await Promise.allSettled(crew.workers.map((w) => w.terminate()));
    throw e;
  }
  return gps;
}

/** Each worker's final counters, from the control words. */
function workerTotals(crew: DemoCrew): DemoSummary['workers'] {
  const c32 = crew.c32;
  return crew.roles.map((role, index) => ({
    index, role,
    reads: Atomics.load(c32, workerWord(index, W_READS)) >>> 0,
    updates: Atomics.load(c32, workerWord(index, W_UPDATES)) >>> 0,
    badReads: Atomics.load(c32, workerWord(index, W_ERRORS)),
    allocFailures: Atomics.load(c32, workerWord(index, W_ALLOC_FAIL)),
    leaked: Atomics.load(c32, workerWord(index, W_LEAKED)),
  }));
}

/** Act 2's start: every session unlinked and passed to kfreeRcu, and the slabinfo shown before the destroy. */
function unlinkSessions(world: DemoWorld, story: Story): { unlinked: number; inFlight: number; slabinfoBefore: string } {
  const say = story.say;
  say();
  say('== module unload ==');
  say(`workers stopped and exited (arena.watch detached their slots; their kfreeRcu batches were adopted)`);
  const unlinked = world.table.clear(); // every session goes to kfreeRcu now
  const inFlight = world.cache.stats().kfree_rcu_pending;
  say(`table cleared: ${unlinked} sessions unlinked and passed to arena.kfreeRcu(); ${inFlight} objects of '${SESSION_CACHE}' are in flight in kfreeRcu batches`);
  const slabinfoBefore = world.arena.slabinfo();
  say();
  say('slabinfo before destroy:');
  say(slabinfoText(slabinfoBefore, story.columns()));
  say();
  return { unlinked, inFlight, slabinfoBefore };
}

/** cache.destroy(), timed: it returns at once, its report settles later (unless nothing was in flight). */
function timedDestroy(world: DemoWorld): TimedDestroy {
  const tDestroy = performance.now();
  const pending = world.cache.destroy();
  const d: TimedDestroy = { pending, tDestroy, destroyReturnedMs: performance.now() - tDestroy, settled: false };
  void pending.then(() => (d.settled = true), () => (d.settled = true));
  return d;
}

/** How long destroy() took to return, and whether its report was already there. */
function sayDestroyReturned(story: Story, d: TimedDestroy): void {
  story.say(`await cache.destroy() -> destroy() returned in ${d.destroyReturnedMs.toFixed(3)} ms; the report is ${d.settled ? 'already there (nothing was in flight)' : 'pending: the kfreeRcu barrier runs asynchronously'}`);
}

/** The name is free at once (the kernel removes the sysfs entry immediately): a cache of the same name, created and used right away. */
function recreateCache(world: DemoWorld, story: Story, d: TimedDestroy): { recreated: boolean; recreateMs: number } {
  const tCreate = performance.now();
  let recreated = false;
  try {
    world.cache = world.arena.createCache(SESSION_CACHE, { size: Session.size, align: Session.align, flags: world.flags, sheafCapacity: 32 });
    const p = world.cache.alloc();
    initSession(world.arena, p, 1, 0);
    world.cache.free(p);
    recreated = true;
  } catch (e) {
    story.say(`createCache('${SESSION_CACHE}') again failed: ${(e as Error).message}`);
  }
  const recreateMs = performance.now() - tCreate;
  if (recreated) {
    story.say(`createCache('${SESSION_CACHE}') again right away: OK in ${recreateMs.toFixed(3)} ms` +
      (d.settled ? '' : ' (a new cache, while the old one is still waiting for its kfreeRcu objects)'));
  }
  return { recreated, recreateMs };
}

/** The destroy report that arrived (with the leak report, if any), and the slabinfo after it. */
function sayReport(world: DemoWorld, story: Story, d: TimedDestroy, report: DestroyReport): { reportMs: number; slabinfoAfter: string } {
  const say = story.say;
  const reportMs = performance.now() - d.tDestroy;
  say(`destroy report after ${reportMs.toFixed(1)} ms: status ${report.status}, deferred ${report.deferred}, leaked ${report.leaked}${report.waitedFor?.length ? `, waited for ${report.waitedFor.join(', ')}` : ''}`);
  if (report.warning) {
    say();
    say(leakReport(report));
  }
  const slabinfoAfter = world.arena.slabinfo();
  say();
  say('slabinfo after:');
  say(slabinfoText(slabinfoAfter, story.columns()));
  return { reportMs, slabinfoAfter };
}

/** Tidy up: the new cache is empty; the table's buckets go after a grace period; the main thread detaches. */
async function tidyUp(world: DemoWorld, recreated: boolean): Promise<void> {
  if (recreated) world.cache.destroySync();
  await world.table.destroyAsync();
  world.arena.detach();
}

/** The totals over every worker. */
function crewTotals(perWorker: DemoSummary['workers']): Pick<DemoSummary, 'reads' | 'updates' | 'badReads'> {
  const sum = (f: (w: DemoSummary['workers'][number]) => number): number => perWorker.reduce((a, w) => a + f(w), 0);
  return { reads: sum((w) => w.reads), updates: sum((w) => w.updates), badReads: sum((w) => w.badReads) };
}

/** The demo: act 1 (traffic on worker threads, with the live view), then act 2 (module unload); returns what it measured. */
export async function runDemo(o: DemoOptions = {}): Promise<DemoSummary> {
  const { nWorkers, durationS, sessions } = demoSettings(o);
  const story = storyOf(o.out);
  const world = buildWorld(sessions, o.leak);
  const plan = planCrew(nWorkers);
  sayIntro(story, sessions, nWorkers, plan.writers, durationS, o.leak);
  const crew = spawnCrew(world, plan, sessions, o.leak);

  // ---- act 1: traffic, with the live view (then the workers stop: act 2, module unload)
  const gps = await runTraffic(world, crew, story, durationS);
  const perWorker = workerTotals(crew);
  const gracePeriods = gps();
  const { unlinked, inFlight, slabinfoBefore } = unlinkSessions(world, story);
  const destroyed = timedDestroy(world);
  await Promise.resolve(); // a report produced synchronously would have settled by now
  const returnedBefore = !destroyed.settled;
  sayDestroyReturned(story, destroyed);
  const { recreated, recreateMs } = recreateCache(world, story, destroyed);
  const report = await destroyed.pending;
  const { reportMs, slabinfoAfter } = sayReport(world, story, destroyed, report);
  await tidyUp(world, recreated);

  const totals = crewTotals(perWorker);
  const summary: DemoSummary = {
    workers: perWorker,
    durationS,
    reads: totals.reads,
    updates: totals.updates,
    badReads: totals.badReads,
    gracePeriods,
    unload: {
      sessionsUnlinked: unlinked,
      kfreeRcuInFlight: inFlight,
      destroyReturnedMs: destroyed.destroyReturnedMs,
      destroyReturnedBeforeReport: returnedBefore,
      recreatedSameName: recreated,
      recreateMs,
      reportMs,
      report,
    },
    warnings: world.warnings.map((w) => ({ kind: w.kind, message: w.message })),
    slabinfoBefore,
    slabinfoAfter,
  };
  story.say();
  story.say(`${summary.reads} lookups, ${summary.updates} updates, ${summary.badReads} bad reads, ${gracePeriods} grace periods`);
  return summary;
}
