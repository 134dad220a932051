/**
 * kmalloc: size classes (kmalloc-8 ... kmalloc-8k with 96 and 192), large allocations as
 * whole pages, ksize, kfree finding the cache from page metadata.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, KMALLOC_SIZES, kmallocName, PAGE_SIZE, SLAB_NO_MERGE } from '../src/index.js';
import { activeByName, checkPattern, fillPattern, withWarnings } from './helpers/slab-helpers.js';

const MiB = 1 << 20;

test('kmalloc size classes: 1->8, 9->16, 65->96, 100->128, 129->192, 193->256, 8192->8k, and every boundary', () => {
  const a = Arena.create({ bytes: 8 * MiB });
  const cases: [number, string, number][] = [
    [1, 'kmalloc-8', 8], [8, 'kmalloc-8', 8], [9, 'kmalloc-16', 16], [16, 'kmalloc-16', 16], [17, 'kmalloc-32', 32],
    [33, 'kmalloc-64', 64], [64, 'kmalloc-64', 64], [65, 'kmalloc-96', 96], [96, 'kmalloc-96', 96],
    [97, 'kmalloc-128', 128], [100, 'kmalloc-128', 128], [129, 'kmalloc-192', 192], [192, 'kmalloc-192', 192],
    [193, 'kmalloc-256', 256], [257, 'kmalloc-512', 512], [513, 'kmalloc-1k', 1024], [1025, 'kmalloc-2k', 2048],
    [2049, 'kmalloc-4k', 4096], [4097, 'kmalloc-8k', 8192], [8192, 'kmalloc-8k', 8192],
  ];
  for (const [size, name, ksize] of cases) {
    const before = activeByName(a);
    const p = a.kmalloc(size);
    assert.notEqual(p, 0);
    const after = activeByName(a);
    for (const [n, v] of after) assert.equal(v - (before.get(n) ?? 0), n === name ? 1 : 0, `kmalloc(${size}): ${n}`);
    assert.equal(a.ksize(p), ksize, `ksize(kmalloc(${size}))`);
    assert.equal(a.findCache(name)!.stats().objects, 1);
    fillPattern(a, p, ksize, size);
    assert.ok(checkPattern(a, p, ksize, size));
    a.kfree(p);
    assert.equal(a.findCache(name)!.stats().objects, 0, `kfree(kmalloc(${size}))`);
  }
  assert.deepEqual([...KMALLOC_SIZES], [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192]);
  assert.deepEqual(KMALLOC_SIZES.map(kmallocName), [
    'kmalloc-8', 'kmalloc-16', 'kmalloc-32', 'kmalloc-64', 'kmalloc-96', 'kmalloc-128', 'kmalloc-192', 'kmalloc-256',
    'kmalloc-512', 'kmalloc-1k', 'kmalloc-2k', 'kmalloc-4k', 'kmalloc-8k',
  ]);
  assert.equal(a.kmalloc(0), 0, 'kmalloc(0): nothing to allocate');
});

test('kmalloc > 8 KiB: whole pages (2^get_order), page aligned, ksize = the pages, kfree returns them', () => {
  const a = Arena.create({ bytes: 16 * MiB });
  const base = a.pageStats().used;
  const slabsBefore = activeByName(a);
  const cases: [number, number][] = [[8193, 4], [12288, 4], [16384, 4], [16385, 8], [100_000, 32], [4 * MiB, 1024]];
  const held: number[] = [];
  let pages = 0;
  for (const [size, np] of cases) {
    const p = a.kmalloc(size);
    assert.notEqual(p, 0, `kmalloc(${size})`);
    assert.equal(p % PAGE_SIZE, 0);
    assert.equal(p % (np * PAGE_SIZE), 0, 'buddy blocks are aligned to their size');
    assert.equal(a.ksize(p), np * PAGE_SIZE);
    pages += np;
    assert.equal(a.pageStats().used - base, pages);
    fillPattern(a, p, a.ksize(p), size);
    held.push(p);
  }
  assert.deepEqual(activeByName(a), slabsBefore, 'large allocations use no slab cache');
  for (let i = 0; i < held.length; i++) assert.ok(checkPattern(a, held[i]!, a.ksize(held[i]!), cases[i]![0]));
  for (const p of held) a.kfree(p);
  assert.equal(a.pageStats().used, base);
  assert.throws(() => a.kmalloc(4 * MiB + 1), RangeError, 'larger than KMALLOC_MAX_SIZE');
});

test('kfree finds the cache from page metadata: any slab object, from any cache', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  const c = a.createCache('kf-user', { size: 200, flags: SLAB_NO_MERGE });
  const p = c.alloc();
  const q = c.alloc();
  assert.equal(c.stats().objects, 2);
  a.kfree(p);
  assert.equal(c.stats().objects, 1);
  assert.equal(a.ksize(q), 200);
  a.kfree(q);
  assert.equal(c.stats().objects, 0);
  // A kmalloc'd object freed with kfree from another slot of the same thread.
  const k = a.kmalloc(40);
  const b = Arena.attach(a.sab);
  try {
    b.kfree(k);
    assert.equal(a.findCache('kmalloc-64')!.stats().objects, 0);
  } finally {
    b.detach();
  }
});

test('kfree refuses a pointer into the middle of a large allocation (and into its tail pages); nothing is freed', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  const p = a.kmalloc(5 * PAGE_SIZE); // order 3: 8 pages
  assert.notEqual(p, 0);
  fillPattern(a, p, 8 * PAGE_SIZE, 77);
  const used = a.pageStats().used;
  for (const bad of [p + 8, p + PAGE_SIZE, p + 3 * PAGE_SIZE + 100, p + 8 * PAGE_SIZE - 8]) {
    const { warnings } = withWarnings(a, () => a.kfree(bad));
    assert.equal(warnings.length, 1, `kfree(p + ${bad - p}) reported`);
    assert.equal(warnings[0]!.kind, 'invalid-free');
    assert.match(warnings[0]!.message, /invalid pointer/);
    assert.equal(a.pageStats().used, used, 'no page freed');
    assert.equal(a.ksize(p), 8 * PAGE_SIZE);
  }
  assert.ok(checkPattern(a, p, 8 * PAGE_SIZE, 77));
  a.kfree(p);
  assert.equal(a.pageStats().used, used - 8);
  // A second kfree of the same (now free) pages is refused and frees nothing twice.
  const { warnings } = withWarnings(a, () => a.kfree(p));
  assert.equal(warnings.length, 1);
  assert.equal(a.pageStats().used, used - 8);
  assert.equal(a.pageStats().free + a.pageStats().used, a.pageStats().total);
  assert.equal(a.pages.countFreeLists(), a.pageStats().free);
});

test('kfree refuses an interior pointer of a kmalloc slab object; kmalloc rejects bad sizes', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const p = a.kmalloc(100);
  const k128 = a.findCache('kmalloc-128')!;
  const { warnings } = withWarnings(a, () => a.kfree(p + 8));
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.kind, 'invalid-free');
  assert.equal(k128.stats().objects, 1);
  a.kfree(0); // no-op
  assert.equal(k128.stats().objects, 1);
  a.kfree(p);
  assert.equal(k128.stats().objects, 0);
  for (const bad of [-1, 1.5, Number.NaN, Infinity]) assert.throws(() => a.kmalloc(bad), RangeError, `kmalloc(${bad})`);
  assert.throws(() => a.ksize(12345), RangeError);
});

test('kmalloc caches are never destroyed', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const k = a.findCache('kmalloc-64')!;
  assert.throws(() => k.destroySync(), /kmalloc caches are never destroyed/);
  assert.ok(a.findCache('kmalloc-64'));
  assert.notEqual(a.kmalloc(64), 0);
});

test('ksize follows slab_ksize(): the stride for plain caches, object_size with red zones or poison, inuse with TYPESAFE_BY_RCU', async () => {
  const { Arena: A, SLAB_RED_ZONE: RZ, SLAB_TYPESAFE_BY_RCU: TS, SLAB_NO_MERGE: NM } = await import('../src/index.js');
  const a = A.create({ bytes: 4 << 20 });
  const plain = a.createCache('ks-plain', { size: 20, flags: NM });
  assert.equal(plain.size, 24);
  assert.equal(a.ksize(plain.alloc()), 24);
  const rz = a.createCache('ks-rz', { size: 20, flags: RZ });
  assert.equal(a.ksize(rz.alloc()), 20);
  const ts = a.createCache('ks-ts', { size: 20, flags: TS });
  assert.equal(a.ksize(ts.alloc()), 24); // inuse: ALIGN(20, 8); the free pointer follows it
  assert.ok(ts.size > 24);
});
