/**
 * Kernel-rule tests: calculate_alignment, object stride, calculate_order/objs_per_slab,
 * min_partial, cache merging, /proc/slabinfo text, sysfs attribute names, SLUB_STATS
 * event counters. Expected numbers are derived by hand from kernel-notes §1, §6, §8
 * (the derivation is written next to each value), never from the implementation.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  Arena, calculateAlignment, SLAB_ACCOUNT, SLAB_CONSISTENCY_CHECKS, SLAB_HWCACHE_ALIGN, SLAB_NO_MERGE, SLAB_POISON,
  SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TYPESAFE_BY_RCU, type Cache,
} from '../src/index.js';
import { expectedRow, parseSlabinfo, SLABINFO_HEAD1, SLABINFO_HEAD2 } from './helpers/slab-helpers.js';

const MiB = 1 << 20;

test('calculate_alignment: the kernel examples (size 20 + HWCACHE_ALIGN -> 32, 100 -> 64, no flag -> 8)', () => {
  assert.equal(calculateAlignment(SLAB_HWCACHE_ALIGN, 0, 20), 32); // 64 -> 32 (20 <= 32), 20 > 16 stop
  assert.equal(calculateAlignment(SLAB_HWCACHE_ALIGN, 0, 100), 64); // 100 > 32: stays 64
  assert.equal(calculateAlignment(0, 0, 20), 8); // arch_slab_minalign = 8
  assert.equal(calculateAlignment(0, 0, 100), 8);
  assert.equal(calculateAlignment(SLAB_HWCACHE_ALIGN, 0, 8), 8); // 64 -> 32 -> 16 -> 8 (8 <= 8), 8 > 4 stop
  assert.equal(calculateAlignment(SLAB_HWCACHE_ALIGN, 0, 16), 16);
  assert.equal(calculateAlignment(SLAB_HWCACHE_ALIGN, 0, 33), 64);
  assert.equal(calculateAlignment(SLAB_HWCACHE_ALIGN, 128, 20), 128); // max(align, ralign)
  assert.equal(calculateAlignment(0, 16, 20), 16);
  assert.equal(calculateAlignment(0, 4, 20), 8); // raised to the minimum
});

test('caches get the kernel alignment and object stride (s->size = ALIGN(total, align))', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  const cases: [string, number, number, number, number, number][] = [
    // name, size, flags, align, expected align, expected stride
    ['al-20hw', 20, SLAB_HWCACHE_ALIGN, 0, 32, 32],
    ['al-100hw', 100, SLAB_HWCACHE_ALIGN, 0, 64, 128],
    ['al-20', 20, SLAB_NO_MERGE, 0, 8, 24], // ALIGN(20, 8); free pointer inside the object
    ['al-1', 1, SLAB_NO_MERGE, 0, 8, 8],
    ['al-100', 100, SLAB_NO_MERGE, 0, 8, 104],
    ['al-20a16', 20, SLAB_NO_MERGE, 16, 16, 32],
    ['al-3000', 3000, SLAB_NO_MERGE, 0, 8, 3000],
    ['al-40a64', 40, SLAB_NO_MERGE, 64, 64, 64],
  ];
  for (const [name, size, flags, align, ealign, estride] of cases) {
    const c = a.createCache(name, { size, flags, align });
    const s = c.stats();
    assert.equal(c.align, ealign, `${name} align`);
    assert.equal(s.align, ealign, `${name} stats.align`);
    assert.equal(c.size, estride, `${name} stride`);
    assert.equal(s.slab_size, estride, `${name} slab_size`);
    assert.equal(s.object_size, size, `${name} object_size`);
    // Objects really are at that stride and alignment.
    const p = c.alloc();
    const q = c.alloc();
    assert.equal(q - p, estride, `${name}: consecutive objects of a fresh slab are one stride apart`);
    assert.equal(p % ealign, 0, `${name}: object aligned`);
    c.free(p);
    c.free(q);
  }
  // A ctor (like TYPESAFE_BY_RCU) moves the free pointer outside the object: one more word.
  const withCtor = a.createCache('al-24ctor', { size: 24, ctor: () => {} });
  assert.equal(withCtor.size, 32);
  const rcu = a.createCache('al-24rcu', { size: 24, flags: SLAB_TYPESAFE_BY_RCU });
  assert.equal(rcu.size, 32);
  assert.equal(rcu.stats().destroy_by_rcu, 1);
});

/**
 * calculate_order (kernel-notes §8) with nr_cpus = maxThreads:
 *   min_objects = 4 * (fls(nr_cpus) + 1); max_objects = max(order_objects(3, size), 1);
 *   min_objects = min(min_objects, max_objects); min_order = get_order(min_objects * size);
 *   first order in [min_order, 3] with (4096 << order) % size <= (4096 << order) / f for f = 16, 8, 4, 2;
 *   else get_order(size).
 * objs_per_slab (7.0 design here): strides below 512 keep one object-state byte per object at
 * the slab end, so objs = floor((4096 << order) / (size + 1)); from 512 on floor((4096 << order) / size).
 * (For strides < 512, order_objects(3, size) >= 32768 / 512 = 64 > 32: min_objects stays 32, the
 * orders are those of the classic formula.)
 * min_partial = clamp(ilog2(size) / 2, 5, 10).
 */
test('slab order, objs_per_slab and min_partial follow calculate_order with nr_cpus = maxThreads (64)', () => {
  const a = Arena.create({ bytes: 8 * MiB }); // maxThreads 64: fls(64) = 7, min_objects = 32
  const cases: [number, number, number, number][] = [
    // stride, order, objs_per_slab, min_partial
    [24, 0, 163, 5], // 32*24 = 768 -> order 0; 4096 % 24 = 16 <= 256; 4096 / 25 = 163
    [104, 0, 39, 5], // 32*104 = 3328 -> order 0; 4096 % 104 = 40 <= 256; 4096 / 105 = 39
    [128, 0, 31, 5], // 32*128 = 4096 -> order 0; rem 0; 4096 / 129 = 31
    [400, 2, 40, 5], // 32*400 = 12800 -> order 2; 16384 % 400 = 384 <= 1024; 16384 / 401 = 40
    [520, 3, 63, 5], // 16640 -> order 3; 32768 % 520 = 8; >= 512: 32768 / 520 = 63
    [704, 3, 46, 5], // 32*704 = 22528 -> order 3; 32768 % 704 = 384 <= 2048
    [3000, 3, 10, 5], // max_objects 10 -> 30000 -> order 3; 2768 > 2048 (f=16), <= 4096 (f=8)
    [4096, 3, 8, 6], // max_objects 8 -> order 3, rem 0; ilog2(4096)/2 = 6
    [5000, 3, 6, 6], // max_objects 6 -> 30000 -> order 3; 2768 <= 4096 (f=8); ilog2 12 -> 6
    [9000, 3, 3, 6], // max_objects 3 -> 27000 -> order 3; 5768 > 4096, <= 8192 (f=4); ilog2 13 -> 6
    [20000, 3, 1, 7], // max_objects 1 -> 20000 -> order 3; 12768 <= 16384 (f=2); ilog2 14 -> 7
    [40000, 4, 1, 7], // min_order get_order(40000) = 4 > 3: fallback get_order(size) = 4; ilog2 15 -> 7
    [1 << 20, 8, 1, 10], // get_order(1 MiB) = 8; ilog2 20 -> 10 (MAX_PARTIAL)
    [1 << 22, 10, 1, 10], // get_order(4 MiB) = 10 = MAX_ORDER; ilog2 22 -> 11 clamped to 10
  ];
  for (const [size, order, objs, minPartial] of cases) {
    const c = a.createCache(`ord-${size}`, { size, flags: SLAB_NO_MERGE });
    const s = c.stats();
    assert.equal(s.slab_size, size, `stride ${size}`);
    assert.equal(s.order, order, `order for ${size}`);
    assert.equal(c.order, order);
    assert.equal(s.objs_per_slab, objs, `objs_per_slab for ${size}`);
    assert.equal(c.objects, objs);
    assert.equal(s.min_partial, minPartial, `min_partial for ${size}`);
  }
  // One object more than MAX_ORDER pages can hold: refused at create.
  assert.throws(() => a.createCache('ord-too-big', { size: (4 << 20) + 1 }), RangeError);
  assert.equal(a.findCache('ord-too-big'), undefined);
});

test('slab order uses nr_cpus = maxThreads: maxThreads 4 gives min_objects 16', () => {
  const a = Arena.create({ bytes: 4 * MiB, maxThreads: 4 }); // fls(4) = 3 -> min_objects = 16
  const cases: [number, number, number][] = [
    [400, 1, 20], // 16*400 = 6400 -> order 1; 8192 % 400 = 192 <= 512; 8192 / 401 = 20
    [704, 2, 23], // 11264 -> order 2; 16384 % 704 = 192 <= 1024
    [1024, 2, 16], // 16384 -> order 2, rem 0
    [3000, 3, 10], // max_objects 10 -> 30000 -> order 3
  ];
  for (const [size, order, objs] of cases) {
    const c = a.createCache(`ord4-${size}`, { size, flags: SLAB_NO_MERGE });
    assert.equal(c.stats().order, order, `order for ${size}`);
    assert.equal(c.stats().objs_per_slab, objs, `objs for ${size}`);
  }
  // The same size in a 64-thread arena gets a larger order (see the test above): 400 -> order 2.
});

test('a slab spans 2^order pages: objs_per_slab objects fit, the next one opens a new slab', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  // Without sheaves (a debug cache: consistency checks only, the stride stays 704): one
  // object per alloc under the list lock, so the slab count follows the allocations exactly.
  const d = a.createCache('span-704d', { size: 704, flags: SLAB_CONSISTENCY_CHECKS }); // order 3, 46 objects
  assert.equal(d.stats().sheaf_capacity, 0);
  assert.deepEqual([d.size, d.order, d.objects], [704, 3, 46]);
  let base = a.pageStats().used;
  let ptrs: number[] = [];
  for (let i = 0; i < 46; i++) ptrs.push(d.alloc());
  assert.equal(a.pageStats().used - base, 8);
  let first = ptrs[0]!;
  assert.equal(first % (8 * 4096), 0, 'an order-3 slab is 8-page aligned (buddy)');
  for (let i = 0; i < 46; i++) assert.equal(ptrs[i], first + i * 704);
  assert.equal(d.stats().slabs, 1);
  ptrs.push(d.alloc());
  assert.equal(d.stats().slabs, 2);
  assert.equal(a.pageStats().used - base, 16);
  for (const p of ptrs) d.free(p);
  assert.equal(d.shrink(), 2);
  assert.equal(a.pageStats().used, base);

  // With sheaves (704 < 1024: capacity 28): the first alloc refills a whole sheaf (28
  // objects of a new slab), the 29th refills another: the first slab's other 46 - 28 = 18
  // objects, then 10 of a new slab. So two refills (56 objects) hold all 46 objects of
  // slab 1, one stride apart from its 8-page aligned start, and 10 of slab 2.
  const c = a.createCache('span-704', { size: 704, flags: SLAB_NO_MERGE });
  const cap = c.stats().sheaf_capacity;
  assert.equal(cap, 28);
  base = a.pageStats().used;
  ptrs = [];
  for (let i = 0; i < 2 * cap; i++) ptrs.push(c.alloc());
  assert.equal(c.stats().sheaf_refill, 2 * cap);
  assert.equal(c.stats().slabs, 2);
  const sorted = [...ptrs].sort((x, y) => x - y);
  const slabOf = (p: number): number => p - (p % (8 * 4096));
  const slabs = [...new Set(sorted.map(slabOf))];
  assert.equal(slabs.length, 2);
  for (const s0 of slabs) assert.equal(s0 % (8 * 4096), 0, 'an order-3 slab is 8-page aligned (buddy)');
  const firstSlab = slabs.find((s0) => sorted.filter((p) => slabOf(p) === s0).length === 46);
  assert.ok(firstSlab !== undefined, 'one slab gave all of its 46 objects');
  const inFirst = sorted.filter((p) => slabOf(p) === firstSlab);
  for (let i = 0; i < 46; i++) assert.equal(inFirst[i], firstSlab + i * 704);
  const inSecond = sorted.filter((p) => slabOf(p) !== firstSlab);
  assert.equal(inSecond.length, 2 * cap - 46, 'the next objects came from a new slab');
  for (let i = 0; i < inSecond.length; i++) assert.equal(inSecond[i], inSecond[0]! + i * 704);
  assert.equal(inSecond[0]! % (8 * 4096), 0, 'from its start');
  // The two slabs (16 pages) plus the sheaf's storage (16 + 4 * 28 = 128 bytes: kmalloc-128).
  const k128 = a.findCache('kmalloc-128')!;
  assert.equal(a.pageStats().used - base, 16 + k128.stats().slabs * (1 << k128.order));
  for (const p of ptrs) c.free(p);
  assert.equal(c.stats().slabs, 2, 'freed objects sit in sheaves: both slabs stay in use');
  assert.equal(c.shrink(), 2);
  assert.equal(a.pageStats().used, base, 'shrink also gave back the sheaf storage\'s kmalloc slab');
});

test('sheaves: objects come out in address order within a refill, also one that spans a partial slab and a new slab', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  const c = a.createCache('order-704', { size: 704, flags: SLAB_NO_MERGE }); // 46 per slab, sheaf capacity 28
  const cap = c.stats().sheaf_capacity;
  const first: number[] = [];
  for (let i = 0; i < cap; i++) first.push(c.alloc()); // refill 1: 28 objects of slab 1
  for (let i = 1; i < cap; i++) assert.equal(first[i], first[i - 1]! + 704, `refill 1, object ${i}`);
  // Refill 2: slab 1's remaining 18 objects (address order), then 10 of a new slab.
  const second: number[] = [];
  for (let i = 0; i < cap; i++) second.push(c.alloc());
  const rest = 46 - cap;
  for (let i = 0; i < rest; i++) assert.equal(second[i], first[0]! + (cap + i) * 704, `refill 2, object ${i}: slab 1's next`);
  for (let i = rest + 1; i < cap; i++) assert.equal(second[i], second[i - 1]! + 704, `refill 2, object ${i}: the new slab in order`);
});

// ---------------------------------------------------------------- merging

test('merging: compatible caches share one descriptor (refcount, aliases, findCache finds the alias)', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  const m24 = a.createCache('mrg-24', { size: 24 });
  const m20 = a.createCache('mrg-20', { size: 20 }); // ALIGN(20, 8) = 24 <= 24, waste 0
  const m17 = a.createCache('mrg-17', { size: 17 }); // 24, waste 0
  assert.equal(m20.idx, m24.idx);
  assert.equal(m17.idx, m24.idx);
  assert.equal(m20.name, 'mrg-20');
  assert.equal(m20.cacheName, 'mrg-24', 'the canonical name is the first creator\'s');
  const s = m24.stats();
  assert.equal(s.aliases, 2); // refcount 3 - 1
  assert.equal(s.object_size, 24); // max(object_size, size)
  const f = a.findCache('mrg-17');
  assert.ok(f);
  assert.equal(f.idx, m24.idx);
  assert.equal(f.name, 'mrg-17');
  // Objects through either name land in the same slabs and counts.
  const p = m20.alloc();
  const q = m24.alloc();
  assert.equal(Math.abs(q - p), 24);
  assert.equal(m17.stats().objects, 2);
  // slabinfo shows only the canonical name.
  const rows = parseSlabinfo(a.slabinfo());
  assert.equal(rows.get('mrg-24')?.active, 2);
  assert.ok(!rows.has('mrg-20') && !rows.has('mrg-17'));
  // An object of the merged cache can be freed through any alias handle.
  m17.free(p);
  m20.free(q);
  assert.equal(m24.stats().objects, 0);
  // Destroying an alias only drops a reference (and the name).
  assert.deepEqual(m20.destroySync(), { name: 'mrg-20', status: 'alias', deferred: false, leaked: 0, objects: [] });
  assert.equal(m24.stats().aliases, 1);
  assert.equal(a.findCache('mrg-20'), undefined);
  assert.ok(a.findCache('mrg-17'));
  assert.notEqual(m24.alloc(), 0);
});

test('merging: what prevents it (NO_MERGE, ctor, debug flags, TYPESAFE_BY_RCU, MERGE_SAME, waste >= 8, alignment)', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  const base = a.createCache('nm-base', { size: 64 });
  const cases: [string, Parameters<Arena['createCache']>[1]][] = [
    ['nm-nomerge', { size: 64, flags: SLAB_NO_MERGE }],
    ['nm-ctor', { size: 64, ctor: () => {} }],
    ['nm-redzone', { size: 64, flags: SLAB_RED_ZONE }],
    ['nm-poison', { size: 64, flags: SLAB_POISON }],
    ['nm-user', { size: 64, flags: SLAB_STORE_USER }],
    ['nm-checks', { size: 64, flags: SLAB_CONSISTENCY_CHECKS }],
    ['nm-rcu', { size: 64, flags: SLAB_TYPESAFE_BY_RCU }],
    ['nm-account', { size: 64, flags: SLAB_ACCOUNT }], // SLAB_MERGE_SAME differs
    ['nm-56', { size: 56 }], // 64 - 56 = 8 >= sizeof(void *)
  ];
  const separate = new Set<number>([base.idx]);
  for (const [name, opts] of cases) {
    const c = a.createCache(name, opts);
    assert.ok(!separate.has(c.idx), `${name} must not merge`);
    separate.add(c.idx);
    assert.equal(c.stats().aliases, 0, `${name} aliases`);
  }
  assert.equal(base.stats().aliases, 0);
  // HWCACHE_ALIGN does not block merging: size 40 aligned to 64 -> size' 64 == 64, 64 % 64 == 0.
  const hw = a.createCache('nm-hw40', { size: 40, flags: SLAB_HWCACHE_ALIGN });
  assert.equal(hw.idx, base.idx);
  // Two SLAB_ACCOUNT caches merge with each other.
  const acc2 = a.createCache('nm-account2', { size: 60, flags: SLAB_ACCOUNT });
  assert.equal(acc2.idx, a.findCache('nm-account')!.idx);
  // An existing unmergeable cache is never a target either: nm-nomerge (64) is skipped,
  // and a new 64-byte request merges into nm-base.
  const again = a.createCache('nm-again', { size: 64 });
  assert.equal(again.idx, base.idx);
  // A larger request never merges into a smaller cache; a request that needs more
  // alignment than the cache's stride allows does not either.
  assert.notEqual(a.createCache('nm-72', { size: 72 }).idx, base.idx);
  assert.notEqual(a.createCache('nm-a128', { size: 64, align: 128 }).idx, base.idx);
  // kmalloc caches are never merge targets: a 96-byte cache keeps its own descriptor.
  const k96 = a.createCache('nm-96', { size: 96 });
  assert.notEqual(k96.cacheName, 'kmalloc-96');
  assert.equal(k96.cacheName, 'nm-96');
});

test('merging: a dying or leaked cache is never merged into; its name is free at once', async () => {
  const a = Arena.create({ bytes: 4 * MiB });
  const warnings: string[] = [];
  a.onWarning((w) => warnings.push(w.message));
  const old = a.createCache('dy-40', { size: 40 });
  const p = old.alloc();
  const pending = old.destroy(); // objects remain: async work scheduled, cache is dying
  assert.equal(old.stats().state, 'dying');
  const fresh = a.createCache('dy-40', { size: 40 }); // same name: free at once (seed step 2)
  const other = a.createCache('dy-36', { size: 36 }); // would merge into a live 40-byte cache
  assert.notEqual(fresh.idx, old.idx, 'never merged into a dying cache');
  assert.equal(other.idx, fresh.idx, 'merges into the new live cache instead');
  const rep = await pending;
  assert.equal(rep.status, 'leaked');
  assert.equal(rep.leaked, 1);
  assert.deepEqual(rep.objects.map((o) => o.ptr), [p]);
  assert.equal(warnings.length, 1);
  // Leaked: still never a merge target.
  fresh.destroySync();
  other.destroySync();
  const after = a.createCache('dy-40b', { size: 40 });
  assert.notEqual(after.idx, old.idx, 'never merged into a leaked cache');
  assert.equal(old.stats().state, 'leaked');
});

// --------------------------------------------------------------- slabinfo

const KMALLOC_GEOMETRY: [string, number, number, number][] = [
  // name, objsize, objperslab, pagesperslab (maxThreads 64: min_objects 32). Below 512 B
  // each object also needs a state byte at the slab end: (4096 * pages) / (objsize + 1).
  ['kmalloc-8k', 8192, 4, 8], // max_objects 4 -> order 3
  ['kmalloc-4k', 4096, 8, 8],
  ['kmalloc-2k', 2048, 16, 8],
  ['kmalloc-1k', 1024, 32, 8], // 32 KiB -> order 3
  ['kmalloc-512', 512, 32, 4], // 16 KiB -> order 2 (>= 512: no state bytes in the slab)
  ['kmalloc-256', 256, 31, 2], // 8192 / 257
  ['kmalloc-192', 192, 42, 2], // 6144 -> order 1; 8192 % 192 = 128 <= 512; 8192 / 193 = 42
  ['kmalloc-128', 128, 31, 1], // 4096 / 129
  ['kmalloc-96', 96, 42, 1], // 4096 % 96 = 64; 4096 / 97 = 42
  ['kmalloc-64', 64, 63, 1], // 4096 / 65
  ['kmalloc-32', 32, 124, 1], // 4096 / 33
  ['kmalloc-16', 16, 240, 1], // 4096 / 17
  ['kmalloc-8', 8, 455, 1], // 4096 / 9
];

test('slabinfo: exact text of a fresh arena (both headers, every kmalloc cache, newest first)', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const expected = [SLABINFO_HEAD1, SLABINFO_HEAD2, ...KMALLOC_GEOMETRY.map(([n, sz, per, pg]) => expectedRow(n, 0, 0, sz, per, pg, 0))].join('\n') + '\n';
  assert.equal(a.slabinfo(), expected);
  // The second header line, spelled out once more against the kernel's seq_puts.
  assert.equal(a.slabinfo().split('\n')[1],
    '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>');
  // And one kmalloc row character by character: "%-17s %6lu %6lu %6u %4u %4d".
  assert.equal(a.slabinfo().split('\n')[14],
    'kmalloc-8              0      0      8  455    1 : tunables    0    0    0 : slabdata      0      0      0');
});

test('slabinfo: rows of user caches with exact counts, column widths and overflowing fields', () => {
  const a = Arena.create({ bytes: 16 * MiB });
  const c1 = a.createCache('si-obj', { size: 100, flags: SLAB_NO_MERGE }); // stride 104, 4096/105 = 39/slab, order 0
  const c2 = a.createCache('a_rather_long_cache_name_x', { size: 8, flags: SLAB_NO_MERGE }); // 26 chars > 17; 4096/9 = 455/slab
  // Both have sheaves of 60 (strides < 256): every refill takes 60 objects from the slabs.
  assert.equal(c1.stats().sheaf_capacity, 60);
  assert.equal(c2.stats().sheaf_capacity, 60);
  const p1: number[] = [];
  for (let i = 0; i < 50; i++) p1.push(c1.alloc()); // one refill of 60: 39 + 21 -> 2 slabs
  for (let i = 0; i < 7; i++) c1.free(p1.pop()!); // 43 active (the 7 sit in the sheaf)
  const N = 1_000_000; // 7 digits: wider than %6lu
  for (let i = 0; i < N; i++) if (c2.alloc() === 0) throw new Error('exhausted');
  const km = a.kmalloc(100); // kmalloc-128: one refill of 60 objects, 31 a slab
  assert.notEqual(km, 0);
  // ceil(N / 60) = 16667 refills took 1000020 objects: ceil(1000020 / 455) = 2198 slabs.
  const slabs2 = Math.ceil((Math.ceil(N / 60) * 60) / 455);
  assert.equal(slabs2, 2198);
  const lines = a.slabinfo().split('\n');
  assert.equal(lines[0], SLABINFO_HEAD1);
  assert.equal(lines[1], SLABINFO_HEAD2);
  // Newest first (kernel: list_add at the head of slab_caches, shown from the head).
  assert.equal(lines[2], 'a_rather_long_cache_name_x 1000000 1000090      8  455    1 : tunables    0    0    0 : slabdata   2198   2198      0');
  assert.equal(lines[2], expectedRow('a_rather_long_cache_name_x', N, slabs2 * 455, 8, 455, 1, slabs2));
  assert.equal(lines[3], 'si-obj                43     78    104   39    1 : tunables    0    0    0 : slabdata      2      2      0');
  const rows = parseSlabinfo(a.slabinfo());
  const k128slabs = Math.ceil(60 / 31); // 2
  assert.equal(rows.get('kmalloc-128')!.line, expectedRow('kmalloc-128', 1, k128slabs * 31, 128, 31, 1, k128slabs));
  // The three main sheaves (si-obj, the long one, kmalloc-128: 16 + 4 * 60 = 256 bytes
  // each) are kmalloc-256 storage: not counted as its objects, but its slab is counted.
  assert.equal(rows.get('kmalloc-256')!.line, expectedRow('kmalloc-256', 0, 31, 256, 31, 2, 1));
  assert.equal(rows.size, 2 + 13);
  for (const [n] of KMALLOC_GEOMETRY) assert.ok(rows.has(n), `${n} listed`);
  // stats() agrees.
  const s = c1.stats();
  assert.equal(s.objects, 43);
  assert.equal(s.total_objects, 78);
  assert.equal(s.slabs, 2);
  a.kfree(km);
  assert.equal(parseSlabinfo(a.slabinfo()).get('kmalloc-128')!.active, 0);
});

test('slabinfo: active_objs is exact (free objects cached in sheaves are not counted as active)', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('si-exact', { size: 64, flags: SLAB_NO_MERGE }); // 4096 / 65 = 63 a slab
  const p = c.alloc(); // one object; the refill put 60 in this thread's sheaf, 59 of them still free there
  assert.equal(c.objects, 63);
  let r = parseSlabinfo(a.slabinfo()).get('si-exact')!;
  assert.equal(r.active, 1);
  assert.equal(r.num, 63);
  c.free(p);
  r = parseSlabinfo(a.slabinfo()).get('si-exact')!;
  assert.equal(r.active, 0);
  assert.equal(r.num, 63);
  assert.equal(r.numSlabs, 1);
  c.shrink();
  r = parseSlabinfo(a.slabinfo()).get('si-exact')!;
  assert.equal(r.line, expectedRow('si-exact', 0, 0, 64, 63, 1, 0));
});

// ------------------------------------------------------------------ stats

const SYSFS_ATTRS = [
  'object_size', 'slab_size', 'objs_per_slab', 'order', 'objects', 'objects_partial', 'total_objects', 'slabs',
  'partial', 'cpu_slabs', 'aliases', 'align', 'destroy_by_rcu', 'min_partial', 'hwcache_align', 'reclaim_account',
  'sanity_checks', 'red_zone', 'poison', 'store_user', 'trace', 'ctor',
];
const STAT_COUNTERS = ['alloc_fastpath', 'alloc_slowpath', 'free_fastpath', 'free_remote', 'free_slowpath', 'alloc_slab', 'free_slab'];
// 7.0's sheaf and barn counters (sysfs sheaf_* / barn_*), and the barn's current contents.
const SHEAF_COUNTERS = [
  'sheaf_refill', 'sheaf_flush', 'sheaf_alloc', 'sheaf_free', 'barn_get', 'barn_get_fail', 'barn_put', 'barn_put_fail',
  'barn_full', 'barn_empty',
];

test('stats(): sysfs attribute names and flag attributes', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('st-attrs', { size: 100, flags: SLAB_HWCACHE_ALIGN | SLAB_NO_MERGE });
  const s = c.stats() as unknown as Record<string, unknown>;
  for (const k of [...SYSFS_ATTRS, ...STAT_COUNTERS, ...SHEAF_COUNTERS, 'sheaf_capacity']) assert.ok(k in s, `stats() has ${k}`);
  for (const k of [...SYSFS_ATTRS, ...STAT_COUNTERS, ...SHEAF_COUNTERS, 'sheaf_capacity']) if (k !== 'ctor') assert.equal(typeof s[k], 'number', `${k} is a number`);
  assert.equal(s['hwcache_align'], 1);
  assert.equal(s['destroy_by_rcu'], 0);
  assert.equal(s['ctor'], '');
  assert.equal(s['aliases'], 0);
  function myCtor(): void {}
  const withCtor = a.createCache('st-ctor', { size: 16, ctor: myCtor });
  assert.equal(withCtor.stats().ctor, 'myCtor');
  const dbg = a.createCache('st-dbg', { size: 16, flags: SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER | SLAB_CONSISTENCY_CHECKS });
  const d = dbg.stats();
  assert.deepEqual([d.red_zone, d.poison, d.store_user, d.sanity_checks, d.trace], [1, 1, 1, 1, 0]);
});

function counters(c: Cache): Record<string, number> {
  const s = c.stats() as unknown as Record<string, number>;
  return Object.fromEntries([...STAT_COUNTERS, ...SHEAF_COUNTERS].map((k) => [k, s[k]!]));
}

test('event counters change as expected for a known sequence (two attached slots in one thread)', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('ev-64', { size: 64, flags: SLAB_NO_MERGE }); // 4096 / 65 = 63 objects per order-0 slab
  const cap = c.stats().sheaf_capacity;
  assert.equal(cap, 60); // stride < 256
  assert.equal(c.objects, 63);
  const zero: Record<string, number> = Object.fromEntries([...STAT_COUNTERS, ...SHEAF_COUNTERS].map((k) => [k, 0]));
  assert.deepEqual(counters(c), zero);
  // Three refills' worth: each time the main sheaf is empty, alloc takes the slow path, the
  // barn has no full sheaf (barn_get_fail), and the sheaf is refilled with 60 objects:
  // 60 of slab 1; its last 3 + 57 of slab 2; slab 2's last 6 + 54 of slab 3. The first
  // refill also allocates the main sheaf itself.
  const ptrs: number[] = [];
  for (let i = 0; i < 3 * cap; i++) ptrs.push(c.alloc());
  let want: Record<string, number> = {
    ...zero, alloc_slowpath: 3, alloc_fastpath: 3 * cap - 3, alloc_slab: 3,
    sheaf_refill: 3 * cap, sheaf_alloc: 1, barn_get_fail: 3,
  };
  assert.deepEqual(counters(c), want);
  // No cpu slab; slab 3 is the only partial one (9 free, its 54 others in use).
  assert.deepEqual([c.stats().slabs, c.stats().cpu_slabs, c.stats().partial, c.stats().objects_partial, c.stats().total_objects],
    [3, 0, 1, 3 * cap - 2 * 63, 3 * 63]);
  assert.equal(c.stats().objects, 3 * cap);
  // A second CPU: another attachment of this thread gets its own slot, and frees onto
  // its own sheaves (there is no remote free any more). 2 * 60 + 1 frees: the first
  // allocates its main sheaf, the 61st a new main (the full one becomes the spare), the
  // 121st finds main and spare full: the main goes to the barn (barn_put), a new one
  // takes its place. The other 118 are fast.
  const b = Arena.attach(a.sab);
  let detached = false;
  try {
    assert.notEqual(b.threadId, a.threadId);
    const cb = b.findCache('ev-64')!;
    const fromB = ptrs.slice(0, 2 * cap + 1);
    for (const p of fromB) cb.free(p);
    want = { ...want, free_slowpath: 3, free_fastpath: 2 * cap - 2, sheaf_alloc: 4, barn_put: 1, barn_full: 1 };
    assert.deepEqual(counters(c), want);
    assert.equal(c.stats().objects, 3 * cap - (2 * cap + 1));
    assert.equal(c.stats().slabs, 3, 'objects in sheaves keep their slabs in use');
    // Slot 0's main sheaf is empty and it has no spare: its next alloc trades the empty main
    // for the barn's full sheaf (barn_get; the empty one goes to the barn), and the next 59
    // allocs pop it: exactly the objects slot 1 freed as its 61st..120th, no new slab.
    const got: number[] = [];
    for (let i = 0; i < cap; i++) got.push(c.alloc());
    want = { ...want, alloc_slowpath: 4, alloc_fastpath: want.alloc_fastpath! + cap - 1, barn_get: 1, barn_full: 0, barn_empty: 1 };
    assert.deepEqual(counters(c), want);
    assert.deepEqual([...got].sort((x, y) => x - y), fromB.slice(cap, 2 * cap).sort((x, y) => x - y));
    assert.equal(c.stats().alloc_slab, 3, 'no new slab: the other thread\'s frees were reused');
    // Slot 0 frees all it holds (60 + the 59 never freed): 60 fill its main sheaf, the 61st
    // moves it to the spare and takes the barn's empty sheaf as main, 58 more fast.
    const held = [...got, ...ptrs.slice(2 * cap + 1)];
    assert.equal(held.length, 2 * cap - 1);
    for (const p of held) c.free(p);
    want = { ...want, free_fastpath: want.free_fastpath! + 2 * cap - 2, free_slowpath: 4, barn_empty: 0 };
    assert.deepEqual(counters(c), want);
    assert.equal(c.stats().objects, 0);
    assert.equal(c.stats().free_remote, 0);
    // Slot 1 detaches: its spare (60) and main (1) sheaves go back to the slabs and their
    // storage is freed. No slab empties (slot 0's sheaves still hold objects of each).
    b.detach();
    detached = true;
    want = { ...want, sheaf_flush: cap + 1, sheaf_free: 2 };
    assert.deepEqual(counters(c), want);
    assert.equal(c.stats().slabs, 3);
    // shrink: slot 0's two sheaves (119 objects) go back, every slab is empty and all
    // three (fewer than min_partial, so none was discarded by the flush) are freed now.
    assert.equal(c.shrink(), 3);
    want = { ...want, sheaf_flush: 3 * cap, sheaf_free: 4, free_slab: 3 };
    assert.deepEqual(counters(c), want);
    assert.equal(c.stats().sheaf_flush, c.stats().sheaf_refill, 'every object refilled came back');
    assert.deepEqual([c.stats().slabs, c.stats().partial, c.stats().cpu_slabs], [0, 0, 0]);
  } finally {
    if (!detached) b.detach();
  }
  assert.equal(a.pageStats().used, 0, 'the sheaves\' kmalloc-256 slab went back too');
});

test('empty slabs beyond min_partial go back to the page allocator at free time', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  // The rule lives where objects come back to slabs. A cache without sheaves (consistency
  // checks only: the stride stays 64, 4096 / 65 = 63 a slab, min_partial 5) gives every
  // free straight back to its slab, so the rule is seen free by free.
  const c = a.createCache('mp-64', { size: 64, flags: SLAB_CONSISTENCY_CHECKS });
  assert.equal(c.stats().sheaf_capacity, 0);
  const per = c.objects;
  assert.equal(per, 63);
  const ptrs: number[][] = [];
  for (let s = 0; s < 8; s++) {
    const slab: number[] = [];
    for (let i = 0; i < per; i++) slab.push(c.alloc());
    ptrs.push(slab);
  }
  assert.equal(c.stats().slabs, 8);
  assert.equal(c.stats().partial, 0, 'full slabs are on the full list');
  // Empty the slabs one by one. __slab_free discards a slab that becomes empty when
  // n->nr_partial >= min_partial, and the slab itself is on the partial list then: so
  // with min_partial 5 the 5th empty slab meets nr_partial = 4 empties + itself = 5 and
  // is discarded; 4 empty slabs stay.
  for (let s = 0; s < 8; s++) {
    const k = s + 1;
    for (const p of ptrs[s]!) c.free(p);
    const st = c.stats();
    assert.equal(st.partial, Math.min(k, 4), `partial after emptying ${k} slabs`);
    assert.equal(st.slabs, 8 - Math.max(0, k - 4));
    assert.equal(st.free_slab, Math.max(0, k - 4));
  }
  assert.equal(a.pageStats().used, 4);
  assert.equal(c.shrink(), 4);
  assert.equal(a.pageStats().used, 0);

  // With sheaves, freed objects stay in sheaves and the barn (60 + 60 + 10 * 60 objects
  // before anything is flushed): their slabs stay in use until a flush brings them back.
  const sc = a.createCache('mp-64s', { size: 64, flags: SLAB_NO_MERGE });
  const cap = sc.stats().sheaf_capacity;
  assert.equal(cap, 60);
  const all: number[] = [];
  for (let i = 0; i < 8 * per; i++) all.push(sc.alloc());
  // ceil(504 / 60) = 9 refills took 540 objects: ceil(540 / 63) = 9 slabs.
  const slabs = Math.ceil((Math.ceil((8 * per) / cap) * cap) / per);
  assert.equal(sc.stats().slabs, slabs);
  for (const p of all) sc.free(p);
  assert.equal(sc.stats().objects, 0);
  assert.equal(sc.stats().slabs, slabs, 'objects cached in sheaves/barn keep their slabs');
  assert.equal(sc.stats().free_slab, 0);
  assert.equal(sc.stats().sheaf_flush, 0);
  assert.equal(sc.shrink(), slabs);
  assert.equal(sc.stats().sheaf_flush, sc.stats().sheaf_refill);
  assert.equal(sc.stats().slabs, 0);
  assert.equal(a.pageStats().used, 0);
});
