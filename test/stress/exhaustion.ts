/**
 * Exhaustion stress (issue 11 item 1), run inside the driver worker. Two (or more)
 * workers allocate from two caches (one with percpu sheaves) and kmalloc in a 6 MiB arena
 * until alloc() returns 0, pass part of what they hold to kfreeRcu, free the rest (a
 * quarter by the peer: remote frees). After each round, with the workers quiet:
 * - mid-round (everything allocated): stats().objects of each cache = what the workers hold;
 * - round end, after kvfreeRcuBarrierAsync(): stats().objects = 0, kfreeRcuPending() = 0,
 *   validate() of both caches and every kmalloc cache returns errors 0 (and no report
 *   text), no claim left in the ownership map, no warning raised anywhere;
 * - every allocation: inside the arena, not held by anyone (double allocation), not
 *   pending in kfreeRcu before its grace period (shared ownership map), tags intact at free.
 * The first round with a failed check ends the run (a corrupted allocator may hang next).
 */
import { Worker } from 'node:worker_threads';
import { Arena, KMALLOC_SIZES, kmallocName, SLAB_NO_MERGE, type SlabWarning } from '../../src/index.js';
import { allClaims, Book, CTL, makeShared, problemSummary, problemTotals, type Held, type Shared } from './shared.js';
import { PH } from './supervise.js';
import type { DriverCtx } from './driver-ctx.js';

export interface ExhaustParams {
  rounds: number;
  workers?: number;
  arenaBytes?: number;
  seed?: number;
  kfreeFraction?: number;
  sheaves?: boolean;
  /** some kfreeRcu calls use the 2-argument form (default true) */
  headForm?: boolean;
  /** 'lockstep' (default): every round in phases with checks between; 'free': workers run `chunk` rounds each on their own (alloc while the peer frees), checks after each chunk */
  mode?: 'lockstep' | 'free';
  chunk?: number;
}

export interface ExhaustResult {
  roundsRun: number;
  roundsPlanned: number;
  failures: string[];
  failedRound: number;
  problems: number[];
  problemTexts: string[];
  allocated: number;
  rcu: number;
  exhaustions: number;
}

export async function exhaustion(p: ExhaustParams, ctx: DriverCtx): Promise<ExhaustResult> {
  const bytes = p.arenaBytes ?? 6 << 20;
  const nw = p.workers ?? 2;
  const seed = p.seed ?? 1;
  const a = Arena.create({ bytes, kfreeRcuDrainMs: 5 });
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  const sh: Shared = { ...makeShared(bytes), ctl: ctx.ctlSab };
  const book = new Book(a, sh, 2000);
  const A = a.createCache('sx-small', { size: 48, flags: SLAB_NO_MERGE });
  const B = a.createCache('sx-big', { size: 600, flags: SLAB_NO_MERGE, ...(p.sheaves !== false ? { sheafCapacity: 16 } : {}) });
  const kms = KMALLOC_SIZES.map((s) => a.findCache(kmallocName(s))!);
  const kmTotal = (): number => kms.reduce((s, c) => s + c.stats().objects, 0);
  const km0 = kmTotal();
  const result: ExhaustResult = { roundsRun: 0, roundsPlanned: p.rounds, failures: [], failedRound: -1, problems: [], problemTexts: [], allocated: 0, rcu: 0, exhaustions: 0 };

  const ws: Worker[] = [];
  /** Each worker's exit, listened for from its start (an 'exit' can come in the turn of its last message). */
  const wExits: Promise<unknown>[] = [];
  let exiting = false;
  const queues: { type: string; [k: string]: unknown }[][] = [];
  const waiters: (((m: { type: string; [k: string]: unknown }) => void) | undefined)[] = [];
  const free = p.mode === 'free';
  const rings = free ? Array.from({ length: nw }, () => new SharedArrayBuffer((2 + (1 << 15) * 4) * 4)) : [];
  for (let i = 0; i < nw; i++) {
    const w = new Worker(new URL('../workers/stress-exhaust.js', import.meta.url), {
      workerData: { sab: a.sab, shared: sh, id: i + 1, widx: i + 1, seed: seed * 1000 + i, caches: [A.name, B.name], kfreeFraction: p.kfreeFraction ?? 0.35, headForm: p.headForm !== false,
        ...(free ? { inbox: rings[i], outbox: rings[(i + 1) % nw], peerId: ((i + nw - 1) % nw) + 1 } : {}) },
    });
    a.watch(w);
    ws.push(w);
    wExits.push(new Promise((res) => w.once('exit', res)));
    queues.push([]);
    waiters.push(undefined);
    w.on('message', (m: { type: string }) => {
      const f = waiters[i];
      if (f) {
        waiters[i] = undefined;
        f(m);
      } else queues[i]!.push(m);
    });
    w.on('error', (e) => ctx.fail(`exhaust worker ${i + 1} crashed: ${e.stack ?? e}`));
    w.on('exit', (code) => {
      if (!exiting) ctx.fail(`exhaust worker ${i + 1} exited (code ${code}) in round ${Atomics.load(ctx.ctl, CTL.ROUND)} while the driver waited for it`);
    });
  }
  const next = (i: number, type: string): Promise<{ type: string; [k: string]: unknown }> =>
    new Promise((resolve) => {
      const take = (m: { type: string; [k: string]: unknown }): void => {
        if (m.type === 'error') ctx.fail(String(m.message));
        else if (m.type !== type) ctx.fail(`exhaust worker ${i + 1}: expected '${type}', got '${m.type}'`);
        else resolve(m);
      };
      const q = queues[i]!;
      if (q.length) take(q.shift()!);
      else waiters[i] = take;
    });
  for (let i = 0; i < nw; i++) await next(i, 'ready');

  const texts: string[] = [];
  const collect = (ms: { [k: string]: unknown }[]): void => {
    for (const m of ms) {
      for (const t of (m.texts as string[]) ?? []) if (texts.length < 30) texts.push(`worker: ${t}`);
      for (const wt of (m.warnings as string[]) ?? []) fails.push(`warning in a worker: ${wt}`);
    }
  };
  let fails: string[] = [];
  const check = (ok: boolean, what: string): void => {
    if (!ok) fails.push(what);
  };
  const validateAll = (when: string): void => {
    ctx.phase(PH.validate);
    for (const c of [A, B, ...kms]) {
      const v = c.validate();
      check(v.errors === 0 && v.reports.length === 0, `${when}: validate(${c.name}) errors=${v.errors} reports=${JSON.stringify(v.reports.slice(0, 4))}`);
    }
  };

  const chunk = p.chunk ?? 10;
  for (let r = free ? chunk : 1; r <= p.rounds; r += free ? chunk : 1) {
    Atomics.store(ctx.ctl, CTL.ROUND, r);
    fails = [];
    if (free) {
      ctx.phase(PH.waiting);
      for (const w of ws) w.postMessage({ type: 'run', rounds: chunk });
      const ran = await Promise.all(ws.map((_, i) => next(i, 'ran')));
      collect(ran);
      for (const m of ran) {
        const t = m.tot as { allocated: number; rcu: number; zeros: number };
        result.allocated += t.allocated;
        result.rcu += t.rcu;
        result.exhaustions += t.zeros;
      }
      for (const w of ws) w.postMessage({ type: 'flush-inbox' });
      collect(await Promise.all(ws.map((_, i) => next(i, 'flushed'))));
    } else {
    ctx.phase(PH.waiting);
    for (const w of ws) w.postMessage({ type: 'alloc' });
    const alloc = await Promise.all(ws.map((_, i) => next(i, 'allocated')));
    collect(alloc);
    ctx.beat();
    ctx.phase(PH.stats);
    let na = 0;
    let nb = 0;
    let nkm = 0;
    for (const m of alloc) {
      const c = m.counts as { a: number; b: number; km: number; kmLarge: number; zeros: number };
      na += c.a;
      nb += c.b;
      nkm += c.km;
      result.allocated += c.a + c.b + c.km + c.kmLarge;
      result.exhaustions += c.zeros;
    }
    check(A.stats().objects === na, `round ${r} after alloc: ${A.name} stats().objects=${A.stats().objects}, workers hold ${na}`);
    check(B.stats().objects === nb, `round ${r} after alloc: ${B.name} stats().objects=${B.stats().objects}, workers hold ${nb}`);
    check(kmTotal() >= km0 + nkm, `round ${r} after alloc: kmalloc caches hold ${kmTotal()} objects, fewer than baseline ${km0} + ${nkm} held`);
    // ownership map: exactly the claims the workers reported
    const claims = allClaims(book.own).length;
    const heldTotal = alloc.reduce((s, m) => {
      const c = m.counts as { a: number; b: number; km: number; kmLarge: number };
      return s + c.a + c.b + c.km + c.kmLarge;
    }, 0);
    check(claims === heldTotal, `round ${r} after alloc: ${claims} claims in the ownership map, workers hold ${heldTotal}`);
    for (let i = 0; i < nw; i++) {
      const peer = (i + 1) % nw;
      ws[i]!.postMessage({ type: 'release', remote: alloc[peer]!.remote as Held[], remoteHolder: peer + 1 });
    }
    const rel = await Promise.all(ws.map((_, i) => next(i, 'released')));
    collect(rel);
    for (const m of rel) result.rcu += (m.out as { rcu: number }).rcu;
    }
    ctx.phase(PH.barrier);
    await a.kvfreeRcuBarrierAsync();
    ctx.beat();
    ctx.phase(PH['check-round']);
    check(a.kfreeRcuPending() === 0, `round ${r} end: kfreeRcuPending()=${a.kfreeRcuPending()} after kvfreeRcuBarrierAsync`);
    check(A.stats().objects === 0, `round ${r} end: ${A.name} stats().objects=${A.stats().objects}, expected 0`);
    check(B.stats().objects === 0, `round ${r} end: ${B.name} stats().objects=${B.stats().objects}, expected 0`);
    const left = allClaims(book.own);
    check(left.length === 0, `round ${r} end: ${left.length} claims left in the ownership map (first ${JSON.stringify(left.slice(0, 4))})`);
    validateAll(`round ${r} end`);
    if (r % 5 === 0 || free) {
      ctx.phase(PH.shrink);
      A.shrink();
      B.shrink();
      for (const c of kms) c.shrink();
      validateAll(`round ${r} after shrink`);
    }
    for (const w of warnings.splice(0)) fails.push(`warning in the driver: ${w.kind}: ${w.message}`);
    const probs = problemTotals(ctx.ctl);
    if (probs.some((n) => n > 0)) fails.push(`problems so far: ${problemSummary(probs)}`);
    result.roundsRun = r;
    if (r % 10 === 0 || free || fails.length) ctx.log(`exhaustion: round ${r}/${p.rounds}: allocated ${result.allocated}, kfreeRcu ${result.rcu}, problems ${problemSummary(probs)}, failed checks ${fails.length}`);
    if (fails.length) {
      result.failures = fails;
      result.failedRound = r;
      break;
    }
  }
  result.problems = problemTotals(ctx.ctl);
  result.problemTexts = texts;
  if (result.failedRound < 0) {
    ctx.phase(PH.detach);
    exiting = true;
    for (const w of ws) w.postMessage({ type: 'exit' });
    collect(await Promise.all(ws.map((_, i) => next(i, 'detached'))));
    await Promise.all(wExits);
    await a.kvfreeRcuBarrierAsync();
    for (const c of kms) c.shrink();
    const kmEnd = kmTotal();
    if (kmEnd !== km0) fails.push(`end: kmalloc caches hold ${kmEnd} objects, ${km0} before the workers attached`);
    validateAll('end');
    ctx.phase(PH.destroy);
    for (const c of [A, B]) {
      const rep = await c.destroy();
      if (rep.status !== 'released') fails.push(`end: destroy(${c.name}) = ${rep.status}, leaked ${rep.leaked}: ${rep.warning ?? ''}`);
    }
    for (const w of warnings.splice(0)) fails.push(`warning in the driver: ${w.kind}: ${w.message}`);
    if (fails.length) {
      result.failures = fails;
      result.failedRound = p.rounds + 1;
    }
  } else {
    exiting = true;
    await Promise.all(ws.map((w) => w.terminate()));
  }
  return result;
}
