/**
 * Model test (fast-check): random sequences of createCache / alloc / free / kmalloc /
 * kfree / shrink / destroySync over several caches (mergeable and SLAB_NO_MERGE, several
 * sizes and slab orders) in a small (1 MiB) arena, so that memory runs out often. After
 * every step the arena is checked against a model:
 * - no two live objects overlap, and each lies inside the arena's pages;
 * - every live object still holds the pattern written when it was allocated;
 * - per cache: stats().objects and the slabinfo active_objs column equal the model's
 *   count; slabinfo rows agree with stats(); merging happened exactly where expected;
 * - pages: free + used = total, the buddy free lists hold `free` pages, and `used` equals
 *   the pages of every slab plus every large kmalloc;
 * - after a free, the next alloc from that cache succeeds even if the arena was exhausted.
 * At the end everything is freed and destroyed and the kmalloc caches shrunk: used pages
 * return to the baseline, except the pages of caches that were destroyed with objects
 * (leaked on purpose: their memory is never reused).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Arena, KMALLOC_SIZES, kmallocName, PAGE_SIZE, SLAB_HWCACHE_ALIGN, SLAB_NO_MERGE, type Cache, type SlabWarning,
} from '../src/index.js';
import { checkPattern, expectedRow, fillPattern, SLABINFO_HEAD1, SLABINFO_HEAD2 } from './helpers/slab-helpers.js';

const MiB = 1 << 20;

interface Spec {
  name: string;
  size: number;
  flags: number;
  /** Caches with the same key are merge-compatible (same stride and MERGE_SAME flags); undefined = never merges. */
  key?: string;
}

const SPECS: Spec[] = [
  { name: 'm24', size: 24, flags: 0, key: 'k24' }, // stride 24
  { name: 'm20', size: 20, flags: 0, key: 'k24' }, // ALIGN(20, 8) = 24: merges with m24
  { name: 'hw100', size: 100, flags: SLAB_HWCACHE_ALIGN, key: 'k128' }, // align 64, stride 128
  { name: 'nm64', size: 64, flags: SLAB_NO_MERGE },
  { name: 'nm700', size: 700, flags: SLAB_NO_MERGE }, // stride 704, order 2 (maxThreads 4)
  { name: 'm3000', size: 3000, flags: 0, key: 'k3000' }, // order 3, 10 per slab
  { name: 'm2995', size: 2995, flags: 0, key: 'k3000' }, // ALIGN(2995, 8) = 3000: merges with m3000
  { name: 'nm5000', size: 5000, flags: SLAB_NO_MERGE }, // order 3, 6 per slab
];

interface Obj {
  tag: number;
  len: number; // bytes written (the requested size)
  span: number; // bytes the object occupies (stride, or ksize)
}

interface Desc {
  key: string | undefined;
  idx: number;
  canonical: string;
  names: Set<string>;
  handle: Cache; // any handle of the descriptor (stats work while it is not released)
  objects: Map<number, Obj>;
  state: 'live' | 'leaked';
}

interface Model {
  names: Map<string, { desc: Desc; handle: Cache; spec: Spec }>;
  descs: Desc[];
  kmallocs: Map<number, Obj & { size: number }>;
  nextTag: number;
  /** The cache an object was just freed to: its next alloc must succeed. */
  lastFreed: Desc | undefined;
}

interface Real {
  a: Arena;
  warnings: SlabWarning[];
  kmallocHandles: Cache[];
}

const totals = { exhausted: 0, allocAfterFreeWhenExhausted: 0, merged: 0, leaked: 0, released: 0, steps: 0 };

// ------------------------------------------------------------------ invariant

function checkAll(m: Model, r: Real, what: string): void {
  const a = r.a;
  totals.steps++;
  // 1. Objects: inside the arena's pages, no overlap, contents intact.
  const all: [number, Obj][] = [];
  for (const d of m.descs) for (const e of d.objects) all.push(e);
  for (const e of m.kmallocs) all.push(e);
  all.sort((x, y) => x[0] - y[0]);
  const lo = a.layout.firstPage * PAGE_SIZE;
  const hi = a.committedBytes();
  for (let i = 0; i < all.length; i++) {
    const [p, o] = all[i]!;
    assert.ok(p >= lo && p + o.span <= hi, `${what}: object 0x${p.toString(16)} outside the pages`);
    if (i + 1 < all.length) assert.ok(p + o.span <= all[i + 1]![0], `${what}: 0x${p.toString(16)}+${o.span} overlaps 0x${all[i + 1]![0].toString(16)}`);
    assert.ok(checkPattern(a, p, o.len, o.tag), `${what}: contents of 0x${p.toString(16)} changed`);
  }
  // 2. Counts per cache, and the pages their slabs hold.
  let slabPages = 0;
  const expectedRows: string[] = [];
  const optionalRows: string[] = [];
  for (const d of m.descs) {
    const s = d.handle.stats();
    assert.equal(s.objects, d.objects.size, `${what}: ${d.canonical} stats().objects`);
    assert.equal(s.total_objects, s.slabs * s.objs_per_slab, `${what}: ${d.canonical} total_objects`);
    assert.ok(s.cpu_slabs <= 1, `${what}: one thread, at most one cpu slab`);
    assert.equal(s.state, d.state);
    if (d.state === 'live') assert.equal(s.aliases, d.names.size - 1, `${what}: ${d.canonical} aliases`);
    slabPages += s.slabs << s.order;
    const row = expectedRow(d.canonical, d.objects.size, s.total_objects, s.slab_size, s.objs_per_slab, 1 << s.order, s.slabs);
    // The kernel drops a leaked cache from slab_caches (it vanishes from slabinfo); keeping
    // its row is accepted too, but if present it must be right.
    if (d.state === 'live') expectedRows.push(row);
    else optionalRows.push(row);
  }
  const kmCount = new Map<string, number>();
  let largePages = 0;
  for (const o of m.kmallocs.values()) {
    if (o.size <= 8192) kmCount.set(kmallocName(o.span), (kmCount.get(kmallocName(o.span)) ?? 0) + 1);
    else largePages += o.span / PAGE_SIZE;
  }
  for (const h of r.kmallocHandles) {
    const s = h.stats();
    assert.equal(s.objects, kmCount.get(h.name) ?? 0, `${what}: ${h.name} objects`);
    slabPages += s.slabs << s.order;
    expectedRows.push(expectedRow(h.name, s.objects, s.total_objects, s.slab_size, s.objs_per_slab, 1 << s.order, s.slabs));
  }
  // 3. slabinfo: both headers, then exactly the expected rows (in any order; duplicate
  //    names are possible: a leaked cache and a new one of the same name).
  const lines = a.slabinfo().split('\n');
  assert.equal(lines[0], SLABINFO_HEAD1);
  assert.equal(lines[1], SLABINFO_HEAD2);
  assert.equal(lines[lines.length - 1], '');
  // A leaked cache's row may be absent; remove at most one occurrence per leaked cache
  // (its row can be identical to a live cache's row of the same name).
  const got = lines.slice(2, -1);
  for (const r of optionalRows) {
    const i = got.indexOf(r);
    if (i >= 0) got.splice(i, 1);
  }
  got.sort();
  assert.deepEqual(got, expectedRows.sort(), `${what}: slabinfo rows`);
  // 4. Pages.
  const ps = a.pageStats();
  assert.equal(ps.free + ps.used, ps.total, `${what}: free + used = total`);
  assert.equal(a.pages.countFreeLists(), ps.free, `${what}: buddy lists`);
  assert.equal(ps.used, slabPages + largePages, `${what}: used pages = slab pages + large kmalloc pages`);
}

// ------------------------------------------------------------------ commands

type Cmd = fc.Command<Model, Real>;

class CreateCmd implements Cmd {
  constructor(readonly spec: Spec) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const { spec } = this;
    m.lastFreed = undefined;
    if (m.names.has(spec.name)) {
      assert.throws(() => r.a.createCache(spec.name, { size: spec.size, flags: spec.flags }), /already exists/);
      checkAll(m, r, this.toString());
      return;
    }
    const c = r.a.createCache(spec.name, { size: spec.size, flags: spec.flags });
    const target = spec.key === undefined ? undefined : m.descs.find((d) => d.state === 'live' && d.key === spec.key);
    let desc: Desc;
    if (target) {
      assert.equal(c.idx, target.idx, `${spec.name} merges into ${target.canonical}`);
      totals.merged++;
      desc = target;
      desc.names.add(spec.name);
    } else {
      for (const d of m.descs) assert.notEqual(c.idx, d.idx, `${spec.name} must not share ${d.canonical}'s descriptor`);
      desc = { key: spec.key, idx: c.idx, canonical: spec.name, names: new Set([spec.name]), handle: c, objects: new Map(), state: 'live' };
      m.descs.push(desc);
    }
    assert.equal(c.objectSize, Math.max(spec.size, ...[...desc.names].map((n) => SPECS.find((s) => s.name === n)!.size)));
    m.names.set(spec.name, { desc, handle: c, spec });
    checkAll(m, r, this.toString());
  }
  toString(): string {
    return `create(${this.spec.name})`;
  }
}

/** The pick-th live cache name (sorted), so that commands apply whatever caches exist. */
function pickName(m: Readonly<Model>, pick: number, filter: (d: Desc) => boolean = () => true): string | undefined {
  const live = [...m.names].filter(([, e]) => filter(e.desc)).map(([n]) => n).sort();
  return live.length === 0 ? undefined : live[pick % live.length];
}

class AllocCmd implements Cmd {
  name = '?';
  constructor(readonly pick: number, readonly count: number) {}
  check(m: Readonly<Model>): boolean {
    return m.names.size > 0;
  }
  run(m: Model, r: Real): void {
    this.name = pickName(m, this.pick)!;
    const { desc, handle, spec } = m.names.get(this.name)!;
    const mustSucceed = m.lastFreed === desc;
    m.lastFreed = undefined;
    for (let i = 0; i < this.count; i++) {
      const p = handle.alloc();
      if (p === 0) {
        assert.ok(!(mustSucceed && i === 0), `${this}: alloc right after a free of this cache must succeed`);
        totals.exhausted++;
        // Exhausted: still 0 on a second try, and nothing changed.
        checkAll(m, r, `${this} (exhausted)`);
        assert.equal(handle.alloc(), 0);
        break;
      }
      if (mustSucceed && i === 0 && r.a.pageStats().free < 8) totals.allocAfterFreeWhenExhausted++;
      const tag = m.nextTag++;
      fillPattern(r.a, p, spec.size, tag);
      assert.ok(!desc.objects.has(p), `${this}: 0x${p.toString(16)} handed out twice`);
      desc.objects.set(p, { tag, len: spec.size, span: handle.size });
    }
    checkAll(m, r, this.toString());
  }
  toString(): string {
    return `alloc(#${this.pick}=${this.name}, ${this.count})`;
  }
}

class FreeCmd implements Cmd {
  name = '?';
  constructor(readonly which: number, readonly pick: number, readonly count: number) {}
  check(m: Readonly<Model>): boolean {
    return pickName(m, 0, (d) => d.objects.size > 0) !== undefined;
  }
  run(m: Model, r: Real): void {
    this.name = pickName(m, this.which, (d) => d.objects.size > 0)!;
    const { desc, handle } = m.names.get(this.name)!;
    const ptrs = [...desc.objects.keys()];
    for (let i = 0; i < this.count && ptrs.length > 0; i++) {
      const k = (this.pick + i * 7919) % ptrs.length;
      const p = ptrs[k]!;
      ptrs.splice(k, 1);
      handle.free(p);
      desc.objects.delete(p);
    }
    m.lastFreed = desc;
    checkAll(m, r, this.toString());
  }
  toString(): string {
    return `free(#${this.which}=${this.name}, pick ${this.pick}, ${this.count})`;
  }
}

class KmallocCmd implements Cmd {
  constructor(readonly size: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    m.lastFreed = undefined;
    const p = r.a.kmalloc(this.size);
    if (p === 0) {
      totals.exhausted++;
    } else {
      const ks = r.a.ksize(p);
      if (this.size <= 8192) assert.equal(ks, KMALLOC_SIZES.find((s) => s >= this.size), `ksize(kmalloc(${this.size}))`);
      else {
        assert.equal(p % PAGE_SIZE, 0);
        let pages = 1;
        while (pages * PAGE_SIZE < this.size) pages *= 2;
        assert.equal(ks, pages * PAGE_SIZE, `ksize(kmalloc(${this.size}))`);
      }
      const tag = m.nextTag++;
      fillPattern(r.a, p, this.size, tag);
      m.kmallocs.set(p, { tag, len: this.size, span: ks, size: this.size });
    }
    checkAll(m, r, this.toString());
  }
  toString(): string {
    return `kmalloc(${this.size})`;
  }
}

class KfreeCmd implements Cmd {
  constructor(readonly pick: number, readonly count: number) {}
  check(m: Readonly<Model>): boolean {
    return m.kmallocs.size > 0;
  }
  run(m: Model, r: Real): void {
    m.lastFreed = undefined;
    const ptrs = [...m.kmallocs.keys()];
    for (let i = 0; i < this.count && ptrs.length > 0; i++) {
      const k = (this.pick + i * 104729) % ptrs.length;
      const p = ptrs[k]!;
      ptrs.splice(k, 1);
      r.a.kfree(p);
      m.kmallocs.delete(p);
    }
    checkAll(m, r, this.toString());
  }
  toString(): string {
    return `kfree(pick ${this.pick}, ${this.count})`;
  }
}

class ShrinkCmd implements Cmd {
  name: string | undefined;
  constructor(readonly pick: number | undefined) {}
  check(m: Readonly<Model>): boolean {
    return this.pick === undefined || m.names.size > 0;
  }
  run(m: Model, r: Real): void {
    this.name = this.pick === undefined ? undefined : pickName(m, this.pick);
    const handles = this.name === undefined ? r.kmallocHandles : [m.names.get(this.name)!.handle];
    for (const h of handles) {
      h.shrink();
      const s = h.stats();
      assert.equal(s.cpu_slabs, 0, `${this}: cpu slab flushed`);
      // No empty slab survives a shrink: each remaining slab holds at least one object in
      // use (a user's, or a sheaf's storage when h is a kmalloc cache: not in s.objects).
      const inUse = s.objects_partial + (s.slabs - s.partial) * s.objs_per_slab;
      assert.ok(s.slabs <= inUse, `${this}: ${h.name} has ${s.slabs} slabs for ${inUse} objects in use`);
      assert.ok(inUse >= s.objects, `${this}: ${h.name}: ${inUse} objects in slabs, ${s.objects} allocated`);
    }
    checkAll(m, r, this.toString());
  }
  toString(): string {
    return `shrink(${this.name ?? 'kmalloc-*'})`;
  }
}

class DestroyCmd implements Cmd {
  name = '?';
  constructor(readonly pick: number, readonly freeFirst: boolean) {}
  check(m: Readonly<Model>): boolean {
    return m.names.size > 0;
  }
  run(m: Model, r: Real): void {
    this.name = pickName(m, this.pick)!;
    m.lastFreed = undefined;
    const { desc, handle } = m.names.get(this.name)!;
    if (this.freeFirst && desc.names.size === 1) {
      for (const p of desc.objects.keys()) handle.free(p);
      desc.objects.clear();
    }
    const nWarn = r.warnings.length;
    const rep = handle.destroySync();
    m.names.delete(this.name);
    if (desc.names.size > 1) {
      assert.equal(rep.status, 'alias');
      desc.names.delete(this.name);
      assert.equal(r.warnings.length, nWarn);
    } else if (desc.objects.size === 0) {
      assert.equal(rep.status, 'released');
      assert.equal(r.warnings.length, nWarn);
      m.descs.splice(m.descs.indexOf(desc), 1);
      totals.released++;
    } else {
      assert.equal(rep.status, 'leaked');
      assert.equal(rep.leaked, desc.objects.size);
      assert.deepEqual(rep.objects.map((o) => o.ptr), [...desc.objects.keys()].sort((x, y) => x - y));
      // The kernel prints s->name, the first creator's name (an alias name is not stored);
      // the report's name is the handle's.
      assert.ok(rep.warning!.startsWith(`kmem_cache_destroy ${desc.canonical}: Slab cache still has objects when called from `), rep.warning);
      assert.equal(rep.name, this.name);
      assert.equal(r.warnings.length, nWarn + 1);
      assert.equal(r.warnings[nWarn]!.cache, desc.canonical);
      assert.equal(r.warnings[nWarn]!.kind, 'kmem-cache-destroy');
      desc.state = 'leaked';
      desc.names.clear();
      totals.leaked++;
    }
    assert.equal(r.a.findCache(this.name), undefined);
    checkAll(m, r, this.toString());
  }
  toString(): string {
    return `destroySync(#${this.pick}=${this.name}${this.freeFirst ? ', free first' : ''})`;
  }
}

const nameArb = fc.nat({ max: 15 });
const commandArbs = [
  fc.constantFrom(...SPECS).map((s) => new CreateCmd(s)),
  fc.constantFrom(...SPECS).map((s) => new CreateCmd(s)),
  fc.tuple(nameArb, fc.integer({ min: 1, max: 300 })).map(([n, k]) => new AllocCmd(n, k)),
  fc.tuple(nameArb, fc.integer({ min: 1, max: 300 })).map(([n, k]) => new AllocCmd(n, k)),
  fc.tuple(nameArb, fc.integer({ min: 1, max: 300 })).map(([n, k]) => new AllocCmd(n, k)),
  fc.tuple(nameArb, fc.nat(), fc.integer({ min: 1, max: 200 })).map(([n, p, k]) => new FreeCmd(n, p, k)),
  fc.tuple(nameArb, fc.nat(), fc.integer({ min: 1, max: 200 })).map(([n, p, k]) => new FreeCmd(n, p, k)),
  fc.oneof(fc.integer({ min: 1, max: 256 }), fc.integer({ min: 257, max: 8192 }), fc.integer({ min: 8193, max: 70000 })).map((s) => new KmallocCmd(s)),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 20 })).map(([p, k]) => new KfreeCmd(p, k)),
  fc.option(nameArb, { nil: undefined }).map((n) => new ShrinkCmd(n)),
  fc.tuple(nameArb, fc.boolean(), fc.boolean()).map(([n, f1, f2]) => new DestroyCmd(n, f1 || f2)), // free first 3 times in 4
];

function setup(): { model: Model; real: Real } {
  const a = Arena.create({ bytes: MiB, maxThreads: 4, maxCaches: 64 });
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  assert.equal(a.pageStats().used, 0, 'baseline: a fresh arena uses no pages');
  const kmallocHandles = KMALLOC_SIZES.map((s) => a.findCache(kmallocName(s))!);
  return { model: { names: new Map(), descs: [], kmallocs: new Map(), nextTag: 1, lastFreed: undefined }, real: { a, warnings, kmallocHandles } };
}

/** Free and destroy everything: used pages go back to the baseline plus leaked caches' slabs. */
function teardown(m: Model, r: Real): void {
  for (const [name, { desc, handle }] of [...m.names]) {
    if (desc.names.size === 1) {
      for (const p of desc.objects.keys()) handle.free(p);
      desc.objects.clear();
    }
    const rep = handle.destroySync();
    assert.equal(rep.status, desc.names.size > 1 ? 'alias' : 'released', `teardown ${name}`);
    desc.names.delete(name);
    m.names.delete(name);
    if (rep.status === 'released') m.descs.splice(m.descs.indexOf(desc), 1);
  }
  for (const p of m.kmallocs.keys()) r.a.kfree(p);
  m.kmallocs.clear();
  for (const h of r.kmallocHandles) h.shrink();
  checkAll(m, r, 'teardown');
  let leakedPages = 0;
  for (const d of m.descs) {
    assert.equal(d.state, 'leaked');
    const s = d.handle.stats();
    leakedPages += s.slabs << s.order;
  }
  assert.equal(r.a.pageStats().used, leakedPages, 'every page is back except leaked caches\' slabs');
  for (const h of r.kmallocHandles) assert.equal(h.stats().slabs, 0);
}

/** fc.assert, but the failure carries the property's own assertion message, not only the counterexample. */
function assertProperty(p: fc.IProperty<[Iterable<Cmd>]>, params: fc.Parameters<[Iterable<Cmd>]>): void {
  const out = fc.check(p, params) as fc.RunDetails<[Iterable<Cmd>]>;
  if (out.failed) {
    const cause = out.errorInstance instanceof Error ? `${out.errorInstance.message}` : String(out.errorInstance);
    throw new Error(`${fc.defaultReportMessage(out)}\n\nFailure: ${cause}`);
  }
}

test('model: random create/alloc/free/kmalloc/kfree/shrink/destroySync sequences agree with the model after every step', (t) => {
  assertProperty(
    fc.property(fc.commands(commandArbs, { maxCommands: 80, size: 'max' }), (cmds) => {
      const s = setup();
      try {
        fc.modelRun(() => s, cmds);
        teardown(s.model, s.real);
      } finally {
        s.real.a.detach();
      }
    }),
    { numRuns: 150 },
  );
  t.diagnostic(`explored: ${JSON.stringify(totals)}`);
  // The runs did explore what they are meant to.
  assert.ok(totals.exhausted > 0, 'some runs exhausted the arena');
  assert.ok(totals.merged > 0, 'some caches merged');
  assert.ok(totals.leaked > 0 && totals.released > 0, 'both destroy outcomes happened');
});

test('exhaustion in a 1 MiB arena: alloc returns 0, state stays consistent, frees make allocation possible again', () => {
  const a = Arena.create({ bytes: MiB, maxThreads: 4, maxCaches: 32 });
  const total = a.pageStats().total;
  const A = a.createCache('ex-a', { size: 256, flags: SLAB_NO_MERGE }); // order 1 (16 * 256 = 4096... min_objects 16)
  const B = a.createCache('ex-b', { size: 3000, flags: SLAB_NO_MERGE }); // order 3
  const held: number[] = [];
  for (;;) {
    const p = A.alloc();
    if (p === 0) break;
    fillPattern(a, p, 256, held.length + 1);
    held.push(p);
    assert.ok(held.length < 10000);
  }
  const s = A.stats();
  assert.equal(s.objects, held.length);
  assert.equal(held.length, s.total_objects, 'every slab full');
  assert.ok(a.pageStats().free < 1 << s.order, 'no block of the slab order is left');
  // Every page is A's slabs, but for the one slab of sheaf storage (kmalloc-128: A's
  // sheaves of 28 objects are 128 bytes).
  const sheafPages = a.findCache('kmalloc-128')!.stats().slabs;
  assert.equal(sheafPages, 1);
  assert.equal(a.pageStats().used, (s.slabs << s.order) + sheafPages);
  // Still 0, and other caches and kmalloc get nothing that needs a block of their order.
  assert.equal(A.alloc(), 0);
  assert.equal(B.alloc(), 0);
  assert.equal(a.kmalloc(64 * 1024), 0);
  assert.equal(B.stats().slabs, 0);
  assert.equal(A.stats().objects, held.length);
  assert.equal(a.pageStats().free + a.pageStats().used, total);
  assert.equal(a.pages.countFreeLists(), a.pageStats().free);
  held.forEach((p, i) => assert.ok(checkPattern(a, p, 256, i + 1)));
  // One free: the same cache can allocate again (the freed object).
  const victim = held.splice(100, 1)[0]!;
  A.free(victim);
  assert.equal(A.alloc(), victim);
  held.push(victim);
  fillPattern(a, victim, 256, 424242);
  assert.equal(A.alloc(), 0);
  // Free everything and shrink: the pages come back and another cache can fill them.
  for (const p of held) A.free(p);
  A.shrink();
  assert.equal(a.pageStats().used, 0);
  let nb = 0;
  while (B.alloc() !== 0) nb++;
  assert.ok(nb > 0);
  assert.equal(nb, B.stats().total_objects);
  // B's slabs, and one page of kmalloc-64 for B's sheaf (12 objects of 3000 B: 64 bytes).
  assert.equal(a.pageStats().used, B.stats().slabs * 8 + a.findCache('kmalloc-64')!.stats().slabs);
});
