/**
 * Issue 12's benchmarks: the allocator core as Linux 7.0 builds it (percpu sheaves in
 * every cache, the barn, bulk refill and flush), default caches (no options), 64-byte
 * objects unless a row says otherwise, each row beside its baseline, the issue's floor,
 * and the figure the issue quoted before the change ("before (issue 12 text)").
 *
 * Single-thread rows: mitata samples in interleaved rounds (measure.ts compareRounds),
 * median of the round medians, every contender (baselines too) its own `new Function`
 * with a unique source and its arrays as const bindings (ownFunction). Multi-worker rows:
 * real worker_threads (i12-worker.ts), a fresh arena and fresh workers per run, the
 * contenders interleaved run by run, median of the runs with the spread beside it.
 * Memory rows: arena pages (pageStats) before and after.
 */
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { MemPool } from '@thi.ng/malloc';
import { Arena } from '../src/index.js';
import { compareRounds, median, ownFunction, spread, type Contender } from './measure.js';
import { freeListContender, Obj, slabContender } from './slab.js';
import { CHUNK, CTL_WORDS, LWIN, PC_SLOTS_WORD, RING, type LarsonData, type LarsonVariant, type PcData, type PcVariant } from './i12-worker.js';
import { smoModuleUrl } from './vendor-smo.js';
import type { BenchOptions, BenchRow, BenchSection } from './types.js';

const OBJ = 64;
const BEFORE = 'before (issue 12 text)';
type Loop = (n: number) => void;

function loop(name: string, env: Record<string, unknown>, prelude: string, body: string): Loop {
  return ownFunction(`i12 bench: ${name}`, env, prelude, `function run(n) { ${body} }`);
}

/** xorshift32 step and a uniform index in [0, live): a float multiply, no division. */
const RAND = (inv: string): string => `x ^= x << 13; x ^= x >>> 17; x ^= x << 5; const j = ((x >>> 0) * ${inv}) | 0;`;

// ----------------------------------------------------------------- single-thread contenders

/** Random replacement: free the object at a random live index, allocate, write a word, store. */
function slabRandom(name: string, live: number): Contender {
  let arena: Arena | undefined;
  let run: Loop = () => {};
  return {
    name,
    setup() {
      arena = Arena.create({ bytes: Math.max(32 << 20, live * OBJ * 2 + (16 << 20)) });
      const c = arena.createCache('i12-random-64', { size: OBJ });
      const ring = new Int32Array(live);
      for (let k = 0; k < live; k++) ring[k] = c.alloc();
      run = loop(name, { c, i32: arena.i32, ring, INV: live / 2 ** 32 }, 'let x0 = 0x2545f491;', `
  let x = x0;
  for (let k = 0; k < n; k++) {
    ${RAND('INV')}
    c.free(ring[j]);
    const p = c.alloc();
    i32[(p >> 2) + 1] = k;
    ring[j] = p;
  }
  x0 = x;`);
    },
    run: (n) => run(n),
    teardown: () => arena?.detach(),
  };
}

/** A bare Int32Array LIFO free list doing the same random replacement. */
function bareRandom(name: string, live: number): Contender {
  let run: Loop = () => {};
  return {
    name,
    setup() {
      const slots = live * 2;
      const i32 = new Int32Array((slots * OBJ) >> 2);
      for (let s = 0; s < slots; s++) i32[(s * OBJ) >> 2] = s + 1 < slots ? (s + 1) * OBJ : -1;
      const ring = new Int32Array(live);
      let head = 0;
      for (let k = 0; k < live; k++) {
        ring[k] = head;
        head = i32[head >> 2]!;
      }
      run = loop(name, { i32, ring, INV: live / 2 ** 32, h0: head }, 'let x0 = 0x2545f491, head = h0;', `
  let x = x0, h = head;
  for (let k = 0; k < n; k++) {
    ${RAND('INV')}
    const f = ring[j];
    i32[f >> 2] = h; h = f;       // free: push
    const p = h; h = i32[p >> 2]; // alloc: pop
    i32[(p >> 2) + 1] = k;
    ring[j] = p;
  }
  head = h; x0 = x;`);
    },
    run: (n) => run(n),
  };
}

/** Plain JS objects (bench/slab.ts Obj, 64 bytes of payload) replaced at a random index. */
function jsRandom(name: string, live: number): Contender {
  let run: Loop = () => {};
  let ring: Obj[] = [];
  return {
    name,
    setup() {
      ring = Array.from({ length: live }, (_, k) => new Obj(k));
      run = loop(name, { Obj, r: ring, INV: live / 2 ** 32 }, 'let x0 = 0x2545f491;', `
  let x = x0;
  for (let k = 0; k < n; k++) {
    ${RAND('INV')}
    r[j] = new Obj(k);
  }
  x0 = x;`);
    },
    run: (n) => run(n),
    teardown: () => void (ring.length = 0),
  };
}

/** 1000 caches of one size (created with no options: they merge), a random cache per alloc. */
function manyCaches(name: string, live: number, count: number, sameLoop = count > 1): Contender {
  let arena: Arena | undefined;
  let run: Loop = () => {};
  return {
    name,
    setup() {
      arena = Arena.create({ bytes: Math.max(32 << 20, live * OBJ * 2 + (16 << 20)), maxCaches: Math.max(128, count) });
      const caches = Array.from({ length: count }, (_, k) => arena!.createCache(`i12-many-${count}-${k}`, { size: OBJ }));
      const ring = new Int32Array(live);
      const rc = new Uint16Array(live);
      for (let k = 0; k < live; k++) {
        rc[k] = k % count;
        ring[k] = caches[rc[k]!]!.alloc();
      }
      // sameLoop: the many-cache loop itself (the handle that allocated each object, a
      // random handle per alloc), here over an array of `count` handles; else the plain
      // one-cache loop (no handle bookkeeping).
      const body = !sameLoop
        ? `c.free(ring[j]); const p = c.alloc();`
        : `caches[rc[j]].free(ring[j]); const ci = (((x >>> 7) & 1023) * ${count}) >>> 10; const p = caches[ci].alloc(); rc[j] = ci;`;
      run = loop(name, { c: caches[0], caches, ring, rc, i32: arena.i32, INV: live / 2 ** 32 }, 'let x0 = 0x2545f491;', `
  let x = x0;
  for (let k = 0; k < n; k++) {
    ${RAND('INV')}
    ${body}
    i32[(p >> 2) + 1] = k;
    ring[j] = p;
  }
  x0 = x;`);
    },
    run: (n) => run(n),
    teardown: () => arena?.detach(),
  };
}

/** Newest-first bursts: allocate 1024 (write a word into each), free them newest first. */
const BURST = (alloc: string, write: string, free: string): string => `
  for (let b = 0; b < n; b += 1024) {
    for (let i = 0; i < 1024; i++) { const p = ${alloc}; ${write} buf[i] = p; }
    for (let i = 1023; i >= 0; i--) { ${free} }
  }`;
function slabBurst(name: string): Contender {
  let arena: Arena | undefined;
  let run: Loop = () => {};
  return {
    name,
    setup() {
      arena = Arena.create({ bytes: 32 << 20 });
      const c = arena.createCache('i12-burst-64', { size: OBJ });
      run = loop(name, { c, i32: arena.i32, buf: new Int32Array(1024) }, '', BURST('c.alloc()', 'i32[(p >> 2) + 1] = i;', 'c.free(buf[i]);'));
    },
    run: (n) => run(n),
    teardown: () => arena?.detach(),
  };
}
function bareBurst(name: string): Contender {
  let run: Loop = () => {};
  return {
    name,
    setup() {
      const slots = 2048;
      const i32 = new Int32Array((slots * OBJ) >> 2);
      // Slot 0 is never handed out: 0 ends the list.
      for (let s = 1; s < slots; s++) i32[(s * OBJ) >> 2] = s + 1 < slots ? (s + 1) * OBJ : 0;
      run = loop(name, { i32, buf: new Int32Array(1024) }, 'let head = 64;', `let h = head;
  ${BURST('h', 'h = i32[p >> 2]; i32[(p >> 2) + 1] = i;', 'const f = buf[i]; i32[f >> 2] = h; h = f;')}
  head = h;`);
    },
    run: (n) => run(n),
  };
}
function memPoolBurst(name: string): Contender {
  let run: Loop = () => {};
  return {
    name,
    setup() {
      const pool = new MemPool({ size: 1024 * (OBJ + 16) * 2 + 4096 });
      run = loop(name, { pool, m: new Uint32Array(pool.buf), buf: new Int32Array(1024), OBJ }, '', BURST('pool.malloc(OBJ)', 'm[(p >> 2) + 1] = i;', 'pool.free(buf[i]);'));
    },
    run: (n) => run(n),
  };
}

/** alloc + kfreeRcu, kvfreeRcuBarrier() every 64k objects (inside the timed calls). */
function kfreeRcuContender(name: string): Contender {
  let arena: Arena | undefined;
  let run: Loop = () => {};
  return {
    name,
    setup() {
      arena = Arena.create({ bytes: 64 << 20 });
      const c = arena.createCache('i12-kfree-64', { size: OBJ });
      run = loop(name, { c, a: arena, i32: arena.i32 }, 'let cnt = 0;', `
  for (let k = 0; k < n; k++) {
    const p = c.alloc();
    i32[(p >> 2) + 1] = k;
    a.kfreeRcu(p);
    if (++cnt === 65536) { cnt = 0; a.kvfreeRcuBarrier(); }
  }`);
    },
    run: (n) => run(n),
    teardown() {
      arena?.kvfreeRcuBarrier();
      arena?.detach();
    },
  };
}

// ----------------------------------------------------------------- memory rows

interface PendingBytes { label: string; bytes: number; pages: number; n: number }

function pendingKfreeBytes(label: string, n: number, sheafCapacity?: number): PendingBytes {
  const a = Arena.create({ bytes: Math.max(64 << 20, n * 160) });
  try {
    const c = a.createCache(`i12-pending-${sheafCapacity ?? 'default'}`, sheafCapacity === undefined ? { size: OBJ } : { size: OBJ, sheafCapacity });
    const ptrs = new Int32Array(n);
    for (let k = 0; k < n; k++) ptrs[k] = c.alloc();
    const u0 = a.pageStats().used;
    // Inside a read section: objects stay pending (no full block's GP can complete at its
    // close: kfree/pump.ts fullClosed), as they do while any reader is in one.
    a.rcu.readLock();
    for (let k = 0; k < n; k++) a.kfreeRcu(ptrs[k]!);
    const u1 = a.pageStats().used;
    const pending = a.kfreeRcuPending();
    a.rcu.readUnlock();
    if (pending !== n) throw new Error(`pendingKfreeBytes: ${pending} of ${n} pending`);
    a.kvfreeRcuBarrier();
    return { label, bytes: ((u1 - u0) * 4096) / n, pages: u1 - u0, n };
  } finally {
    a.detach();
  }
}

function liveBytes(n: number): { bytes: number; withMeta: number; pages: number } {
  const a = Arena.create({ bytes: n * OBJ * 2 + (32 << 20) });
  try {
    const c = a.createCache('i12-live-64', { size: OBJ });
    const u0 = a.pageStats().used;
    for (let k = 0; k < n; k++) if (c.alloc() === 0) throw new Error('liveBytes: arena exhausted');
    const pages = a.pageStats().used - u0;
    return { bytes: (pages * 4096) / n, withMeta: (pages * (4096 + 32)) / n, pages };
  } finally {
    a.detach();
  }
}

// ----------------------------------------------------------------- multi-worker rows

const WORKER_URL = new URL('./i12-worker.js', import.meta.url);

interface Timed { secs: number }

async function runWorkers(datas: (PcData | LarsonData)[], arena?: Arena): Promise<Timed> {
  const ctl = new Int32Array(datas[0]!.ctl);
  const ws = datas.map((d) => new Worker(WORKER_URL, { workerData: d }));
  if (arena) for (const w of ws) arena.watch(w);
  const errors: Error[] = [];
  const exited = ws.map((w) => new Promise<void>((r) => { w.once('error', (e) => errors.push(e)); w.once('exit', () => r()); }));
  const msgs = ws.map((w) => {
    const q: { t: string; start?: number; end?: number }[] = [];
    const waiters: ((m: { t: string; start?: number; end?: number }) => void)[] = [];
    w.on('message', (m) => { const f = waiters.shift(); if (f) f(m); else q.push(m); });
    return () => new Promise<{ t: string; start?: number; end?: number }>((r) => { const m = q.shift(); if (m) r(m); else waiters.push(r); });
  });
  const next = (k: number): Promise<{ t: string; start?: number; end?: number }> =>
    Promise.race([msgs[k]!(), exited[k]!.then(() => { throw errors[0] ?? new Error('i12 worker exited early'); })]);
  await Promise.all(ws.map((_, k) => next(k)));
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  const done = await Promise.all(ws.map((_, k) => next(k)));
  await Promise.all(exited);
  const start = Math.min(...done.map((m) => m.start!));
  const end = Math.max(...done.map((m) => m.end!));
  return { secs: (end - start) / 1e9 };
}

/** One producer/consumer run: objects per second. */
async function pcOnce(variant: PcVariant, n: number): Promise<number> {
  const ctl = new SharedArrayBuffer((PC_SLOTS_WORD + RING * 16) * 4);
  const base = { kind: 'pc' as const, variant, ctl, n };
  let arena: Arena | undefined;
  let extra: Partial<PcData> = {};
  if (variant === 'slab') {
    arena = Arena.create({ bytes: 32 << 20 });
    arena.createCache('i12-pc-64', { size: OBJ });
    extra = { sab: arena.sab, cache: 'i12-pc-64' };
  } else if (variant === 'smo') {
    const url = smoModuleUrl();
    const MB = ((await import(url)) as { default: new (o: object) => unknown }).default;
    const sab = new SharedArrayBuffer(1 << 20); // the package's largest buffer (1 MiB: its 20-bit offsets)
    new MB({ buf: sab, compact: false, split: false }); // as MemoryHeap creates its buffers
    extra = { sab, smoUrl: url };
  }
  try {
    const t = await runWorkers([{ ...base, ...extra, role: 'producer' }, { ...base, ...extra, role: 'consumer' }], arena);
    return n / t.secs;
  } finally {
    arena?.detach();
  }
}

/** One larson-style run: total operations per second over the workers. */
async function larsonOnce(variant: LarsonVariant, workers: number, ops: number, sizes: Uint16Array): Promise<number> {
  const ctl = new SharedArrayBuffer(CTL_WORDS * 4);
  let arena: Arena | undefined;
  let sab: SharedArrayBuffer;
  const region = 48 << 20;
  if (variant === 'slab') {
    arena = Arena.create({ bytes: 96 << 20 });
    sab = arena.sab;
  } else {
    sab = new SharedArrayBuffer(region * workers + 64);
  }
  const datas: LarsonData[] = Array.from({ length: workers }, (_, w) => ({
    kind: 'larson', variant, ctl, sab, w, workers, ops, sizes, bumpStart: 64 + w * region, bumpEnd: 64 + (w + 1) * region,
  }));
  try {
    const t = await runWorkers(datas, arena);
    return (ops * workers) / t.secs;
  } finally {
    arena?.detach();
  }
}

// ----------------------------------------------------------------- the section

const fmtR = (r: number): string => `${r.toFixed(r < 1 ? 3 : r < 10 ? 2 : 1)}×`;

export async function benchIssue12(opts: BenchOptions = { quick: false }, parts?: string[]): Promise<BenchSection> {
  const want = (p: string): boolean => !parts || parts.includes(p);
  const q = opts.quick;
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const rounds = q ? 1 : 7;
  const mt = q ? 20 : 150;
  const ms = q ? 2 : 5;
  const steps = 8;
  let step = 0;
  const prog = (label: string): void => opts.progress?.(++step, steps, label);
  const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

  type Pair = { name: string; c: Contender; row: Partial<BenchRow> };
  async function group(list: Contender[], opsPerCall: number): Promise<Map<string, number[]>> {
    const r = await compareRounds(list, { opsPerCall, rounds, minMs: mt, minSamples: ms });
    gc();
    return r;
  }
  const med = (m: Map<string, number[]>, c: Contender): number => median(m.get(c.name)!);
  const sp = (m: Map<string, number[]>, c: Contender): string => spread(m.get(c.name)!);
  void ({} as Pair);

  // 1. oldest freed first, 1k live.
  if (want('oldest')) {
    const ours = slabContender('slabrcu, oldest freed first, 1k live', 1000);
    const bare = freeListContender('bare Int32Array free list, oldest freed first, 1k live', 1000);
    const m = await group([ours, bare], 100_000);
    rows.push({ name: ours.name, value: med(m, ours), unit: 'ns/op', baseline: 'bare free list', ratio: med(m, bare) / med(m, ours), floor: 0.35, spread: sp(m, ours),
      before: 'not quoted (old bench/results.md: 21.1 ns, 0.086× the bare list)' });
    rows.push({ name: bare.name, value: med(m, bare), unit: 'ns/op', spread: sp(m, bare) });
    prog('oldest first');
  }

  // 2. random replacement, 1k / 100k / 1M live.
  const oldRandom: Record<string, [number, number]> = { '1k': [101, 1.7], '100k': [241, 6.7], '1M': [455, 16] };
  if (want('random')) for (const [label, live] of (q ? [['1k', 1000], ['100k', 100_000]] : [['1k', 1000], ['100k', 100_000], ['1M', 1_000_000]]) as [string, number][]) {
    const ours = slabRandom(`slabrcu, random replacement, ${label} live`, live);
    const bare = bareRandom(`bare free list, random replacement, ${label} live`, live);
    const withJs = label === '1M';
    const js = withJs ? jsRandom(`plain JS objects + GC, random replacement, ${label} live`, live) : undefined;
    const m = await group(js ? [ours, bare, js] : [ours, bare], live >= 1_000_000 ? 1_000_000 : 100_000);
    const t = med(m, ours);
    const [o, ob] = oldRandom[label]!;
    rows.push({ name: ours.name, value: t, unit: 'ns/op', baseline: 'bare free list, same pattern', ratio: med(m, bare) / t, floor: label === '1k' ? undefined : 0.5, spread: sp(m, ours),
      before: `${o} ns vs bare ${ob} ns (${fmtR(ob / o)})` });
    rows.push({ name: bare.name, value: med(m, bare), unit: 'ns/op', spread: sp(m, bare), before: `${ob} ns` });
    if (js) {
      rows.push({ name: `slabrcu, random replacement, ${label} live, vs plain JS`, value: t, unit: 'ns/op', baseline: 'plain JS objects + GC', ratio: med(m, js) / t, floor: 5, spread: sp(m, ours),
        before: '2.4× slower than plain JS + GC (0.42×)' });
      rows.push({ name: js.name, value: med(m, js), unit: 'ns/op', spread: sp(m, js) });
    }
    prog(`random ${label}`);
  }

  // 3. newest-first bursts of 1024.
  if (want('bursts')) {
    const ours = slabBurst('slabrcu, newest-first bursts of 1024');
    const bare = bareBurst('bare free list, newest-first bursts of 1024');
    const pool = memPoolBurst('@thi.ng/malloc MemPool, newest-first bursts of 1024');
    const m = await group([ours, bare, pool], 1024 * 100);
    const t = med(m, ours);
    rows.push({ name: ours.name, value: t, unit: 'ns/op', baseline: 'bare free list', ratio: med(m, bare) / t, floor: 0.5, spread: sp(m, ours),
      before: '59 ns (sheafCapacity 32); 54 ns without sheaves' });
    rows.push({ name: `${ours.name}, vs @thi.ng/malloc`, value: t, unit: 'ns/op', baseline: '@thi.ng/malloc MemPool', ratio: med(m, pool) / t, floor: 1, spread: sp(m, ours),
      before: '0.42× (59 vs 25 ns)' });
    rows.push({ name: bare.name, value: med(m, bare), unit: 'ns/op', spread: sp(m, bare) });
    rows.push({ name: pool.name, value: med(m, pool), unit: 'ns/op', spread: sp(m, pool), before: '25 ns' });
    prog('bursts');
  }

  // 4. 1000 caches of one size vs one cache, random replacement, 100k live.
  if (want('caches')) {
    const live = q ? 10_000 : 100_000;
    const one = manyCaches(`slabrcu, 1 cache, random replacement, ${live / 1000}k live, the same loop (an array of 1 handle)`, live, 1, true);
    const plain = manyCaches(`slabrcu, 1 cache, random replacement, ${live / 1000}k live, plain loop (no handle bookkeeping)`, live, 1, false);
    const many = manyCaches(`slabrcu, 1000 caches of 64 B (merged), random cache per op, ${live / 1000}k live`, live, 1000);
    const m = await group([one, plain, many], 100_000);
    const t1 = med(m, one), tp = med(m, plain), tm = med(m, many);
    rows.push({ name: many.name, value: tm, unit: 'ns/op', baseline: 'one cache, the same loop (ratio ≥ 0.5: at most 2× its cost)', ratio: t1 / tm, floor: 0.5, spread: sp(m, many),
      before: '11.6× the cost of one cache (0.086×)' });
    rows.push({ name: `${many.name}, vs the plain one-cache loop`, value: tm, unit: 'ns/op', baseline: 'one cache, plain loop (the last stop\'s baseline)', ratio: tp / tm, spread: sp(m, many) });
    rows.push({ name: one.name, value: t1, unit: 'ns/op', spread: sp(m, one) });
    rows.push({ name: plain.name, value: tp, unit: 'ns/op', spread: sp(m, plain) });
    notes.push(`1000 caches: ${fmtR(tm / t1)} the per-op cost of one cache running the same loop (floor ≤ 2×), ${fmtR(tm / tp)} that of the plain one-cache loop. Created with createCache(name, { size: 64 }) and no flags, so they merge into one kmem_cache as the kernel merges them (the arena gets maxCaches 1000 for the 2000-entry name table); each op frees the object at a random index through the handle that allocated it and allocates through a random handle. The floor's baseline runs that very loop over an array of one handle (the handle lookups, the second random draw and the per-object handle index cost the same there), so the ratio is what the 1000 caches themselves cost; the plain loop, the baseline of earlier runs, is shown beside it.`);
    prog('1000 caches');
  }

  // 5. alloc + kfreeRcu vs alloc + free of the oldest in a 1024 window.
  if (want('kfree')) {
    const k = kfreeRcuContender('slabrcu, alloc + kfreeRcu (kvfreeRcuBarrier every 64k, timed)');
    const w = slabContender('slabrcu, alloc + free of the oldest, 1024 window', 1024);
    const m = await group([k, w], 65536 * 2);
    rows.push({ name: k.name, value: med(m, k), unit: 'ns/op', baseline: 'alloc + free of the oldest, 1024 window', ratio: med(m, w) / med(m, k), floor: 0.5, spread: sp(m, k),
      before: 'not quoted (old bench/results.md: 0.11×, barrier every 100k vs alloc+free of one hot object)' });
    rows.push({ name: w.name, value: med(m, w), unit: 'ns/op', spread: sp(m, w) });
    prog('kfreeRcu');
  }

  // 6. memory: arena bytes per pending kfreeRcu object, per live object.
  if (want('memory')) {
    const n = q ? 10_000 : 100_000;
    const cases = [
      pendingKfreeBytes('default cache', n),
      pendingKfreeBytes('default cache', q ? 100_000 : 1_000_000),
      pendingKfreeBytes('sheafCapacity 32', n, 32),
      pendingKfreeBytes('sheafCapacity 128', n, 128),
    ];
    for (const c of cases) {
      const b = Math.max(c.bytes, 1e-9);
      rows.push({ name: `arena bytes per pending kfreeRcu object, ${c.label}, ${c.n / 1000}k pending (${c.pages} pages)`, value: c.bytes, unit: 'bytes/object', baseline: '8 B budget (ratio = 8 ÷ bytes)', ratio: 8 / b, floor: 1,
        before: c.label === 'sheafCapacity 32' ? '128 B' : 'not quoted' });
    }
    const lb = liveBytes(q ? 100_000 : 1_000_000);
    rows.push({ name: `arena bytes per live 64 B object, ${q ? '100k' : '1M'} live (${lb.pages} pages)`, value: lb.bytes, unit: 'bytes/object', baseline: '66 B budget (ratio = 66 ÷ bytes)', ratio: 66 / lb.bytes, floor: 1, before: 'not quoted' });
    rows.push({ name: `the same, counting the 32 B page descriptor per 4 KiB page`, value: lb.withMeta, unit: 'bytes/object', baseline: '66 B budget', ratio: 66 / lb.withMeta });
    prog('memory');
  }

  // 7. producer/consumer across 2 workers.
  if (want('pc')) {
    const R = q ? 1 : 7;
    const N: Record<PcVariant, number> = q ? { slab: 200_000, bare: 400_000, smo: 5_000 } : { slab: 3_000_000, bare: 6_000_000, smo: 40_000 };
    const res: Record<PcVariant, number[]> = { slab: [], bare: [], smo: [] };
    for (let r = 0; r < R; r++) for (const v of ['slab', 'bare', 'smo'] as PcVariant[]) res[v].push(await pcOnce(v, N[v]));
    const s = median(res.slab), b = median(res.bare), o = median(res.smo);
    const M = (xs: number[]): string => spread(xs.map((x) => x / 1e6));
    rows.push({ name: 'producer/consumer, 2 workers: slabrcu (alloc + fill 64 B | free)', value: s / 1e6, unit: 'M objects/s', baseline: 'same ring, bare slots', ratio: s / b, floor: 0.6, spread: M(res.slab),
      before: '8.9 M/s (0.24× bare); 12.2 M/s with sheafCapacity' });
    rows.push({ name: 'producer/consumer, 2 workers: slabrcu vs @daneren2005/shared-memory-objects', value: s / 1e6, unit: 'M objects/s', baseline: '@daneren2005/shared-memory-objects', ratio: s / o, floor: 15, spread: M(res.slab), before: 'not measured' });
    rows.push({ name: 'producer/consumer, 2 workers: same ring, bare slots', value: b / 1e6, unit: 'M objects/s', spread: M(res.bare), before: '37.4 M/s' });
    rows.push({ name: 'producer/consumer, 2 workers: @daneren2005/shared-memory-objects MemoryBuffer malloc(64) | free', value: o / 1e6, unit: 'M objects/s', spread: M(res.smo) });
    notes.push(`producer/consumer: one worker allocates a 64 B object from a default cache, writes its 16 words and publishes its pointer in a ${RING}-entry ring in shared memory (head and tail published every 32 items); the other reads a word and frees it. Bare slots: the ring's own 64 B slots are the objects (the same fill, the same ring traffic; a "free" is the tail moving on). @daneren2005/shared-memory-objects 0.0.4: its MemoryBuffer (the locked @thi.ng/malloc fork its MemoryHeap is built on) over one 1 MiB shared buffer, malloc(64) / free(p); its free() walks the used-block list from the newest block, so freeing the oldest of up to ${RING} in flight walks them all. objects/s = objects ÷ (last end − first start), ${N.slab / 1e6}M objects per slabrcu run; median of ${R} runs, the three contenders interleaved run by run, fresh workers and arena each run. Each worker calls its loop in chunks of ${CHUNK} items (all contenders alike: one call of millions of iterations ran on V8's on-stack-replacement code).`);
    prog('producer/consumer');
  }

  // 8. larson-style: per-worker window, kmalloc 16..256, 25% freed by the other worker.
  if (want('larson')) {
    const R = q ? 1 : 7;
    const ops = q ? 200_000 : 2_000_000;
    const sizes = new Uint16Array(4096);
    let x = 0x1234567;
    for (let k = 0; k < sizes.length; k++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      sizes[k] = 16 + ((x >>> 0) % 241);
    }
    const res: Record<string, number[]> = { s1: [], s2: [], b1: [], b2: [] };
    for (let r = 0; r < R; r++) {
      res.s1!.push(await larsonOnce('slab', 1, ops, sizes));
      res.s2!.push(await larsonOnce('slab', 2, ops, sizes));
      res.b1!.push(await larsonOnce('bare', 1, ops, sizes));
      res.b2!.push(await larsonOnce('bare', 2, ops, sizes));
    }
    const s1 = median(res.s1!), s2 = median(res.s2!), b1 = median(res.b1!), b2 = median(res.b2!);
    const M = (xs: number[]): string => spread(xs.map((v) => v / 1e6));
    rows.push({ name: 'larson-style, slabrcu kmalloc, 2 workers vs 1', value: s2 / 1e6, unit: 'M ops/s', baseline: '1 worker', ratio: s2 / s1, floor: 1.5, spread: M(res.s2!), before: '0.88× (default); 1.46× sheafCapacity 32' });
    rows.push({ name: 'larson-style, slabrcu kmalloc, 2 workers vs per-thread bare free lists (2 workers)', value: s2 / 1e6, unit: 'M ops/s', baseline: 'per-thread bare free lists, 2 workers', ratio: s2 / b2, floor: 0.6, spread: M(res.s2!), before: 'not quoted' });
    rows.push({ name: 'larson-style, slabrcu kmalloc, 1 worker', value: s1 / 1e6, unit: 'M ops/s', spread: M(res.s1!) });
    rows.push({ name: 'larson-style, per-thread bare free lists, 2 workers vs 1', value: b2 / 1e6, unit: 'M ops/s', baseline: '1 worker', ratio: b2 / b1, spread: M(res.b2!), before: '1.60×' });
    rows.push({ name: 'larson-style, per-thread bare free lists, 1 worker', value: b1 / 1e6, unit: 'M ops/s', spread: M(res.b1!) });
    notes.push(`larson-style (mimalloc-bench larson, reduced): each worker keeps a window of ${LWIN} objects; an op picks a random slot, frees its object (25% of the time by handing it to the other worker through a 4096-entry ring in shared memory, which frees it; the receiver drains every 64 ops), allocates kmalloc(16..256) (a random size from one table), writes its size into word 1 and stores it. ${ops / 1e6}M ops per worker; throughput = all ops ÷ (last end − first start); 1 worker frees everything itself. Bare: per-thread LIFO lists per kmalloc size class (16 32 64 96 128 192 256) over one SharedArrayBuffer, a remote free goes onto the freeing thread's list, empty lists bump-allocate. Median of ${R} runs, the four configurations interleaved; each worker calls its loop in chunks of ${CHUNK} ops (all configurations alike).`);
    prog('larson');
  }

  const missed = rows.filter((r) => r.floor !== undefined && r.ratio !== undefined && r.ratio < r.floor)
    .map((r) => `Floor missed: ${r.name} is ${fmtR(r.ratio!)} ${r.baseline}, the target is ≥ ${r.floor}×.`);
  return {
    title: 'Issue 12: the Linux 7.0 core (sheaves in every cache, barn, bulk refill and flush), default caches',
    beforeLabel: BEFORE,
    rows,
    notes: [
      'ratio > 1: slabrcu wins; for times it is baseline ns ÷ slabrcu ns, for throughput slabrcu ÷ baseline, for memory the budget ÷ bytes (floor 1: within the budget). A floor of "≤ 2× the cost" is written as ratio ≥ 0.5.',
      `single-thread rows: ${rounds} interleaved rounds of mitata samples (≥ ${mt} ms each, batches of 100k ops or more), median of round medians; spread = min–max of the round medians. Every contender (baselines included) is its own new Function with a unique source and its arrays as const bindings (bench/measure.ts ownFunction).`,
      'oldest freed first: a sliding window (free the oldest, allocate, write a word). Random replacement: free the object at a random index (xorshift32), allocate, write a word, store it there; the bare free list does the same push and pop. Newest-first bursts: 1024 allocations (a word written into each) then 1024 frees newest first; one op = one alloc + one free.',
      'alloc + kfreeRcu: kvfreeRcuBarrier() runs inside the timed calls every 65 536 objects (a grace period and the drain), so its cost is in the per-object figure; the baseline allocates, writes the same word and frees the oldest of a 1024-object window. No reader is in a section here, so each full kfree_rcu block is drained at its close (one attempt at its grace period, never waiting: kfree/pump.ts fullClosed) into the barn, where the next allocations find its objects; with a reader in a section the blocks wait for the barrier (or the drain timer) and the cost per object is that of the slab round trip (about 3× here).',
      'memory rows: arena pages in use (pageStats().used) before and after, × 4096 ÷ objects. Pending kfreeRcu: the objects are allocated first, then every one passed to kfreeRcu inside a read section (so that none is drained at the close of its block), then pages counted again. Live: a fresh arena and one default 64 B cache.',
      `"${BEFORE}": the figures the issue's "Why" section quotes, measured on main before the rewrite (other sources are named where the issue quotes none).`,
      ...notes,
      ...missed,
      ...(q ? ['QUICK RUN (--quick): small sizes and few samples; not representative.'] : []),
    ],
  };
}

const argv1 = process.argv[1];
if (argv1 !== undefined && import.meta.url === pathToFileURL(argv1).href) {
  const pi = process.argv.indexOf('--parts');
  const sec = await benchIssue12({ quick: process.argv.includes('--quick') }, pi > 0 ? process.argv[pi + 1]!.split(',') : undefined);
  for (const r of sec.rows) {
    const ratio = r.ratio === undefined ? '' : `  ${fmtR(r.ratio)}${r.floor === undefined ? '' : ` (floor ≥ ${r.floor}×, ${r.ratio >= r.floor ? 'met' : 'MISSED'})`}`;
    console.log(`${r.value.toFixed(2).padStart(10)} ${r.unit.padEnd(12)} ${r.name}${ratio}  [${r.spread ?? ''}] before: ${r.before ?? ''}`);
  }
  for (const n of sec.notes ?? []) if (n.startsWith('Floor missed')) console.log(n);
}
