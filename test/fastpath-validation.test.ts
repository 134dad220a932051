/**
 * The fast paths validate pointers with arithmetic only (Cache.isObjectStart for free and
 * the sheaf push; the descriptor's C_KF_* words for kfreeRcu): an integer offset within
 * the objects' span, then a mask (power-of-two strides) or the verified reciprocal (any
 * other stride). These tests walk every object boundary and a set of non-boundaries of
 * caches with each kind of stride, with and without sheaves, and check that boundaries
 * are accepted, everything else is refused with a report, and the counts never move for
 * a refused pointer.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, PAGE_SIZE, SLAB_NO_MERGE, type Cache } from '../src/index.js';

const MiB = 1 << 20;

/** Pointers that are not objects of cache c, near the objects of slab `first` (the slab's first object). */
function nonBoundaries(c: Cache, first: number): number[] {
  const bad: number[] = [];
  for (let k = 0; k < Math.min(c.objects, 6); k++) {
    const o = first + k * c.size;
    bad.push(o + 4, o + c.size - 4, o + 0.5, o - 0.25);
  }
  // Past the last object, in the slab's tail padding (where it has some). Not beyond the
  // slab: what lies there may be a real object of another cache, which kfreeRcu accepts.
  const end = first + c.objects * c.size;
  const slabEnd = first + (PAGE_SIZE << c.order);
  for (const p of [end, end + 8]) if (p + 4 <= slabEnd) bad.push(p);
  return bad.filter((p) => p > first);
}

function counts(c: Cache): { objects: number; pending: number } {
  const s = c.stats();
  return { objects: s.objects, pending: s.kfree_rcu_pending };
}

const CASES = [
  { name: 'pow2-64', size: 64 },
  { name: 'odd-96', size: 96 },
  { name: 'odd-200', size: 200 },
  { name: 'big-3000', size: 3000 }, // an order-3 slab: objects in its tail pages too
];

for (const sheafCapacity of [0, 16]) {
  for (const k of CASES) {
    test(`${k.name}, sheafCapacity ${sheafCapacity}: free and kfreeRcu accept every boundary and refuse the rest`, () => {
      const a = Arena.create({ bytes: 8 * MiB });
      const c = a.createCache(`fp-${k.name}`, { size: k.size, flags: SLAB_NO_MERGE, sheafCapacity });
      // Two full slabs and a cpu slab with one object allocated (the rest on the cpu freelist).
      const ptrs: number[] = [];
      for (let i = 0; i <= 2 * c.objects; i++) ptrs.push(c.alloc());
      const slabStart = (p: number): number => p - (p % (PAGE_SIZE << c.order)); // buddy blocks are aligned to their size
      const firsts = [...new Set(ptrs.map(slabStart))].sort((x, y) => x - y);
      assert.ok(firsts.length >= 3, "refills span at least three slabs");
      for (const f of firsts) assert.equal(f % PAGE_SIZE, 0, 'a slab starts on its page');
      // Warm the fast paths: a free (it allocates the sheaf of a sheaf cache) and a kfreeRcu
      // (it opens this thread's block or kfree_rcu sheaf) of real objects of the first slab.
      const w1 = ptrs.shift()!;
      const w2 = ptrs.shift()!;
      c.free(w1);
      a.kfreeRcu(w2);
      assert.equal(a.reports.length, 0);

      // Non-boundaries in the second slab (full, not the cpu slab) and in the cpu slab:
      // refused by free() and by kfreeRcu(), one report each, nothing changes.
      const bad = [...nonBoundaries(c, firsts[1]!), ...nonBoundaries(c, firsts[2]!)].filter((p) => !ptrs.includes(p));
      assert.ok(bad.length >= 20);
      for (const p of bad) {
        for (const op of ['free', 'kfreeRcu'] as const) {
          const before = counts(c);
          const r: number = a.reports.length;
          if (op === 'free') c.free(p);
          else a.kfreeRcu(p);
          assert.equal(a.reports.length, r + 1, `${op}(0x${p.toString(16)}) reported`);
          assert.deepEqual(counts(c), before, `${op}(0x${p.toString(16)}) changed nothing`);
        }
      }
      a.kvfreeRcuBarrier();

      // Every boundary: half freed, half passed to kfreeRcu; all accepted without a report.
      const r0 = a.reports.length;
      ptrs.forEach((p, i) => (i % 2 === 0 ? c.free(p) : a.kfreeRcu(p)));
      assert.equal(a.reports.length, r0, 'no report for a real object');
      const queued = Math.floor(ptrs.length / 2);
      assert.deepEqual(counts(c), { objects: queued, pending: queued });
      a.kvfreeRcuBarrier();
      assert.deepEqual(counts(c), { objects: 0, pending: 0 });
      // And they come back: the same number of distinct objects, all usable.
      const again = new Set<number>();
      for (let i = 0; i < ptrs.length; i++) again.add(c.alloc());
      assert.equal(again.size, ptrs.length);
      for (const p of again) c.free(p);
      assert.equal(c.stats().objects, 0);
      assert.equal(c.destroySync().status, 'released');
    });
  }
}
