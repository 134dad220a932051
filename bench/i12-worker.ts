/**
 * Worker of the issue-12 multi-worker rows (bench/issue12.ts): producer/consumer through
 * a ring in shared memory, and larson-style windows with 25% of frees by the other worker.
 *
 * Every timed loop is its own `new Function` (ownFunction): the contenders differ only in
 * the ALLOC / FREE snippets spliced into the same loop text. Control words (Int32Array
 * `ctl` over its own SharedArrayBuffer), one 64-byte line each:
 *   0 GO (0: wait, 1: run)   8 PARK (never notified: a timed nap)
 *   16 / 32  producer/consumer HEAD / TAIL (items published / consumed), ring at word 256
 *   16+32d / 32+32d  larson ring d (d = 0: worker 0 -> 1, d = 1: 1 -> 0) HEAD / TAIL,
 *   rings at word 256 + d * LRING; 128+16w: worker w finished its timed ops
 * Time: process.hrtime (CLOCK_MONOTONIC, one clock for every thread); the main thread
 * takes max(end) - min(start) over the workers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../src/arena.js';
import { ownFunction } from './measure.js';

export const RING = 1024; // producer/consumer ring entries
export const LRING = 4096; // larson hand-off ring entries (each direction)
export const LWIN = 5000; // larson window per worker (mimalloc-bench larson: 5000 chunks)
export const CTL_WORDS = 256 + 2 * LRING + 64;
/** 64-byte slots of the bare producer/consumer ring: after the control words. */
export const PC_SLOTS_WORD = 256 + RING + 64;

export type PcVariant = 'slab' | 'bare' | 'smo';
export type LarsonVariant = 'slab' | 'bare';

export interface PcData {
  kind: 'pc';
  role: 'producer' | 'consumer';
  variant: PcVariant;
  ctl: SharedArrayBuffer;
  /** slab: the arena; smo: the MemoryBuffer's buffer; bare: unused. */
  sab?: SharedArrayBuffer;
  cache?: string;
  smoUrl?: string;
  n: number;
}

export interface LarsonData {
  kind: 'larson';
  variant: LarsonVariant;
  ctl: SharedArrayBuffer;
  /** slab: the arena; bare: the shared object memory. */
  sab: SharedArrayBuffer;
  w: number;
  workers: number;
  ops: number;
  /** bare: the byte range of this worker's bump region. */
  bumpStart: number;
  bumpEnd: number;
  /** Random sizes 16..256 (the same table for every contender). */
  sizes: Uint16Array;
}

export type I12Data = PcData | LarsonData;

const now = (): number => Number(process.hrtime.bigint());

/**
 * Waiting for the other side: spin (re-reading the index) for ~20k iterations, then a
 * 50 µs nap, so a descheduled partner on 2 shared cores does not cost a whole slice.
 */
const SPIN = `if (++sp > 20000) { Atomics.wait(ctl, 8, 0, 0.05); sp = 0; }`;

/**
 * Ops per call of a worker's loop. Each contender's loop is called once per chunk (its
 * state lives in the closure), as an application calls its code over and over: one call
 * of millions of iterations runs on V8's on-stack-replacement code for a long while,
 * which slowed the allocator's loop (calls inlined from several modules) more than the
 * bare loops (single run 107 ns/op, in chunks of 4096 72 ns/op, on 2M larson ops).
 */
export const CHUNK = 4096;
function inChunks(n: number, run: (limit: number) => number): number {
  let r = 0;
  for (let lim = Math.min(CHUNK, n); ; lim = Math.min(lim + CHUNK, n)) {
    r = run(lim);
    if (lim >= n) return r;
  }
}

function pcLoop(d: PcData, env: Record<string, unknown>, alloc: string, fill: string, take: string, free: string): (n: number) => number {
  const HEAD = 16, TAIL = 32, R = 256, MASK = RING - 1;
  if (d.role === 'producer') {
    return ownFunction(`i12 pc producer ${d.variant}`, env, 'let k = 0, tailSeen = 0, sp = 0;', `function run(N) {
  while (k < N) {
    if (k - tailSeen >= ${RING}) {
      tailSeen = Atomics.load(ctl, ${TAIL});
      if (k - tailSeen >= ${RING}) { Atomics.store(ctl, ${HEAD}, k); ${SPIN} continue; }
    }
    const p = ${alloc};
    ${fill}
    ctl[${R} + (k & ${MASK})] = p;
    k++;
    if ((k & 31) === 0) Atomics.store(ctl, ${HEAD}, k);
  }
  Atomics.store(ctl, ${HEAD}, k);
  return 0;
}`);
  }
  return ownFunction(`i12 pc consumer ${d.variant}`, env, 'let k = 0, headSeen = 0, sp = 0, sink = 0;', `function run(N) {
  while (k < N) {
    if (k === headSeen) {
      headSeen = Atomics.load(ctl, ${HEAD});
      if (k === headSeen) { Atomics.store(ctl, ${TAIL}, k); ${SPIN} continue; }
    }
    const p = ctl[${R} + (k & ${MASK})];
    ${take}
    ${free}
    k++;
    if ((k & 31) === 0) Atomics.store(ctl, ${TAIL}, k);
  }
  Atomics.store(ctl, ${TAIL}, k);
  return sink;
}`);
}

/** The 64-byte fill: 16 words. */
const fill16 = (arr: string, w: string): string => Array.from({ length: 16 }, (_, i) => `${arr}[${w} + ${i}] = k + ${i};`).join(' ');

async function runPc(d: PcData, ctl: Int32Array): Promise<{ start: number; end: number; sink: number; cleanup: () => void }> {
  let loop: (n: number) => number;
  let cleanup = (): void => {};
  if (d.variant === 'slab') {
    const arena = Arena.attach(d.sab!);
    const c = arena.findCache(d.cache!)!;
    const i32 = arena.i32;
    loop = pcLoop(d, { ctl, c, i32 }, 'c.alloc()', `const w = p >> 2; ${fill16('i32', 'w')}`, 'sink += i32[p >> 2];', 'c.free(p);');
    cleanup = () => arena.detach();
  } else if (d.variant === 'smo') {
    const MB = ((await import(d.smoUrl!)) as { default: new (o: object) => { malloc(b: number): number; free(p: number): boolean } }).default;
    const mb = new MB({ buf: d.sab!, skipInitialization: true });
    const u32 = new Uint32Array(d.sab!);
    loop = pcLoop(d, { ctl, mb, u32 }, 'mb.malloc(64)', `const w = p >> 2; ${fill16('u32', 'w')}`, 'sink += u32[p >> 2];', 'mb.free(p);');
  } else {
    // Bare slots: the ring entry's own 64-byte slot is the object; "free" is the tail moving on.
    loop = pcLoop(d, { ctl }, `${PC_SLOTS_WORD} + ((k & ${RING - 1}) << 4)`, fill16('ctl', 'p'), 'sink += ctl[p];', '');
  }
  // The bare producer publishes the slot's word index in the ring like the others publish a
  // pointer, so every variant does the same ring traffic.
  parentPort!.postMessage({ t: 'ready' });
  while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0, 100);
  const start = now();
  const sink = inChunks(d.n, loop);
  return { start, end: now(), sink, cleanup };
}

async function runLarson(d: LarsonData, ctl: Int32Array): Promise<{ start: number; end: number; sink: number; cleanup: () => void }> {
  const remote = d.workers > 1;
  const me = d.w;
  const OUT = me, IN = 1 - me;
  const OUT_HEAD = 16 + 32 * OUT, OUT_TAIL = 32 + 32 * OUT, OUT_R = 256 + OUT * LRING;
  const IN_HEAD = 16 + 32 * IN, IN_TAIL = 32 + 32 * IN, IN_R = 256 + IN * LRING;
  const M = LRING - 1;
  let env: Record<string, unknown>;
  let ALLOC: string, FREE: (p: string) => string, WRITE: string, prelude: string;
  let cleanup = (): void => {};
  if (d.variant === 'slab') {
    const a = Arena.attach(d.sab);
    env = { a, i32: a.i32, ctl, sizes: d.sizes, win: new Int32Array(LWIN) };
    ALLOC = 'a.kmalloc(sz)';
    FREE = (p) => `a.kfree(${p});`;
    WRITE = 'i32[(p >> 2) + 1] = sz;';
    prelude = '';
    cleanup = () => a.detach();
  } else {
    // Per-thread bare free lists by kmalloc size class (16 32 64 96 128 192 256), the
    // link in word 0, the size in word 1 (the write every contender does); a remote free
    // goes onto the freeing thread's own list; empty lists bump-allocate.
    const cls = new Uint8Array(257);
    const csz = [16, 32, 64, 96, 128, 192, 256];
    for (let s = 0; s <= 256; s++) cls[s] = csz.findIndex((c) => c >= s);
    env = { m32: new Int32Array(d.sab), ctl, sizes: d.sizes, win: new Int32Array(LWIN), cls, csz: new Int32Array(csz), heads: new Int32Array(8), LIMIT: d.bumpEnd };
    prelude = `let bump = ${d.bumpStart};`;
    ALLOC = '0; { const c = cls[sz]; p = heads[c]; if (p !== 0) heads[c] = m32[p >> 2]; else { p = bump; bump += csz[c]; if (bump > LIMIT) throw new Error("bare larson: bump region exhausted"); } }';
    FREE = (q) => `{ const q_ = ${q}; const c = cls[m32[(q_ >> 2) + 1]]; m32[q_ >> 2] = heads[c]; heads[c] = q_; }`;
    WRITE = 'm32[(p >> 2) + 1] = sz;';
  }
  const allocInto = (lhs: string): string => d.variant === 'slab' ? `${lhs} = ${ALLOC};` : `${lhs} = ${ALLOC}`;
  const fns = ownFunction<{ fill: () => void; seed: (s: number) => void; run: (limit: number) => number; drain: () => number; publish: () => void; release: () => void }>(
    `i12 larson ${d.variant} w${me}/${d.workers}`, env, `${prelude}
let inTail = 0, outHead = 0, outTailSeen = 0, x = 0, sp = 0, sink = 0, done = 0;
function drain() {
  ${remote ? `let t = inTail; const h = Atomics.load(ctl, ${IN_HEAD});
  while (t !== h) { const q = ctl[${IN_R} + (t & ${M})]; ${FREE('q')} t++; }
  if (t !== inTail) { inTail = t; Atomics.store(ctl, ${IN_TAIL}, t); }
  return h;` : 'return 0;'}
}`, `{
  fill() { for (let j = 0; j < ${LWIN}; j++) { const sz = sizes[j & 4095]; let p; ${allocInto('p')} ${WRITE} win[j] = p; } },
  seed(s) { x = s | 0; },
  run(limit) {
    for (let k = done; k < limit; k++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      const u = x >>> 0;
      const j = ((u >>> 13) * ${LWIN}) >>> 19;
      const old = win[j];
      ${remote ? `if ((u & 3) === 0) {
        while (outHead - outTailSeen >= ${LRING}) {
          outTailSeen = Atomics.load(ctl, ${OUT_TAIL});
          if (outHead - outTailSeen >= ${LRING}) { Atomics.store(ctl, ${OUT_HEAD}, outHead); drain(); ${SPIN} }
        }
        ctl[${OUT_R} + (outHead & ${M})] = old;
        outHead++;
        if ((outHead & 15) === 0) Atomics.store(ctl, ${OUT_HEAD}, outHead);
      } else ${FREE('old')}` : FREE('old')}
      const sz = sizes[(u >>> 2) & 4095];
      let p; ${allocInto('p')}
      ${WRITE}
      win[j] = p;
      ${remote ? 'if ((k & 63) === 0) drain();' : ''}
      sink += p & 1;
    }
    ${remote ? `Atomics.store(ctl, ${OUT_HEAD}, outHead);` : ''}
    done = limit;
    return sink;
  },
  drain,
  publish() { ${remote ? `Atomics.store(ctl, ${OUT_HEAD}, outHead);` : ''} },
  release() { for (let j = 0; j < ${LWIN}; j++) ${FREE('win[j]')} },
}`);
  fns.fill();
  parentPort!.postMessage({ t: 'ready' });
  while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0, 100);
  const start = now();
  fns.seed(0x9e3779b9 ^ (me * 0x85ebca6b));
  const sink = inChunks(d.ops, (lim) => fns.run(lim));
  const end = now();
  if (remote) {
    // Untimed: serve the partner's hand-offs until it has finished and nothing is left.
    // The partner stored its final OUT_HEAD before its done word: once that is seen, one
    // more drain reads the final head, and inTail reaching it means nothing is left.
    Atomics.store(ctl, 128 + 16 * me, 1);
    let sp = 0;
    for (;;) {
      const partnerDone = Atomics.load(ctl, 128 + 16 * IN) === 1;
      const h = fns.drain();
      if (partnerDone && Atomics.load(ctl, IN_HEAD) === h) break;
      if (++sp > 20000) { Atomics.wait(ctl, 8, 0, 0.05); sp = 0; }
    }
    fns.drain();
  }
  fns.release();
  return { start, end, sink, cleanup };
}

if (parentPort && (workerData as I12Data | undefined)?.kind) {
  const d = workerData as I12Data;
  const ctl = new Int32Array(d.ctl);
  const r = d.kind === 'pc' ? await runPc(d, ctl) : await runLarson(d, ctl);
  r.cleanup();
  parentPort.postMessage({ t: 'done', start: r.start, end: r.end, sink: r.sink });
}
