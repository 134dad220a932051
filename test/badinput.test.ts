/**
 * Bad input (DESIGN §5): every misuse gets a clear error or a kernel-style report, and
 * nothing is lost or corrupted by it. Each case checks the error and then that counts,
 * pages, slabinfo and the contents of every other live object are unchanged.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, PAGE_SIZE, SLAB_NO_MERGE, type Cache, type SlabWarning } from '../src/index.js';
import { checkPattern, fillPattern, withWarnings } from './helpers/slab-helpers.js';

const MiB = 1 << 20;

interface World {
  a: Arena;
  A: Cache; // 64-byte objects, 64 per slab
  B: Cache; // 96-byte objects
  C: Cache; // 3000-byte objects, 10 per order-3 slab (2768 bytes of tail padding)
  live: Map<number, { c: Cache; tag: number }>;
}

function world(): World {
  const a = Arena.create({ bytes: 4 * MiB });
  const A = a.createCache('bad-a', { size: 64, flags: SLAB_NO_MERGE });
  const B = a.createCache('bad-b', { size: 96, flags: SLAB_NO_MERGE });
  const C = a.createCache('bad-c', { size: 3000, flags: SLAB_NO_MERGE });
  const live = new Map<number, { c: Cache; tag: number }>();
  let tag = 1;
  // A: one full slab (not the cpu slab any more) and a cpu slab; B and C: a few objects.
  for (let i = 0; i < 70; i++) live.set(A.alloc(), { c: A, tag: tag++ });
  for (let i = 0; i < 5; i++) live.set(B.alloc(), { c: B, tag: tag++ });
  for (let i = 0; i < 3; i++) live.set(C.alloc(), { c: C, tag: tag++ });
  for (const [p, o] of live) fillPattern(a, p, o.c.objectSize, o.tag);
  return { a, A, B, C, live };
}

interface Snapshot {
  pages: ReturnType<Arena['pageStats']>;
  counts: number[][];
  slabinfo: string;
}

function snapshot(w: World): Snapshot {
  return {
    pages: w.a.pageStats(),
    counts: [w.A, w.B, w.C].map((c) => {
      const s = c.stats();
      return [s.objects, s.slabs, s.partial, s.total_objects];
    }),
    slabinfo: w.a.slabinfo(),
  };
}

/** Nothing lost: same counts and pages, every live object intact, and allocation still sane. */
function assertIntact(w: World, before: Snapshot, what: string): void {
  assert.deepEqual(snapshot(w), before, `${what}: counts/pages/slabinfo unchanged`);
  for (const [p, o] of w.live) assert.ok(checkPattern(w.a, p, o.c.objectSize, o.tag), `${what}: object 0x${p.toString(16)} intact`);
  assert.equal(w.a.pages.countFreeLists(), w.a.pageStats().free, `${what}: buddy free lists agree`);
}

/** Allocate n objects of c: all distinct, none overlapping a live object; then free them again. */
function assertAllocSane(w: World, c: Cache, n: number, what: string): void {
  const got: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = c.alloc();
    assert.notEqual(p, 0);
    assert.ok(!w.live.has(p), `${what}: alloc returned a live object 0x${p.toString(16)}`);
    got.push(p);
  }
  assert.equal(new Set(got).size, n, `${what}: distinct objects`);
  const sorted = [...got, ...[...w.live.keys()]].sort((x, y) => x - y);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const size = w.live.get(prev)?.c.size ?? c.size;
    assert.ok(prev + size <= sorted[i]! || prev + 64 <= sorted[i]!, `${what}: overlap at 0x${prev.toString(16)}`);
  }
  for (const p of got) c.free(p);
}

/**
 * Allocate as many objects as c's existing slabs have free (total_objects - objects):
 * they must all be distinct and none live. (A refill fills a whole sheaf, so it may take
 * the last free objects and then open one new slab for the rest of the sheaf.) Returns them.
 */
function drainFree(w: World, c: Cache, what: string): number[] {
  const st = c.stats();
  const n = st.total_objects - st.objects;
  const got: number[] = [];
  for (let i = 0; i < n; i++) got.push(c.alloc());
  assert.ok(c.stats().alloc_slab - st.alloc_slab <= 1, `${what}: the ${n} objects needed at most the one slab of a sheaf refill`);
  assert.equal(new Set(got).size, n, `${what}: no object handed out twice`);
  for (const p of got) assert.ok(p !== 0 && !w.live.has(p), `${what}: 0x${p.toString(16)} is not live`);
  const extra = c.alloc();
  assert.equal(c.stats().alloc_slab, st.alloc_slab + 1, `${what}: then a new slab`);
  got.push(extra);
  return got;
}

function expectReport(w: World, kind: string, fn: () => void): SlabWarning {
  const { warnings } = withWarnings(w.a, fn);
  assert.equal(warnings.length, 1, `one ${kind} report`);
  assert.equal(warnings[0]!.kind, kind);
  assert.ok(warnings[0]!.report.length > 0);
  return warnings[0]!;
}

test('free(0) is a no-op', () => {
  const w = world();
  const s = snapshot(w);
  const { warnings } = withWarnings(w.a, () => {
    w.A.free(0);
    w.B.free(0);
    w.a.kfree(0);
  });
  assert.equal(warnings.length, 0);
  assertIntact(w, s, 'free(0)');
});

test('free of another cache\'s object: "wrong-cache" report, both caches untouched', () => {
  const w = world();
  const pb = [...w.live].find(([, o]) => o.c === w.B)![0];
  const pa = [...w.live].find(([, o]) => o.c === w.A)![0];
  const s = snapshot(w);
  const r = expectReport(w, 'wrong-cache', () => w.A.free(pb));
  assert.equal(r.message, 'bad-a: Wrong slab cache. bad-a but object is from bad-b');
  assert.equal(r.cache, 'bad-a');
  expectReport(w, 'wrong-cache', () => w.B.free(pa));
  expectReport(w, 'wrong-cache', () => w.C.free(pa));
  assertIntact(w, s, 'wrong cache');
  assertAllocSane(w, w.A, 200, 'wrong cache');
  assertAllocSane(w, w.B, 50, 'wrong cache');
  // The object still frees through its own cache.
  w.B.free(pb);
  w.live.delete(pb);
  assert.equal(w.B.stats().objects, 4);
});

test('interior pointers are refused: in the cpu slab, in a full slab, and in a slab\'s tail padding', () => {
  const w = world();
  const aPtrs = [...w.live].filter(([, o]) => o.c === w.A).map(([p]) => p);
  const inFull = aPtrs[0]!; // the first slab is full and off the cpu
  const inCpu = aPtrs[aPtrs.length - 1]!; // the last one is in the cpu slab
  const cPtrs = [...w.live].filter(([, o]) => o.c === w.C).map(([p]) => p).sort((x, y) => x - y);
  const cSlab = cPtrs[0]! & ~(8 * PAGE_SIZE - 1);
  const s = snapshot(w);
  for (const bad of [inFull + 8, inFull + 63, inCpu + 8, inCpu + 1, inCpu + 32]) {
    const r = expectReport(w, 'invalid-free', () => w.A.free(bad));
    assert.match(r.message, /interior pointer/);
  }
  // Past the last object of a slab (10 x 3000 = 30000 of 32768 bytes): not an object.
  for (const bad of [cSlab + 30000, cSlab + 30000 + 8, cSlab + 32768 - 8]) {
    const r = expectReport(w, 'invalid-free', () => w.C.free(bad));
    assert.match(r.message, /interior pointer/);
  }
  assertIntact(w, s, 'interior');
  assertAllocSane(w, w.A, 200, 'interior');
  assertAllocSane(w, w.C, 30, 'interior');
});

test('pointers outside the arena, into metadata, into a free page or a large kmalloc are refused', () => {
  const w = world();
  const big = w.a.kmalloc(3 * PAGE_SIZE);
  const freed = w.a.kmalloc(5 * PAGE_SIZE); // > 8 KiB: whole pages, not kmalloc-8k
  w.a.kfree(freed); // its pages are free in the buddy allocator now
  const s = snapshot(w);
  const outside = [w.a.sab.byteLength, w.a.sab.byteLength + 64, -64, 1 << 30, 2 ** 40, 1.5, Number.NaN];
  for (const bad of outside) {
    const r = expectReport(w, 'invalid-free', () => w.A.free(bad));
    assert.match(r.message, /outside the arena/, String(bad));
  }
  for (const bad of [8, PAGE_SIZE + 64, freed, freed + 64, big, big + PAGE_SIZE]) {
    const r = expectReport(w, 'invalid-free', () => w.A.free(bad));
    assert.match(r.message, /not a slab object/, `0x${bad.toString(16)}`);
  }
  // kfree of the same: refused too, nothing freed.
  for (const bad of [-64, w.a.sab.byteLength, 8, freed, freed + 64]) expectReport(w, 'invalid-free', () => w.a.kfree(bad));
  assertIntact(w, s, 'outside');
  assert.equal(w.a.ksize(big), 4 * PAGE_SIZE);
  assertAllocSane(w, w.A, 100, 'outside');
});

test('double free right after a free is reported and the freelist stays intact (cpu slab, partial slab, remote)', () => {
  const w = world();
  const aPtrs = [...w.live].filter(([, o]) => o.c === w.A).map(([p]) => p);
  const cases: [string, number][] = [
    ['cpu slab', aPtrs[aPtrs.length - 1]!],
    ['full -> partial slab', aPtrs[0]!],
  ];
  for (const [what, p] of cases) {
    w.A.free(p);
    w.live.delete(p);
    const s = snapshot(w);
    const r = expectReport(w, 'double-free', () => w.A.free(p));
    assert.match(r.report, /Object already free/);
    assert.match(r.report, /^BUG bad-a \(/m);
    assertIntact(w, s, `double free (${what})`);
    // The freelists are intact: every free object of the existing slabs can be allocated
    // once, the freed one among them exactly once, without a new slab.
    const got = drainFree(w, w.A, what);
    assert.equal(got.filter((x) => x === p).length, 1, `${what}: the freed object comes back exactly once`);
    for (const x of got) w.A.free(x);
  }
  // Remote: another slot frees one of our objects, then frees it again.
  const b = Arena.attach(w.a.sab);
  try {
    const bA = b.findCache('bad-a')!;
    const p = w.A.alloc(); // from our cpu slab
    bA.free(p);
    const s = snapshot(w);
    const { warnings } = withWarnings(b, () => bA.free(p));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.kind, 'double-free');
    assertIntact(w, s, 'double free (remote)');
    // The object went into the freeing thread's own sheaf (free_to_pcs), once: b's next
    // alloc gets it back, and the one after does not.
    const again = bA.alloc();
    assert.equal(again, p);
    const next = bA.alloc();
    assert.notEqual(next, p);
    bA.free(next);
    bA.free(again);
  } finally {
    b.detach();
  }
  assert.equal(w.A.stats().objects, [...w.live.values()].filter((o) => o.c === w.A).length);
});

test('createCache rejects invalid names, sizes, alignments, flags and options, consuming nothing', () => {
  const w = world();
  const s = snapshot(w);
  const bad: [string, unknown, unknown][] = [
    ['empty name', '', { size: 8 }],
    ['space only', ' ', { size: 8 }],
    ['inner space', 'a b', { size: 8 }],
    ['tab', 'a\tb', { size: 8 }],
    ['newline', 'ab\n', { size: 8 }],
    ['65 chars', 'x'.repeat(65), { size: 8 }],
    ['number name', 42, { size: 8 }],
    ['null name', null, { size: 8 }],
    ['undefined name', undefined, { size: 8 }],
    ['size 0', 'ok-name', { size: 0 }],
    ['size -1', 'ok-name', { size: -1 }],
    ['size 1.5', 'ok-name', { size: 1.5 }],
    ['size NaN', 'ok-name', { size: Number.NaN }],
    ['size Infinity', 'ok-name', { size: Infinity }],
    ['size string', 'ok-name', { size: '64' }],
    ['size missing', 'ok-name', {}],
    ['size huge', 'ok-name', { size: 2 ** 40 }],
    ['size 2^31', 'ok-name', { size: 2 ** 31 }],
    ['size > MAX_ORDER', 'ok-name', { size: (4 << 20) + 8 }],
    ['align 3', 'ok-name', { size: 8, align: 3 }],
    ['align 8192', 'ok-name', { size: 8, align: 8192 }],
    ['align -8', 'ok-name', { size: 8, align: -8 }],
    ['align 1.5', 'ok-name', { size: 8, align: 1.5 }],
    ['unknown flag', 'ok-name', { size: 8, flags: 1 << 20 }],
    ['internal kmalloc flag', 'ok-name', { size: 8, flags: 1 << 16 }],
    ['flags -1', 'ok-name', { size: 8, flags: -1 }],
    ['flags 0.5', 'ok-name', { size: 8, flags: 0.5 }],
    ['ctor not a function', 'ok-name', { size: 8, ctor: 42 }],
    ['opts null', 'ok-name', null],
    ['opts number', 'ok-name', 64],
  ];
  for (const [what, name, opts] of bad) {
    assert.throws(
      () => w.a.createCache(name as string, opts as { size: number }),
      (e: unknown) => (e instanceof TypeError || e instanceof RangeError) && /slabrcu/.test((e as Error).message),
      what,
    );
  }
  assertIntact(w, s, 'bad create');
  assert.equal(w.a.findCache('ok-name'), undefined);
  // The limits themselves are fine.
  const ok64 = w.a.createCache('y'.repeat(64), { size: 8, align: 4096, flags: SLAB_NO_MERGE });
  assert.equal(ok64.align, 4096);
  assert.equal(ok64.destroySync().status, 'released');
  assertIntact(w, s, 'after the limits');
});

test('a duplicate live name throws (own name or alias); the name is free again after destroy', () => {
  const w = world();
  const s = snapshot(w);
  assert.throws(() => w.a.createCache('bad-a', { size: 64, flags: SLAB_NO_MERGE }), /kmem_cache of name 'bad-a' already exists/);
  assert.throws(() => w.a.createCache('bad-b', { size: 8 }), /already exists/);
  const m1 = w.a.createCache('dup-m1', { size: 200 });
  const m2 = w.a.createCache('dup-m2', { size: 200 });
  assert.equal(m1.idx, m2.idx);
  assert.throws(() => w.a.createCache('dup-m2', { size: 200 }), /already exists/);
  assert.equal(m1.stats().aliases, 1);
  m2.destroySync();
  m1.destroySync();
  assertIntact(w, s, 'duplicate');
  const again = w.a.createCache('dup-m2', { size: 16 });
  assert.equal(again.objectSize, 16);
});

test('Arena.create rejects bad options', () => {
  const bad: [string, object][] = [
    ['bytes 0', { bytes: 0 }],
    ['bytes 1000', { bytes: 1000 }],
    ['bytes 1.5 MiB + 0.5', { bytes: 1.5 * MiB + 0.5 }],
    ['bytes -1', { bytes: -1 }],
    ['bytes 2 GiB', { bytes: 2 ** 31 }],
    ['bytes NaN', { bytes: Number.NaN }],
    ['bytes string', { bytes: '1048576' }],
    ['maxBytes < bytes', { bytes: 2 * MiB, maxBytes: MiB }],
    ['maxBytes 2 GiB', { bytes: MiB, maxBytes: 2 ** 31 }],
    ['maxThreads 0', { bytes: MiB, maxThreads: 0 }],
    ['maxThreads 1.5', { bytes: MiB, maxThreads: 1.5 }],
    ['maxThreads 100000', { bytes: MiB, maxThreads: 100000 }],
    ['maxCaches 1', { bytes: MiB, maxCaches: 1 }],
    ['rcu', { bytes: MiB, rcu: 'tree' }],
    ['quarantineBytes -1', { bytes: MiB, quarantineBytes: -1 }],
    ['too small for metadata', { bytes: 300 * 1024, maxThreads: 1024 }],
  ];
  for (const [what, opts] of bad) {
    assert.throws(() => Arena.create(opts as Parameters<typeof Arena.create>[0]), (e: unknown) => e instanceof RangeError && /slabrcu/.test((e as Error).message), what);
  }
  // Sane small options work.
  const a = Arena.create({ bytes: MiB, maxThreads: 2, maxCaches: 16 });
  assert.equal(a.pageStats().used, 0);
  a.detach();
});

test('Arena.attach rejects anything that is not an arena', () => {
  const notArena: [string, unknown][] = [
    ['zeroed SAB', new SharedArrayBuffer(64 * 1024)],
    ['tiny SAB', new SharedArrayBuffer(16)],
    ['random SAB', (() => { const s = new SharedArrayBuffer(8192); new Int32Array(s).fill(0x12345678); return s; })()],
    ['ArrayBuffer', new ArrayBuffer(8192)],
    ['typed array', new Int32Array(new SharedArrayBuffer(8192))],
    ['undefined', undefined],
    ['number', 42],
  ];
  for (const [what, v] of notArena) {
    assert.throws(() => Arena.attach(v as SharedArrayBuffer), TypeError, what);
  }
  // A real one attaches, gets its own slot, and can be detached.
  const a = Arena.create({ bytes: MiB, maxThreads: 2, maxCaches: 16 });
  const b = Arena.attach(a.sab);
  assert.notEqual(b.threadId, a.threadId);
  assert.throws(() => Arena.attach(a.sab), /thread slots/, 'maxThreads 2: a third attach finds no slot');
  b.detach();
  const c = Arena.attach(a.sab);
  assert.equal(c.threadId, b.threadId, 'the detached slot is reused');
  c.detach();
});

test('a detached thread cannot use the arena any more', () => {
  const a = Arena.create({ bytes: MiB, maxThreads: 2, maxCaches: 16 });
  const b = Arena.attach(a.sab);
  const c = b.findCache('kmalloc-32')!;
  const p = c.alloc();
  b.detach();
  assert.throws(() => b.createCache('after-detach', { size: 8 }), /detached/);
  assert.throws(() => b.findCache('kmalloc-32'), /detached/);
  assert.throws(() => b.kmalloc(8), /detached/);
  // The object allocated before detach is still live and can be freed by another thread.
  assert.equal(a.findCache('kmalloc-32')!.stats().objects, 1);
  a.kfree(p);
  assert.equal(a.findCache('kmalloc-32')!.stats().objects, 0);
});
