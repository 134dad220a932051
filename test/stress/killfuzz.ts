/**
 * Kill fuzz (issue 11 item 2), run inside the driver worker. Three watched workers
 * (test/workers/stress-kill.ts) loop over every API; one of them is terminate()d at a
 * random moment, then respawned, until `kills` kills. Per kill: the arena header magic is
 * intact and the respawned worker attaches; what the dead worker still held per the
 * ownership map is adopted (unpublished, kfreeRcu'd by the driver; counted as
 * heldAtDeath). Throughout: no double allocation, no reuse before a grace period, no
 * pointer outside the arena, tags intact, readers never see a published object change
 * (shared.ts). At the end: the workers free all they hold and detach; after a barrier,
 * validate() is clean on every cache, and destroy() of each cache (A, B, the dead
 * workers' own caches) says 'released' or leaks at most `inFlightBound` objects (one
 * object in flux per kill: allocated but not yet claimed, or released but not yet freed).
 */
import { Worker } from 'node:worker_threads';
import { Arena, KMALLOC_SIZES, kmallocName, SLAB_NO_MERGE, type SlabWarning } from '../../src/index.js';
import { parseSlabinfo } from '../helpers/slab-helpers.js';
import { Book, claimsOf, CTL, makeShared, P, PROBLEM_NAMES, PUB_PER_WORKER, problemSummary, problemTotals, prng, type Held, type Shared } from './shared.js';
import { PH } from './supervise.js';
import type { DriverCtx } from './driver-ctx.js';

export interface KillParams {
  kills: number;
  seed?: number;
  workers?: number;
  arenaBytes?: number;
  /** terminate() after a random delay in [minMs, maxMs) (default 2..25 ms) */
  minMs?: number;
  maxMs?: number;
}

export interface KillResult {
  kills: number;
  respawns: number;
  problems: number[];
  problemCount: number;
  problemTexts: string[];
  /** checks that failed (validate, magic, attach, destroy beyond the bound, counts) */
  failures: string[];
  heldAtDeath: number;
  inFlightBound: number;
  destroy: { name: string; status: string; leaked: number }[];
  leakedTotal: number;
  kmallocExtra: number;
  warnings: Record<string, number>;
  workerCounts: Record<string, number>;
  errors: string[];
  ops: number;
}

export async function killFuzz(p: KillParams, ctx: DriverCtx): Promise<KillResult> {
  const bytes = p.arenaBytes ?? 16 << 20;
  const nw = p.workers ?? 3;
  const rnd = prng(p.seed ?? 7);
  const a = Arena.create({ bytes, kfreeRcuDrainMs: 5, maxThreads: 32 });
  const warnings: Record<string, number> = {};
  const warnTexts: string[] = [];
  a.onWarning((w: SlabWarning) => {
    warnings[w.kind] = (warnings[w.kind] ?? 0) + 1;
    if (warnTexts.length < 20) warnTexts.push(`driver: ${w.kind}: ${w.message}`);
    // Waits that take seconds say so in the log, which a hang report quotes.
    if (w.kind === 'rcu-stall' || w.kind === 'kvfree-rcu-barrier' || w.kind === 'dead-lock-holder') {
      ctx.log(`killfuzz: warning ${w.kind}: ${w.message.split('\n')[0]!.slice(0, 240)}`);
    }
  });
  const sh: Shared = { ...makeShared(bytes), ctl: ctx.ctlSab };
  const book = new Book(a, sh, 2000);
  const magic = a.i32[0]!;
  const A = a.createCache('kf-a', { size: 64, flags: SLAB_NO_MERGE });
  const B = a.createCache('kf-b', { size: 256, flags: SLAB_NO_MERGE, sheafCapacity: 16 });
  const kms = KMALLOC_SIZES.map((s) => a.findCache(kmallocName(s))!);
  const kmTotal = (): number => kms.reduce((s, c) => s + c.stats().objects, 0);
  const km0 = kmTotal();
  const res: KillResult = {
    kills: 0, respawns: 0, problems: [], problemCount: 0, problemTexts: [], failures: [], heldAtDeath: 0, inFlightBound: 0,
    destroy: [], leakedTotal: 0, kmallocExtra: 0, warnings, workerCounts: {}, errors: [], ops: 0,
  };
  let nextId = 1;
  const ctl = ctx.ctl;

  interface Slot {
    w: Worker;
    id: number;
    ready: boolean;
    final?: Record<string, unknown>;
    dead: Promise<void>;
    killedByUs: boolean;
  }
  const slots: Slot[] = [];
  const texts: string[] = [];

  /** After a worker's exit (arena.watch detached it first): check the arena, adopt what it held. */
  const afterDeath = (id: number, widx: number): void => {
    ctx.phase(PH['check-round']);
    if (a.i32[0] !== magic) res.failures.push(`after kill ${res.kills}: arena word 0 (magic) is ${a.i32[0]}, was ${magic}`);
    // unpublish its objects (readers may still be in sections: kfreeRcu, not free)
    for (let j = 0; j < PUB_PER_WORKER; j++) {
      const w = CTL.PUB + 4 * (widx * PUB_PER_WORKER + j);
      if (Atomics.load(ctl, w) & 1) Atomics.add(ctl, w, 1);
      Atomics.add(ctl, w, 1);
      Atomics.store(ctl, w + 1, 0);
      Atomics.add(ctl, w, 1);
    }
    const mine = claimsOf(book.own, id);
    res.heldAtDeath += mine.length;
    for (const ptr of mine) {
      const h: Held = { ptr, len: 0, tag: 0, kind: -1 };
      book.releaseRcu(h);
      a.kfreeRcu(ptr);
    }
    res.inFlightBound++;
    // its own cache goes too (descriptors are limited): destroy waits for the kfreeRcu above
    for (const n of parseSlabinfo(a.slabinfo()).keys()) {
      if (!n.startsWith(`kf-own-${id}-`)) continue;
      const c = a.findCache(n);
      if (c) deadDestroys.push(c.destroy().then((rep) => ({ name: c.name, status: rep.status, leaked: rep.leaked })));
    }
  };
  const deadDestroys: Promise<{ name: string; status: string; leaked: number }[] | { name: string; status: string; leaked: number }>[] = [];

  const spawn = (widx: number): Slot => {
    const id = nextId;
    nextId = nextId >= 1999 ? 1 : nextId + 1;
    ctx.phase(PH.spawn);
    const w = new Worker(new URL('../workers/stress-kill.js', import.meta.url), {
      workerData: { sab: a.sab, shared: sh, id, widx, nworkers: nw, seed: (p.seed ?? 7) * 100003 + id, caches: [A.name, B.name] },
    });
    a.watch(w);
    const s: Slot = { w, id, ready: false, dead: Promise.resolve(), killedByUs: false };
    s.dead = new Promise<void>((resolve) => {
      w.once('exit', () => {
        if (s.final === undefined) afterDeath(id, widx);
        resolve();
      });
    });
    w.on('message', (m: { type: string; message?: string; kind?: number; text?: string }) => {
      if (m.type === 'ready') s.ready = true;
      else if (m.type === 'final') s.final = m as Record<string, unknown>;
      else if (m.type === 'problem') {
        // Every problem a worker sees arrives here as it is seen (its final and error
        // messages do not repeat them).
        const t = `worker ${id}: [${PROBLEM_NAMES[m.kind!]}] ${m.text}`;
        if (texts.length < 30) texts.push(t);
        ctx.log(`killfuzz: problem seen by ${t}`);
      }
      else if (m.type === 'attach-failed') res.failures.push(`respawned worker ${id} could not attach: ${m.message}`);
      else if (m.type === 'error') {
        if (res.errors.length < 10) res.errors.push(String(m.message).split('\n').slice(0, 6).join(' | '));
        s.killedByUs = true;
        void w.terminate(); // respawned by the loop
      }
    });
    w.on('error', (e) => {
      if (res.errors.length < 10) res.errors.push(`worker ${id} crashed: ${String(e.stack ?? e).split('\n').slice(0, 4).join(' | ')}`);
      Atomics.add(ctl, CTL.PROBLEMS + P.workerError, 1);
    });
    return s;
  };

  for (let i = 0; i < nw; i++) slots.push(spawn(i));
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const minMs = p.minMs ?? 2;
  const maxMs = p.maxMs ?? 25;
  while (res.kills < p.kills) {
    ctx.phase(PH.waiting);
    await sleep(minMs + rnd() * (maxMs - minMs)); // when to kill: random; nothing asserted on timing
    // a worker that errored out is replaced without counting as a kill
    for (let i = 0; i < nw; i++) {
      if (slots[i]!.killedByUs) {
        await slots[i]!.dead;
        slots[i] = spawn(i);
        res.respawns++;
      }
    }
    const i = Math.floor(rnd() * nw);
    const s = slots[i]!;
    ctx.phase(PH.terminate);
    await s.w.terminate();
    await s.dead;
    res.kills++;
    ctx.beat();
    slots[i] = spawn(i);
    res.respawns++;
    if (res.kills % 50 === 0) {
      const pr = problemTotals(ctl);
      ctx.log(`killfuzz: kills=${res.kills}/${p.kills} heldAtDeath=${res.heldAtDeath} problems: ${problemSummary(pr)} failures=${res.failures.length}`);
    }
  }
  // Orderly end: every worker frees what it holds, destroys its own cache, detaches.
  ctx.phase(PH.final);
  for (const s of slots) {
    // wait until it attached (a respawn just started), then stop it
    while (!s.ready && !s.killedByUs && s.final === undefined) {
      await sleep(1);
      ctx.beat();
    }
  }
  Atomics.store(ctl, CTL.STOP, 1);
  await Promise.all(slots.map((s) => s.dead));
  for (const s of slots) {
    const f = s.final;
    if (!f) continue;
    for (const [k, v] of Object.entries(f.counts as Record<string, number>)) res.workerCounts[k] = (res.workerCounts[k] ?? 0) + v;
    for (const [k, v] of Object.entries(f.warnings as Record<string, number>)) warnings[k] = (warnings[k] ?? 0) + v;
    for (const t of f.warnTexts as string[]) if (warnTexts.length < 20) warnTexts.push(`worker: ${t}`);
    for (const t of f.destroyTexts as string[]) res.failures.push(`worker destroy of its own cache: ${t}`);
  }
  ctx.phase(PH.barrier);
  await a.kvfreeRcuBarrierAsync();
  if (a.i32[0] !== magic) res.failures.push(`end: arena word 0 (magic) is ${a.i32[0]}, was ${magic}`);
  // a fresh thread can still attach
  ctx.phase(PH.attach);
  const probe = new Worker(new URL('../workers/stress-kill-probe.js', import.meta.url), { workerData: { sab: a.sab, ctl: ctx.ctlSab } });
  a.watch(probe);
  // Listen for its exit now: a worker's 'exit' can come in the same turn as its last
  // message (its port is drained on exit), before an await on that message resumes.
  const probeExit = new Promise((r) => probe.once('exit', r));
  const attachMsg = await new Promise<string>((resolve) => {
    probe.on('message', (m: { ok?: boolean; message?: string; warning?: string }) => {
      if (m.warning !== undefined) ctx.log(`killfuzz: probe warning ${m.warning}`);
      else resolve(m.ok ? '' : String(m.message));
    });
    probe.once('error', (e) => resolve(String(e)));
  });
  await probeExit;
  if (attachMsg) res.failures.push(`end: Arena.attach in a new worker failed: ${attachMsg}`);
  ctx.phase(PH.validate);
  for (const c of [A, B, ...kms]) {
    const v = c.validate();
    if (v.errors !== 0 || v.reports.length) res.failures.push(`end: validate(${c.name}) errors=${v.errors} reports=${JSON.stringify(v.reports.slice(0, 4))}`);
  }
  ctx.phase(PH.destroy);
  res.kmallocExtra = kmTotal() - km0;
  for (const d of await Promise.all(deadDestroys)) {
    for (const x of ([] as { name: string; status: string; leaked: number }[]).concat(d)) {
      res.destroy.push(x);
      res.leakedTotal += x.leaked;
    }
  }
  const others = [...parseSlabinfo(a.slabinfo()).keys()].filter((n) => n.startsWith('kf-own-'));
  for (const c of [A, B, ...others.map((n) => a.findCache(n)!).filter(Boolean)]) {
    const rep = await c.destroy();
    res.destroy.push({ name: c.name, status: rep.status, leaked: rep.leaked });
    res.leakedTotal += rep.leaked;
  }
  if (res.leakedTotal + Math.max(0, res.kmallocExtra) > res.inFlightBound) {
    res.failures.push(`end: ${res.leakedTotal} objects leaked in caches + ${res.kmallocExtra} in kmalloc caches, more than the ${res.inFlightBound} that can be in flight at ${res.kills} kills: ` +
      JSON.stringify(res.destroy.filter((x) => x.status !== 'released')));
  }
  res.ops = Atomics.load(ctl, CTL.OPS);
  res.problems = problemTotals(ctl);
  res.problemCount = res.problems.reduce((s, n) => s + n, 0);
  res.problemTexts = [...texts, ...warnTexts.map((t) => `(warning) ${t}`)];
  ctx.log(`killfuzz: kills=${res.kills} problems=${res.problemCount + res.failures.length}`);
  return res;
}
