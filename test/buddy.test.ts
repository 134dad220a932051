/**
 * The page allocator (heap/buddy.ts): aligned blocks of orders 0..10, splitting,
 * coalescing on free, exhaustion returning 0 without corruption.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Arena } from '../src/index.js';

const MiB = 1 << 20;
const MAX_ORDER = 10;

/** Order-k blocks obtainable from a fresh allocator, without keeping them. */
function countBlocks(a: Arena, order: number): number {
  const got: number[] = [];
  for (;;) {
    const p = a.pages.alloc(order);
    if (p === 0) break;
    got.push(p);
  }
  for (const p of got) a.pages.free(p, order);
  return got.length;
}

test('buddy: every order 0..10 gives aligned, disjoint blocks inside the page range; exhaustion returns 0', () => {
  const a = Arena.create({ bytes: 16 * MiB, maxThreads: 4, maxCaches: 16 });
  const first = a.layout.firstPage;
  const end = a.sab.byteLength / 4096;
  const total = a.pageStats().total;
  assert.equal(total, end - first);
  for (let order = 0; order <= MAX_ORDER; order++) {
    const blocks: number[] = [];
    for (;;) {
      const p = a.pages.alloc(order);
      if (p === 0) break;
      assert.equal(p % (1 << order), 0, `order ${order} block at pfn ${p} is aligned`);
      assert.ok(p >= first && p + (1 << order) <= end);
      blocks.push(p);
    }
    blocks.sort((x, y) => x - y);
    for (let i = 1; i < blocks.length; i++) assert.ok(blocks[i - 1]! + (1 << order) <= blocks[i]!);
    const ps = a.pageStats();
    assert.equal(ps.used, blocks.length << order);
    assert.ok(ps.free < total, `order ${order}: something was allocated`);
    assert.equal(a.pages.countFreeLists(), ps.free);
    // Exhausted for this order: what is left is in smaller blocks only.
    assert.equal(a.pages.alloc(order), 0);
    for (let o = order; o <= MAX_ORDER; o++) assert.equal(a.pages.alloc(o), 0, `nothing of order ${o} left`);
    for (const p of blocks) a.pages.free(p, order);
    assert.equal(a.pageStats().free, total, `order ${order}: all pages back`);
    assert.equal(a.pages.countFreeLists(), total);
  }
  assert.throws(() => a.pages.alloc(MAX_ORDER + 1), RangeError);
  assert.throws(() => a.pages.alloc(-1), RangeError);
});

test('buddy: frees coalesce back to the largest blocks (random orders, random free order)', () => {
  const a = Arena.create({ bytes: 16 * MiB, maxThreads: 4, maxCaches: 16 });
  const total = a.pageStats().total;
  const big0 = countBlocks(a, MAX_ORDER);
  assert.ok(big0 >= 2, `${big0} order-10 blocks in a fresh 16 MiB arena`);
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 300 }),
      fc.array(fc.nat(), { minLength: 300, maxLength: 300 }),
      (orders, perm) => {
        const held: [number, number][] = [];
        for (const o of orders) {
          const p = a.pages.alloc(o);
          if (p === 0) continue;
          for (const [q, qo] of held) assert.ok(p + (1 << o) <= q || q + (1 << qo) <= p, 'disjoint');
          held.push([p, o]);
        }
        assert.equal(a.pageStats().used, held.reduce((s, [, o]) => s + (1 << o), 0));
        assert.equal(a.pages.countFreeLists(), a.pageStats().free);
        // Free in a scrambled order.
        for (let i = 0; held.length > 0; i++) {
          const [p, o] = held.splice(perm[i % perm.length]! % held.length, 1)[0]!;
          a.pages.free(p, o);
          assert.equal(a.pages.countFreeLists(), a.pageStats().free);
        }
        assert.equal(a.pageStats().free, total);
        // Fully coalesced: as many order-10 blocks as at the start.
        assert.equal(countBlocks(a, MAX_ORDER), big0);
      },
    ),
    { numRuns: 100 },
  );
});

test('buddy: a small arena has no order-10 block; its pages are still all usable', () => {
  const a = Arena.create({ bytes: MiB, maxThreads: 2, maxCaches: 16 });
  assert.equal(a.pages.alloc(MAX_ORDER), 0);
  assert.equal(a.pageStats().used, 0);
  let pages = 0;
  const got: number[] = [];
  for (;;) {
    const p = a.pages.alloc(0);
    if (p === 0) break;
    got.push(p);
    pages++;
  }
  assert.equal(pages, a.pageStats().total);
  assert.equal(new Set(got).size, pages);
  for (const p of got) a.pages.free(p, 0);
  assert.equal(a.pageStats().free, a.pageStats().total);
});
