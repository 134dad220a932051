// mimalloc-bench's security cases (double free, delayed double free, interleaved double
// free, 32-byte overflow and underflow, use-after-free write): each is reported in debug
// mode, and none corrupts the allocator: afterwards many objects are allocated, filled
// and freed, none overlaps another or loses its contents, the counts match stats(), and
// validate() finds nothing new.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, type Cache, type SlabWarning } from '../src/index.js';
import { quarantineFlush, quarantineStats } from '../src/debug/index.js';

function setup(opts: { debug?: string; quarantineBytes?: number } = { debug: 'FZPU' }): { a: Arena; w: SlabWarning[] } {
  const a = Arena.create({ bytes: 8 << 20, ...opts });
  const w: SlabWarning[] = [];
  a.onWarning((x) => w.push(x));
  return { a, w };
}

/**
 * Allocate n objects, give each a distinct fill, check that no two overlap and every
 * fill survives, free them all; the cache's in-use count must be `live` before and
 * after. Returns the validate() result taken at the end.
 */
function stress(a: Arena, c: Cache, live: number, n = 600): ReturnType<Cache['validate']> {
  assert.equal(c.stats().objects, live, 'stats().objects before');
  const ptrs: number[] = [];
  for (let k = 0; k < n; k++) {
    const p = c.alloc();
    assert.notEqual(p, 0);
    a.u8.fill(k & 0xff, p, p + c.objectSize);
    ptrs.push(p);
  }
  const sorted = [...ptrs].sort((x, y) => x - y);
  for (let k = 1; k < sorted.length; k++) assert.ok(sorted[k]! >= sorted[k - 1]! + c.objectSize, 'objects overlap');
  assert.equal(c.stats().objects, live + n);
  ptrs.forEach((p, k) => {
    for (let b = 0; b < c.objectSize; b++) assert.equal(a.u8[p + b], k & 0xff, `object ${k} byte ${b}`);
  });
  for (const p of ptrs) c.free(p);
  // Quarantined objects are still allocated as far as the slab layer knows (as with KASAN).
  quarantineFlush(a);
  assert.equal(c.stats().objects, live, 'stats().objects after');
  return c.validate();
}

const kinds = (w: SlabWarning[]): string[] => w.map((x) => x.kind);

test('double free: "Object already free", the freelist is unchanged', () => {
  const { a, w } = setup();
  const c = a.createCache('sec-double', { size: 64 });
  const p = c.alloc();
  const q = c.alloc();
  c.free(p);
  const before = c.stats();
  c.free(p);
  assert.deepEqual(kinds(w), ['double-free']);
  assert.match(w[0]!.report, /BUG sec-double \(Not tainted\): Object already free\n/);
  assert.match(w[0]!.report, /\nFreed in .*security\.test\.js.* age=\d+ cpu=0 pid=/);
  assert.match(w[0]!.report, /FIX sec-double: Object at 0x[0-9a-f]+ not freed\n$/);
  assert.deepEqual(c.stats(), before);
  assert.equal(c.alloc(), p, 'the freelist still starts with p, once');
  assert.notEqual(c.alloc(), p);
  c.free(p);
  assert.equal(stress(a, c, 2).errors, 0);
  void q;
});

test('double free without debugging: the object state byte refuses it (one report, nothing changes)', () => {
  const { a, w } = setup({});
  const c = a.createCache('sec-double-nodebug', { size: 64 });
  const p = c.alloc();
  c.free(p);
  c.free(p);
  assert.deepEqual(kinds(w), ['double-free']);
  assert.equal(w[0]!.message.split('\n')[0], `sec-double-nodebug: double free of object 0x${p.toString(16)}`);
  assert.match(w[0]!.report, /Object already free/);
  assert.equal(stress(a, c, 0).errors, 0);
});

test('without debugging, every misuse is refused, not only a free of the freelist head: delayed, interleaved, kfreeRcu', async () => {
  const { a, w } = setup({});
  const c = a.createCache('sec-misuse', { size: 64 });
  const [p, q, r, s, t] = [c.alloc(), c.alloc(), c.alloc(), c.alloc(), c.alloc()];
  const hex = (x: number): string => x.toString(16);
  // Delayed: other allocations and frees in between (p is deep in a sheaf by then).
  c.free(p);
  const other: number[] = [];
  for (let k = 0; k < 200; k++) other.push(a.kmalloc(64));
  for (const o of other) a.kfree(o);
  c.free(q);
  c.free(p);
  // Interleaved: free q again after r.
  c.free(r);
  c.free(q);
  assert.deepEqual(kinds(w), ['double-free', 'double-free']);
  assert.equal(w[0]!.message, `sec-misuse: double free of object 0x${hex(p)}`);
  assert.equal(w[1]!.message, `sec-misuse: double free of object 0x${hex(q)}`);
  // kfreeRcu: twice, then a free of the pending object, and a kfreeRcu of a free one.
  a.kfreeRcu(s);
  a.kfreeRcu(s);
  c.free(s);
  a.kfreeRcu(p);
  assert.deepEqual(kinds(w), ['double-free', 'double-free', 'double-free', 'double-free', 'double-free']);
  assert.equal(w[2]!.message, `sec-misuse: double free of object 0x${hex(s)} (double kfree_rcu)`);
  assert.equal(w[3]!.message, `sec-misuse: double free of object 0x${hex(s)} (free of an object pending in kfree_rcu)`);
  assert.equal(w[4]!.message, `sec-misuse: double free of object 0x${hex(p)} (kfree_rcu of a free object)`);
  // Nothing moved: t is the only object in use (s is pending, and leaves after a grace period).
  a.kvfreeRcuBarrier();
  assert.equal(c.stats().objects, 1);
  assert.equal(c.validate().errors, 0);
  assert.equal(stress(a, c, 1).errors, 0);
  c.free(t);
  assert.equal(w.length, 5);
});

test('delayed double free (other allocations in between): found on the freelist', () => {
  const { a, w } = setup();
  const c = a.createCache('sec-delayed', { size: 64 });
  const p = c.alloc();
  const q = c.alloc();
  const r = c.alloc();
  c.free(p);
  const other: number[] = [];
  for (let k = 0; k < 200; k++) other.push(a.kmalloc(48));
  for (const o of other) a.kfree(o);
  c.free(q);
  c.free(p);
  assert.deepEqual(kinds(w), ['double-free']);
  assert.match(w[0]!.report, /Object already free/);
  assert.equal(c.stats().objects, 1);
  assert.equal(stress(a, c, 1).errors, 0);
  c.free(r);
  assert.equal(c.stats().objects, 0);
});

test('interleaved double free (free p, free q, free p): found on the freelist', () => {
  const { a, w } = setup();
  const c = a.createCache('sec-interleaved', { size: 64 });
  const p = c.alloc();
  const q = c.alloc();
  const keep = c.alloc();
  c.free(p);
  c.free(q);
  c.free(p);
  assert.deepEqual(kinds(w), ['double-free']);
  const got = new Set([c.alloc(), c.alloc()]);
  assert.deepEqual(got, new Set([p, q]), 'p and q come back once each');
  for (const x of got) c.free(x);
  assert.equal(stress(a, c, 1).errors, 0);
  c.free(keep);
});

test('32-byte overflow: Redzone overwritten and Freepointer corrupt at free; the free is refused, bytes restored', () => {
  const { a, w } = setup();
  const c = a.createCache('sec-overflow', { size: 64 });
  const p = c.alloc();
  const n = c.alloc();
  a.u8.fill(0x77, n, n + 64);
  a.u8.fill(0x41, p + 64, p + 96);
  c.free(p);
  const text = w.map((x) => x.report).join('');
  assert.match(text, /\[Right Redzone overwritten\] 0x[0-9a-f]+-0x[0-9a-f]+ @offset=\d+\. First byte 0x41 instead of 0xcc/);
  assert.match(text, /BUG sec-overflow \(Tainted: B\): Freepointer corrupt/);
  assert.match(text, /FIX sec-overflow: Object at 0x[0-9a-f]+ not freed/);
  assert.equal(c.stats().objects, 2, 'refused: p is still allocated');
  for (let b = 0; b < 64; b++) assert.equal(a.u8[n + b], 0x77, 'the neighbour is intact');
  // The red zone was restored: freeing again works.
  const before = w.length;
  c.free(p);
  assert.equal(w.length, before);
  assert.equal(c.stats().objects, 1);
  assert.equal(stress(a, c, 1).errors, 0);
  c.free(n);
});

test('32-byte underflow: Left Redzone of the object and padding of its neighbour overwritten; both reported', () => {
  const { a, w } = setup();
  const c = a.createCache('sec-underflow', { size: 64 });
  const prev = c.alloc();
  const p = c.alloc();
  assert.equal(p - prev, c.size);
  a.u8.fill(0x41, p - 32, p);
  c.free(p);
  assert.match(w.map((x) => x.report).join(''), /\[Left Redzone overwritten\].*First byte 0x41 instead of 0xcc/);
  assert.equal(c.stats().objects, 2);
  c.free(prev);
  assert.match(w.map((x) => x.report).join(''), /\[Object padding overwritten\].*First byte 0x41 instead of 0x5a/);
  assert.equal(c.stats().objects, 2, 'both frees refused');
  c.free(p);
  c.free(prev);
  assert.equal(c.stats().objects, 0);
  assert.equal(stress(a, c, 0).errors, 0);
});

test('use-after-free write: Poison overwritten when the object is next allocated; the slab is taken out of use', () => {
  const { a, w } = setup();
  const c = a.createCache('sec-uaf', { size: 64 });
  const p = c.alloc();
  const q = c.alloc();
  c.free(p);
  a.u8.fill(0x41, p, p + 8);
  const r = c.alloc();
  assert.notEqual(r, p);
  const text = w.map((x) => x.report).join('');
  assert.match(text, /\[Poison overwritten\] 0x[0-9a-f]+-0x[0-9a-f]+ @offset=\d+\. First byte 0x41 instead of 0x6b/);
  assert.match(text, /FIX sec-uaf: Marking all objects used/);
  // Like the kernel, the slab whose freelist failed the check is disabled: q stays allocated.
  c.free(q);
  assert.match(w.at(-1)!.report, /Slab disabled since SLUB metadata consistency check failed/);
  assert.equal(c.stats().objects, 2);
  const v = stress(a, c, 2);
  assert.ok(v.reports.every((t) => /Slab disabled/.test(t)), v.reports.join('\n'));
  c.free(r);
  // Other caches are untouched.
  const d = a.createCache('sec-uaf-other', { size: 64 });
  assert.equal(stress(a, d, 0).errors, 0);
});

test('use-after-free write with the quarantine: found when the object leaves it, nothing is disabled', () => {
  const { a, w } = setup({ debug: 'FZPU', quarantineBytes: 64 * 1024 });
  const c = a.createCache('sec-uaf-q', { size: 64 });
  const p = c.alloc();
  c.free(p);
  assert.equal(quarantineStats(a).objects, 1);
  a.u8.fill(0x41, p, p + 8);
  assert.notEqual(c.alloc(), p, 'a quarantined object is not reused');
  quarantineFlush(a);
  const uaf = w.filter((x) => x.kind === 'use-after-free');
  assert.ok(uaf.length >= 1);
  assert.match(uaf[0]!.report, /\[Poison overwritten\].*First byte 0x41 instead of 0x6b/);
  assert.match(uaf.map((x) => x.report).join(''), /Use after free: object 0x[0-9a-f]+ of sec-uaf-q was written while in the quarantine/);
  assert.equal(quarantineStats(a).useAfterFree, 1);
  assert.equal(c.stats().objects, 1);
  const v = stress(a, c, 1);
  assert.equal(v.errors, 0);
  assert.equal(c.validate().errors, 0);
});

test('double free with the quarantine and no debug flags: the quarantine marker catches it', () => {
  const { a, w } = setup({ quarantineBytes: 64 * 1024 });
  const c = a.createCache('sec-double-q', { size: 64 });
  const p = c.alloc();
  c.free(p);
  c.free(p);
  assert.deepEqual(kinds(w), ['double-free']);
  assert.match(w[0]!.report, /Object already free/);
  assert.equal(quarantineStats(a).doubleFree, 1);
  quarantineFlush(a);
  assert.equal(c.stats().objects, 0);
  const v = stress(a, c, 0);
  assert.equal(v.errors, 0);
  assert.equal(c.stats().objects, 0);
});

for (const debug of ['Z', 'P', 'U']) {
  test(`interleaved double free with only '${debug}' (no F): still refused, the freelist stays sane`, () => {
    const { a, w } = setup({ debug });
    const c = a.createCache(`sec-il-${debug}`, { size: 64 });
    const p = c.alloc();
    const q = c.alloc();
    const keep = c.alloc();
    c.free(p);
    c.free(q);
    c.free(p);
    assert.deepEqual(kinds(w), ['double-free']);
    assert.equal(stress(a, c, 1).errors, 0);
    c.free(keep);
  });
}
