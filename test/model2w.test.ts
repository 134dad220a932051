/**
 * Issue 11: fast-check model test across 2 workers (test/workers/stress-model.ts), public
 * API only. Random commands: alloc (one, or many until the small arena is exhausted),
 * free by the allocating worker or the other one (remote free), kfree, kfreeRcu (with and
 * without a valid rcuHeadOffset), barriers, shrink, and bad ops: double free, free of an
 * object pending in kfreeRcu, kfreeRcu twice, kfreeRcu of a freed object, kfreeRcu with a
 * bad rcuHeadOffset (unaligned, >= object size, huge, negative), free of an interior
 * pointer, free through the wrong cache. Checked against a model after every command:
 * - alloc returns a pointer inside the arena that is not live, and not pending in kfreeRcu
 *   unless its grace period completed (rcu.pollState of the cookie taken before the
 *   kfreeRcu); 0 only when fewer free pages than one slab remain;
 * - every bad op raises exactly one warning (onWarning) in the worker that did it, of the
 *   right kind (DESIGN.md §5: on every cache, debug or not), and changes nothing
 *   (stats().objects and kfree_rcu_pending unchanged, the object stays as it was);
 * - good ops raise no warning; stats().objects - kfree_rcu_pending = the model's live
 *   count, kfree_rcu_pending <= the model's pending count, 0 after a barrier;
 * - live objects keep their tags; at the end everything is freed, a barrier, objects 0,
 *   validate() clean.
 * All runs are executed and every violation is tallied (so the failure message says how
 * often each check failed); then, if any failed, fast-check shrinks one failing case.
 * Runs: 30 here, SLABRCU_STRESS=1 (npm run stress) 400.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { Arena, SLAB_NO_MERGE, type Cache, type SlabWarning } from '../src/index.js';
import type { ModelCmd, ModelReply } from './workers/stress-model.js';
import { LONG } from './stress/shared.js';

const env = (globalThis as { process: { env: Record<string, string | undefined> } }).process.env;
const RUNS = Number(env.SLABRCU_MODEL_RUNS ?? (LONG ? 400 : 30));
const SEED = Number(env.SLABRCU_SEED ?? 4242);
/** Replay one case fast-check printed (its `path`), e.g. SLABRCU_MODEL_PATH=386:532. */
const PATH = env.SLABRCU_MODEL_PATH;
const ARENA_BYTES = 1 << 20;
const CACHE_SPECS = [{ name: 'm2-a', size: 64 }, { name: 'm2-b', size: 96 }];
const REPLY_TIMEOUT_MS = 5_000;
/** How long a count check re-reads before it calls a difference real (see checkState). */
const SETTLE_MS = 2_000;

/** Re-evaluate `ok` (yielding between reads) until it holds or SETTLE_MS pass. */
async function settle(ok: () => boolean): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setImmediate(r));
}

type W = 0 | 1;
type Cmd =
  | { k: 'alloc'; w: W; cache: number; n: number }
  | { k: 'free'; w: W; pick: number; kfree: boolean }
  | { k: 'kfreeRcu'; w: W; pick: number; head: 'none' | 0 | 4 | 'last' }
  | { k: 'barrier'; w: W }
  | { k: 'shrink'; w: W; cache: number }
  | { k: 'doubleFree'; w: W; pick: number; kfree: boolean }
  | { k: 'freePending'; w: W; pick: number; kfree: boolean }
  | { k: 'kfreeRcuTwice'; w: W; pick: number }
  | { k: 'kfreeRcuFreed'; w: W; pick: number }
  | { k: 'badHead'; w: W; pick: number; off: 1 | 2 | 'size' | 'size+4' | 1e9 | -4 }
  | { k: 'interior'; w: W; pick: number; delta: 4 | 8 | 'half' }
  | { k: 'wrongCache'; w: W; pick: number };

const BAD = new Set(['doubleFree', 'freePending', 'kfreeRcuTwice', 'kfreeRcuFreed', 'badHead', 'interior', 'wrongCache']);
/** What the one warning of a bad op must say (kind or message). */
// A freed object's slab may have gone back to the page allocator since (a shrink, or an
// empty slab beyond min_partial): a second free of it is then a free of memory that is no
// slab object any more, refused as such (kernel: the same pointer is no slab object).
const GONE = /not a slab object|not an allocated object|outside the arena/;
const EXPECT: Record<string, RegExp> = {
  doubleFree: new RegExp(`double.?free|already free|${GONE.source}`, 'i'),
  freePending: /double.?free|already free|pending|kfree_?rcu/i,
  kfreeRcuTwice: /double.?free|already free|pending|kfree_?rcu/i,
  kfreeRcuFreed: new RegExp(`double.?free|already free|kfree_?rcu|${GONE.source}`, 'i'),
  badHead: /rcu_?head|offset/i,
  interior: /interior|invalid/i,
  wrongCache: /wrong.?slab.?cache|wrong-cache/i,
};

const w01 = fc.constantFrom<W>(0, 1);
const pick = fc.nat(1000);
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('alloc' as const), w: w01, cache: fc.nat(1), n: fc.constantFrom(1, 1, 1, 4, 40, 20000) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('free' as const), w: w01, pick, kfree: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('kfreeRcu' as const), w: w01, pick, head: fc.constantFrom('none' as const, 0 as const, 4 as const, 'last' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('barrier' as const), w: w01 }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('shrink' as const), w: w01, cache: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('doubleFree' as const), w: w01, pick, kfree: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('freePending' as const), w: w01, pick, kfree: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('kfreeRcuTwice' as const), w: w01, pick }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('kfreeRcuFreed' as const), w: w01, pick }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('badHead' as const), w: w01, pick, off: fc.constantFrom(1 as const, 2 as const, 'size' as const, 'size+4' as const, 1e9 as const, -4 as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('interior' as const), w: w01, pick, delta: fc.constantFrom(4 as const, 8 as const, 'half' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('wrongCache' as const), w: w01, pick }) },
);

// ------------------------------------------------------------------ workers

class Peer {
  readonly w: Worker;
  private pending: ((r: ModelReply) => void) | undefined;
  private failed: Error | undefined;
  constructor() {
    this.w = new Worker(new URL('./workers/stress-model.js', import.meta.url));
    this.w.on('message', (r: ModelReply) => {
      const f = this.pending;
      this.pending = undefined;
      f?.(r);
    });
    this.w.on('error', (e) => { this.failed = e; });
    this.w.on('exit', (c) => { this.failed ??= new Error(`model worker exited (${c})`); });
  }
  call(m: ModelCmd): Promise<ModelReply> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending = undefined;
        reject(new Error(`HANG: model worker did not answer ${JSON.stringify({ ...m, sab: undefined })} within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.pending = (r) => {
        clearTimeout(t);
        resolve(r);
      };
      this.w.postMessage(m);
    });
  }
}

// ------------------------------------------------------------------ one run

interface LiveObj { cache: number; tag: number; by: W }
const tally = new Map<string, number>();
const note = (k: string): void => void tally.set(k, (tally.get(k) ?? 0) + 1);
/** Push a violation and tally its kind (so the summary names every kind seen). */
const noteV = (v: string[], kind: string, msg: string): void => {
  note(kind);
  v.push(msg);
};
const attempts = new Map<string, number>();
let firstViolations: { cmds: Cmd[]; v: string[] } | undefined;

let hangs = 0;
/** runCase, but a worker that hangs (or dies) is a violation; the pair is replaced for the next run. */
async function runCaseSafe(peers: Peer[], cmds: Cmd[]): Promise<string[]> {
  try {
    return await runCase(peers, cmds);
  } catch (e) {
    const msg = String((e as Error)?.message ?? e);
    hangs++;
    note(msg.startsWith('HANG') ? `HANG: ${msg.slice(0, 160)}` : `worker failure: ${msg.slice(0, 160)}`);
    for (let i = 0; i < peers.length; i++) {
      void peers[i]!.w.terminate();
      peers[i] = new Peer();
    }
    return [msg];
  }
}

async function runCase(peers: Peer[], cmds: Cmd[]): Promise<string[]> {
  const v: string[] = [];
  const a = Arena.create({ bytes: ARENA_BYTES, maxThreads: 4, maxCaches: 32, kfreeRcuDrainMs: 3_600_000 });
  const mainWarnings: SlabWarning[] = [];
  a.onWarning((w) => mainWarnings.push(w));
  const caches: Cache[] = CACHE_SPECS.map((s) => a.createCache(s.name, { size: s.size, flags: SLAB_NO_MERGE }));
  for (const p of peers) {
    const r = await p.call({ op: 'attach', sab: a.sab, caches: CACHE_SPECS.map((s) => s.name) });
    if (r.threw) throw new Error(`attach failed: ${r.threw}`);
  }
  const live = new Map<number, LiveObj>();
  const pending = new Map<number, { cache: number; cookie: number }>();
  const freed = new Map<number, number>(); // ptr -> cache
  let tag = 1;
  const ofCache = <T extends { cache: number }>(m: Map<number, T>, c: number): number => {
    let n = 0;
    for (const x of m.values()) if (x.cache === c) n++;
    return n;
  };
  const keysOf = <T>(m: Map<number, T>): number[] => [...m.keys()].sort((x, y) => x - y);
  const pickFrom = (list: number[], i: number): number | undefined => (list.length ? list[i % list.length] : undefined);
  // Live objects per cache (allocated, not pending in kfreeRcu): a background kfree_rcu
  // drain lowers objects and kfree_rcu_pending together and leaves this unchanged.
  // Diagnostics: each thread's counters of each cache (alloc fast/slow, free fast/remote/slow, kfree_rcu queued/drained).
  const counters = (): string => caches.map((c) => `${c.name}[` + [0, 1, 2, 3].map((s) => {
    const r = a.recW(s, c.idx);
    return [2, 3, 4, 5, 6, 8, 9].map((k) => a.i32[r + k]).join('/');
  }).join(' ') + ']').join(' ');
  let countersBefore = '';
  /** The model's live objects per cache, in snap()'s form. */
  const modelSnap = (): string => caches.map((_, i) => `${ofCache(live, i)}`).join(' ');
  const snap = (): string => caches.map((c) => {
    const s = c.stats();
    return `${s.objects - s.kfree_rcu_pending}`;
  }).join(' ');
  const checkState = async (what: string): Promise<void> => {
    for (let i = 0; i < caches.length; i++) {
      const c = caches[i]!;
      // objects and kfree_rcu_pending are separate sums, and a kfree_rcu drain in another
      // thread counts an object drained (R_KFREE_D) and freed (R_FREE_SLOW) in two plain
      // stores (kfree/drain.ts): a drainer descheduled between them (2 cores, 4 threads)
      // shows a difference of one for as long as it is off the cpu. A real difference
      // stays: re-read until the counts match the model or SETTLE_MS pass.
      let s = c.stats();
      await settle(() => {
        s = c.stats();
        return s.objects - s.kfree_rcu_pending === ofCache(live, i) && s.kfree_rcu_pending <= ofCache(pending, i);
      });
      const lc = ofCache(live, i);
      const pc = ofCache(pending, i);
      if (s.objects - s.kfree_rcu_pending !== lc) noteV(v, 'live count differs from the model', `${what}: ${c.name} stats().objects ${s.objects} - kfree_rcu_pending ${s.kfree_rcu_pending} != ${lc} live in the model (${pc} pending); counters (af/as/ff/fr/fs/kq/kd per slot) before ${countersBefore} after ${counters()}`);
      if (s.kfree_rcu_pending > pc) noteV(v, 'kfree_rcu_pending above the model', `${what}: ${c.name} kfree_rcu_pending ${s.kfree_rcu_pending} > ${pc} pending in the model`);
    }
    if (live.size <= 4000) {
      for (const [p, o] of live) {
        const size = CACHE_SPECS[o.cache]!.size;
        const t0 = a.dv.getInt32(p, true);
        const t1 = a.dv.getInt32(p + size - 4, true);
        if (t0 !== o.tag || t1 !== ~o.tag) {
          noteV(v, 'live object lost its tag', `${what}: live object 0x${p.toString(16)} (${CACHE_SPECS[o.cache]!.name}) tag ${t0}/${~t1}, expected ${o.tag}`);
          o.tag = t0; // report once
        }
      }
    }
  };
  const applyAlloc = (c: number, ptrs: number[], by: W, tag0: number, what: string): void => {
    ptrs.forEach((p, i) => {
      if (p === 0) {
        const free = a.pageStats().free;
        if (free >= 1 << caches[c]!.order) noteV(v, 'alloc returned 0 with free pages', `${what}: alloc returned 0 with ${free} free pages (a slab needs ${1 << caches[c]!.order})`);
        return;
      }
      if (!Number.isInteger(p) || p <= 0 || p + CACHE_SPECS[c]!.size > a.committedBytes()) {
        noteV(v, 'alloc outside the arena', `${what}: alloc returned ${p}, outside the arena`);
        return;
      }
      if (live.has(p)) {
        note('double allocation (alloc returned a live object)');
        v.push(`${what}: alloc returned 0x${p.toString(16)}, which is live (allocated by worker ${live.get(p)!.by})`);
      }
      const pe = pending.get(p);
      if (pe && !a.rcu.pollState(pe.cookie)) {
        note('reuse before grace period');
        v.push(`${what}: alloc returned 0x${p.toString(16)}, pending in kfreeRcu and its grace period has not completed`);
      }
      pending.delete(p);
      freed.delete(p);
      live.set(p, { cache: c, tag: (tag0 + i) | 0, by });
    });
  };
  const expectOneWarning = async (cmd: Cmd, r: ModelReply, before: string, what: string): Promise<void> => {
    const key = cmd.k + ('off' in cmd ? `(${cmd.off})` : '') + ('kfree' in cmd && cmd.kfree ? '(kfree)' : '');
    attempts.set(key, (attempts.get(key) ?? 0) + 1);
    const ws = r.warnings;
    if (ws.length !== 1) {
      note(`${key}: ${ws.length} warnings, expected 1${r.threw ? ` (threw: ${r.threw.slice(0, 80)})` : ''}`);
      v.push(`${what}: expected exactly one warning, got ${ws.length}: ${JSON.stringify(ws.map((w) => `${w.kind}: ${w.message}`))}${r.threw ? `; threw ${r.threw}` : ''}`);
    } else if (!EXPECT[cmd.k]!.test(`${ws[0]!.kind} ${ws[0]!.message}`)) {
      note(`${key}: warning of the wrong kind`);
      v.push(`${what}: warning "${ws[0]!.kind}: ${ws[0]!.message}" does not match ${EXPECT[cmd.k]}`);
    }
    // A refused op changes nothing: the live counts must still be the model's (which a
    // refused op leaves as it was, and which checkState matched after the previous step).
    // Compared with the model, not with a read taken before the op: a drain in another
    // thread may be half counted at any one read (see checkState), before the op too.
    // A change the op made shows on every read; re-read until equal or SETTLE_MS pass.
    const expected = modelSnap();
    let after = snap();
    await settle(() => (after = snap()) === expected);
    if (after !== expected) {
      note(`${key}: changed stats (objects - kfree_rcu_pending)`);
      v.push(`${what}: a refused op changed stats (objects - kfree_rcu_pending per cache): model ${expected}, read before ${before}, after ${after}`);
    }
  };
  const other = (w: W): W => (w === 0 ? 1 : 0);

  for (let step = 0; step < cmds.length; step++) {
    const cmd = cmds[step]!;
    const what = `step ${step} ${JSON.stringify(cmd)}`;
    const peer = peers[cmd.w]!;
    const before = snap();
    countersBefore = counters();
    let r: ModelReply | undefined;
    switch (cmd.k) {
      case 'alloc': {
        const tag0 = tag;
        tag += cmd.n;
        r = await peer.call({ op: 'alloc', cache: cmd.cache, n: cmd.n, tag0 });
        applyAlloc(cmd.cache, r.ptrs ?? [], cmd.w, tag0, what);
        break;
      }
      case 'free': {
        const p = pickFrom(keysOf(live), cmd.pick);
        if (p === undefined) continue;
        const o = live.get(p)!;
        live.delete(p);
        freed.set(p, o.cache);
        r = await peer.call(cmd.kfree ? { op: 'kfree', ptr: p } : { op: 'free', cache: o.cache, ptr: p });
        break;
      }
      case 'kfreeRcu': {
        const p = pickFrom(keysOf(live), cmd.pick);
        if (p === undefined) continue;
        const o = live.get(p)!;
        const size = CACHE_SPECS[o.cache]!.size;
        const head = cmd.head === 'none' ? undefined : cmd.head === 'last' ? size - 4 : cmd.head;
        live.delete(p);
        pending.set(p, { cache: o.cache, cookie: a.rcu.getState() });
        r = await peer.call({ op: 'kfreeRcu', ptr: p, ...(head === undefined ? {} : { head }) });
        break;
      }
      case 'barrier': {
        r = await peer.call({ op: 'barrier' });
        for (const [p, x] of pending) freed.set(p, x.cache);
        pending.clear();
        caches.forEach((c) => {
          const s = c.stats();
          if (s.kfree_rcu_pending !== 0) noteV(v, 'kfree_rcu_pending after a barrier', `${what}: ${c.name} kfree_rcu_pending ${s.kfree_rcu_pending} after kvfreeRcuBarrierAsync`);
        });
        break;
      }
      case 'shrink':
        r = await peer.call({ op: 'shrink', cache: cmd.cache });
        break;
      case 'doubleFree': {
        const p = pickFrom(keysOf(freed), cmd.pick);
        if (p === undefined) continue;
        r = await peer.call(cmd.kfree ? { op: 'kfree', ptr: p } : { op: 'free', cache: freed.get(p)!, ptr: p });
        await expectOneWarning(cmd, r, before, what);
        break;
      }
      case 'freePending': {
        const p = pickFrom(keysOf(pending), cmd.pick);
        if (p === undefined) continue;
        r = await peer.call(cmd.kfree ? { op: 'kfree', ptr: p } : { op: 'free', cache: pending.get(p)!.cache, ptr: p });
        await expectOneWarning(cmd, r, before, what);
        break;
      }
      case 'kfreeRcuTwice': {
        const p = pickFrom(keysOf(pending), cmd.pick);
        if (p === undefined) continue;
        r = await peer.call({ op: 'kfreeRcu', ptr: p });
        await expectOneWarning(cmd, r, before, what);
        break;
      }
      case 'kfreeRcuFreed': {
        const p = pickFrom(keysOf(freed), cmd.pick);
        if (p === undefined) continue;
        r = await peer.call({ op: 'kfreeRcu', ptr: p });
        await expectOneWarning(cmd, r, before, what);
        break;
      }
      case 'badHead': {
        const p = pickFrom(keysOf(live), cmd.pick);
        if (p === undefined) continue;
        const size = CACHE_SPECS[live.get(p)!.cache]!.size;
        const off = cmd.off === 'size' ? size : cmd.off === 'size+4' ? size + 4 : cmd.off;
        r = await peer.call({ op: 'kfreeRcu', ptr: p, head: off });
        await expectOneWarning(cmd, r, before, what);
        break;
      }
      case 'interior': {
        const p = pickFrom(keysOf(live), cmd.pick);
        if (p === undefined) continue;
        const c = live.get(p)!.cache;
        const delta = cmd.delta === 'half' ? CACHE_SPECS[c]!.size >> 1 : cmd.delta;
        r = await peer.call({ op: 'free', cache: c, ptr: p + delta });
        await expectOneWarning(cmd, r, before, what);
        break;
      }
      case 'wrongCache': {
        const p = pickFrom(keysOf(live), cmd.pick);
        if (p === undefined) continue;
        r = await peer.call({ op: 'free', cache: 1 - live.get(p)!.cache, ptr: p });
        await expectOneWarning(cmd, r, before, what);
        break;
      }
    }
    if (r?.background.length) {
      // Raised by this worker between two commands (a timer's drain): never expected.
      noteV(v, 'background warning', `${what}: warnings raised before this command (between commands) ${JSON.stringify(r.background.map((w) => `${w.kind}: ${w.message}`))}`);
    }
    if (r && !BAD.has(cmd.k)) {
      if (r.warnings.length) {
        note(`${cmd.k}: unexpected warning`);
        v.push(`${what}: unexpected warnings ${JSON.stringify(r.warnings.map((w) => `${w.kind}: ${w.message}`))}`);
      }
      if (r.threw) {
        note(`${cmd.k}: threw`);
        v.push(`${what}: threw ${r.threw}`);
      }
    }
    void other;
    await checkState(what);
    if (v.length > 12) break; // enough to diagnose
  }
  // End: barrier, free everything, barrier, counts 0, validate clean.
  if (v.length === 0) {
    await peers[0]!.call({ op: 'barrier' });
    for (const [p, x] of pending) freed.set(p, x.cache);
    pending.clear();
    await checkState('end, after a barrier');
    for (const [p, o] of live) {
      const r = await peers[o.by]!.call({ op: 'free', cache: o.cache, ptr: p });
      if (r.warnings.length || r.threw) noteV(v, 'end: free of a live object refused', `end: free of live 0x${p.toString(16)}: ${JSON.stringify(r.warnings.map((w) => w.message))} ${r.threw ?? ''}`);
    }
    live.clear();
    await peers[1]!.call({ op: 'barrier' });
    await checkState('end, everything freed');
    for (const c of caches) {
      const val = c.validate();
      if (val.errors !== 0 || val.reports.length) noteV(v, 'validate at the end', `end: validate(${c.name}) errors=${val.errors} reports=${JSON.stringify(val.reports.slice(0, 3))}`);
    }
  }
  for (const w of mainWarnings) noteV(v, 'warning in the main thread', `warning in the main thread: ${w.kind}: ${w.message}`);
  return v;
}

test(`model test across 2 workers: ${RUNS} runs of random alloc/free/remote free/kfreeRcu/bad ops in a 1 MiB arena`, async (t) => {
  const peers = [new Peer(), new Peer()];
  t.after(() => Promise.all(peers.map((p) => p.w.terminate())));
  hangs = 0;
  const t0 = Date.now();
  let failingRuns = 0;
  // 1. Every run, every violation tallied.
  await fc.assert(
    fc.asyncProperty(fc.array(cmdArb, { minLength: 10, maxLength: 60, size: 'medium' }), async (cmds) => {
      const v = await runCaseSafe(peers, cmds);
      if (v.length) {
        failingRuns++;
        if (!firstViolations || cmds.length < firstViolations.cmds.length) firstViolations = { cmds, v };
      }
      return true;
    }),
    { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
  );
  const survey = [...tally].sort((x, y) => y[1] - x[1]).map(([k, n]) => {
    const base = k.split(':')[0]!;
    return `${k}: ${n}${attempts.has(base) ? ` of ${attempts.get(base)}` : ''}`;
  });
  const tried = [...attempts].sort().map(([k, n]) => `${k}=${n}`).join(' ');
  const summary = `model2w: ${RUNS} runs, ${failingRuns} with violations, ${Date.now() - t0} ms\n  bad ops tried: ${tried}\n  ${survey.join('\n  ')}`;
  console.log(summary);
  if (failingRuns === 0) return;
  // 2. Shrink one failing case for the report (not when a worker hung: each try would wait for the watchdog).
  let shrunk = hangs ? `(not shrunk: ${hangs} runs hung)` : '';
  if (!hangs) try {
    await fc.assert(
      fc.asyncProperty(fc.array(cmdArb, { minLength: 10, maxLength: 60, size: 'medium' }), async (cmds) => (await runCaseSafe(peers, cmds)).length === 0),
      { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
    );
  } catch (e) {
    shrunk = String((e as Error).message).split('\n').slice(0, 6).join('\n');
  }
  assert.fail(`${summary}\nshortest failing case seen (${firstViolations!.cmds.length} commands):\n  ${firstViolations!.v.slice(0, 8).join('\n  ')}\nshrunk by fast-check:\n${shrunk}`);
});
