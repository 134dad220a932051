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

export async function runDemo(o: DemoOptions = {}): Promise<DemoSummary> {
  const nWorkers = o.workers ?? 4;
  if (!Number.isInteger(nWorkers) || nWorkers < 1 || nWorkers > DEMO_MAX_WORKERS) {
    throw new RangeError(`runDemo: workers must be an integer in 1..${DEMO_MAX_WORKERS} (the demo arena has ${DEMO_MAX_THREADS} thread slots, one is the main thread's), got ${String(o.workers)}`);
  }
  const durationS = o.duration ?? 18;
  if (!(durationS > 0) || !Number.isFinite(durationS)) throw new RangeError(`runDemo: duration must be a positive number of seconds, got ${String(o.duration)}`);
  const sessions = o.sessions ?? 20_000;
  const out = o.out;
  const tty = out?.isTTY === true;
  const color = useColor(out);
  // What fits: the terminal's columns (80 at least); logs and pipes get whole lines.
  const columns = (): number => (tty ? Math.max(80, out!.columns ?? 80) : Infinity);
  const say = (s = ''): void => void out?.write(wrapText(s, columns()) + '\n');

  const warnings: SlabWarning[] = [];
  const arena = Arena.create({ bytes: 64 << 20, maxBytes: 512 << 20, maxThreads: DEMO_MAX_THREADS, onWarning: (w) => warnings.push(w) });
  const flags = o.leak ? SLAB_STORE_USER : 0; // alloc/free tracks: the leak report shows where each object came from
  // Percpu sheaves: sessions are freed in another order than allocated (and by other
  // threads), and kfreeRcu of a sheaf cache fills kfree_rcu sheaves that the writers
  // allocate from again after their grace period.
  let cache = arena.createCache(SESSION_CACHE, { size: Session.size, align: Session.align, flags, sheafCapacity: 32 });
  const table = RcuHashTable.create(arena, { struct: Session, key: 'id', next: 'next', buckets: 8192 });
  for (let id = 1; id <= sessions; id++) {
    const p = cache.alloc();
    if (p === 0) throw new Error('demo: arena too small for the sessions');
    initSession(arena, p, id, 0);
    table.insert(p);
  }

  const writers = Math.max(1, Math.floor(nWorkers / 2));
  const roles: Role[] = Array.from({ length: nWorkers }, (_, i) => (i < writers ? 'writer' : 'reader'));
  const ctl = controlBuffer(nWorkers);
  const c32 = new Int32Array(ctl);
  say(`slabrcu demo: ${sessions} sessions in an RCU hash table, ${writers} writer(s) and ${nWorkers - writers} reader(s) on worker threads, ${durationS}s of traffic${o.leak ? ', one writer leaks sessions (--leak)' : ''}`);
  say(`readers: lookups inside arena.rcu.read(); writers: copy, update, publish, then arena.kfreeRcu(old)`);
  say();

  const done: Promise<void>[] = [];
  const exited: Promise<number>[] = [];
  const workers = roles.map((role, index) => {
    const data: DemoWorkerData = { sab: arena.sab, ctl, table: table.ptr, role, index, keys: sessions, leak: o.leak && index === 0 ? LEAK_COUNT : 0 };
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
    arena.watch(w); // if it dies, its slot is detached for it and its kfreeRcu batches adopted
    done.push(new Promise((resolve) => w.once('message', () => resolve())));
    exited.push(new Promise((resolve, reject) => {
      w.once('error', reject);
      w.once('exit', resolve);
    }));
    return w;
  });

  // ---- act 1: traffic, with the live view
  const gp0 = arena.rcu.getState();
  const gps = (): number => Math.max(0, ((arena.rcu.getState() - gp0) | 0) >> 2);
  const t0 = performance.now();
  const last = roles.map(() => ({ reads: 0, updates: 0 }));
  let lastT = t0;
  let lastGp = 0;
  const region = tty ? createLogUpdate(out!) : undefined;
  const tickMs = tty ? 250 : 1000;
  const failed = Promise.race(exited.map((p) => p.then((code) => (code !== 0 ? Promise.reject(new Error(`demo worker exited with code ${code}`)) : new Promise<never>(() => {})))));
  failed.catch(() => {});
  // A worker that fails (it could not attach, it threw) stops the demo: the others are
  // told to stop and terminated, so a failure never leaves the process hanging.
  const stopAll = async (): Promise<void> => {
    Atomics.store(c32, STOP, 1);
    region?.done();
    await Promise.allSettled(workers.map((w) => w.terminate()));
  };
  try {
    while (performance.now() - t0 < durationS * 1000) {
      await Promise.race([sleep(Math.min(tickMs, durationS * 1000 - (performance.now() - t0))), failed]);
      const now = performance.now();
      const dt = Math.max(1e-3, (now - lastT) / 1000);
      const rates: WorkerRate[] = roles.map((role, index) => {
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
      const g = gps();
      const snap: Snapshot = {
        elapsedS: (now - t0) / 1000, durationS, gpsCompleted: g, gpsPerSec: (g - lastGp) / dt, workers: rates, tableCount: table.count,
        caches: cacheRows(arena, new Map([[SESSION_CACHE, cache.stats().kfree_rcu_pending]])),
      };
      lastT = now;
      lastGp = g;
      if (region) region(renderFrame(snap, { width: columns(), height: out!.rows ?? 24, color }));
      else say(renderLine(snap));
    }
    region?.done();

    // ---- act 2: module unload
    Atomics.store(c32, STOP, 1);
    await Promise.race([Promise.all(done), failed]);
    await Promise.all(exited);
  } catch (e) {
    await stopAll();
    throw e;
  }
  const perWorker = roles.map((role, index) => ({
    index, role,
    reads: Atomics.load(c32, workerWord(index, W_READS)) >>> 0,
    updates: Atomics.load(c32, workerWord(index, W_UPDATES)) >>> 0,
    badReads: Atomics.load(c32, workerWord(index, W_ERRORS)),
    allocFailures: Atomics.load(c32, workerWord(index, W_ALLOC_FAIL)),
    leaked: Atomics.load(c32, workerWord(index, W_LEAKED)),
  }));
  const gracePeriods = gps();
  say();
  say('== module unload ==');
  say(`workers stopped and exited (arena.watch detached their slots; their kfreeRcu batches were adopted)`);
  const unlinked = table.clear(); // every session goes to kfreeRcu now
  const inFlight = cache.stats().kfree_rcu_pending;
  say(`table cleared: ${unlinked} sessions unlinked and passed to arena.kfreeRcu(); ${inFlight} objects of '${SESSION_CACHE}' are in flight in kfreeRcu batches`);
  const slabinfoBefore = arena.slabinfo();
  say();
  say('slabinfo before destroy:');
  say(slabinfoText(slabinfoBefore, columns()));
  say();

  let settled = false;
  const tDestroy = performance.now();
  const pending = cache.destroy();
  const destroyReturnedMs = performance.now() - tDestroy;
  void pending.then(() => (settled = true), () => (settled = true));
  await Promise.resolve(); // a report produced synchronously would have settled by now
  const returnedBefore = !settled;
  say(`await cache.destroy() -> destroy() returned in ${destroyReturnedMs.toFixed(3)} ms; the report is ${settled ? 'already there (nothing was in flight)' : 'pending: the kfreeRcu barrier runs asynchronously'}`);

  // The name is free at once (the kernel removes the sysfs entry immediately).
  const tCreate = performance.now();
  let recreated = false;
  try {
    cache = arena.createCache(SESSION_CACHE, { size: Session.size, align: Session.align, flags, sheafCapacity: 32 });
    const p = cache.alloc();
    initSession(arena, p, 1, 0);
    cache.free(p);
    recreated = true;
  } catch (e) {
    say(`createCache('${SESSION_CACHE}') again failed: ${(e as Error).message}`);
  }
  const recreateMs = performance.now() - tCreate;
  if (recreated) {
    say(`createCache('${SESSION_CACHE}') again right away: OK in ${recreateMs.toFixed(3)} ms` +
      (settled ? '' : ' (a new cache, while the old one is still waiting for its kfreeRcu objects)'));
  }

  const report = await pending;
  const reportMs = performance.now() - tDestroy;
  say(`destroy report after ${reportMs.toFixed(1)} ms: status ${report.status}, deferred ${report.deferred}, leaked ${report.leaked}${report.waitedFor?.length ? `, waited for ${report.waitedFor.join(', ')}` : ''}`);
  if (report.warning) {
    say();
    say(leakReport(report));
  }
  const slabinfoAfter = arena.slabinfo();
  say();
  say('slabinfo after:');
  say(slabinfoText(slabinfoAfter, columns()));

  // Tidy up: the new cache is empty; the table's buckets go after a grace period.
  if (recreated) cache.destroySync();
  await table.destroyAsync();
  arena.detach();

  const sum = (f: (w: DemoSummary['workers'][number]) => number): number => perWorker.reduce((a, w) => a + f(w), 0);
  const summary: DemoSummary = {
    workers: perWorker,
    durationS,
    reads: sum((w) => w.reads),
    updates: sum((w) => w.updates),
    badReads: sum((w) => w.badReads),
    gracePeriods,
    unload: {
      sessionsUnlinked: unlinked,
      kfreeRcuInFlight: inFlight,
      destroyReturnedMs,
      destroyReturnedBeforeReport: returnedBefore,
      recreatedSameName: recreated,
      recreateMs,
      reportMs,
      report,
    },
    warnings: warnings.map((w) => ({ kind: w.kind, message: w.message })),
    slabinfoBefore,
    slabinfoAfter,
  };
  say();
  say(`${summary.reads} lookups, ${summary.updates} updates, ${summary.badReads} bad reads, ${gracePeriods} grace periods`);
  return summary;
}
