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
 *   else get_order(size). objs_per_slab = (4096 << order) / size.
 * min_partial = clamp(ilog2(size) / 2, 5, 10).
 */
test('slab order, objs_per_slab and min_partial follow calculate_order with nr_cpus = maxThreads (64)', () => {
  const a = Arena.create({ bytes: 8 * MiB }); // maxThreads 64: fls(64) = 7, min_objects = 32
  const cases: [number, number, number, number][] = [
    // stride, order, objs_per_slab, min_partial
    [24, 0, 170, 5], // 32*24 = 768 -> order 0; 4096 % 24 = 16 <= 256
    [104, 0, 39, 5], // 32*104 = 3328 -> order 0; 4096 % 104 = 40 <= 256
    [128, 0, 32, 5], // 32*128 = 4096 -> order 0; rem 0
    [400, 2, 40, 5], // 32*400 = 12800 -> order 2; 16384 % 400 = 384 <= 1024
    [520, 3, 63, 5], // 16640 -> order 3; 32768 % 520 = 8
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
    [400, 1, 20], // 16*400 = 6400 -> order 1; 8192 % 400 = 192 <= 512
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
  const c = a.createCache('span-704', { size: 704, flags: SLAB_NO_MERGE }); // order 3, 46 objects
  const base = a.pageStats().used;
  const ptrs: number[] = [];
  for (let i = 0; i < 46; i++) ptrs.push(c.alloc());
  assert.equal(a.pageStats().used - base, 8);
  const first = ptrs[0]!;
  assert.equal(first % (8 * 4096), 0, 'an order-3 slab is 8-page aligned (buddy)');
  for (let i = 0; i < 46; i++) assert.equal(ptrs[i], first + i * 704);
  assert.equal(c.stats().slabs, 1);
  ptrs.push(c.alloc());
  assert.equal(c.stats().slabs, 2);
  assert.equal(a.pageStats().used - base, 16);
  for (const p of ptrs) c.free(p);
  assert.equal(c.shrink(), 2);
  assert.equal(a.pageStats().used, base);
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
  // name, objsize, objperslab, pagesperslab (maxThreads 64: min_objects 32)
  ['kmalloc-8k', 8192, 4, 8], // max_objects 4 -> order 3
  ['kmalloc-4k', 4096, 8, 8],
  ['kmalloc-2k', 2048, 16, 8],
  ['kmalloc-1k', 1024, 32, 8], // 32 KiB -> order 3
  ['kmalloc-512', 512, 32, 4], // 16 KiB -> order 2
  ['kmalloc-256', 256, 32, 2],
  ['kmalloc-192', 192, 42, 2], // 6144 -> order 1; 8192 % 192 = 128 <= 512
  ['kmalloc-128', 128, 32, 1],
  ['kmalloc-96', 96, 42, 1], // 4096 % 96 = 64
  ['kmalloc-64', 64, 64, 1],
  ['kmalloc-32', 32, 128, 1],
  ['kmalloc-16', 16, 256, 1],
  ['kmalloc-8', 8, 512, 1],
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
    'kmalloc-8              0      0      8  512    1 : tunables    0    0    0 : slabdata      0      0      0');
});

test('slabinfo: rows of user caches with exact counts, column widths and overflowing fields', () => {
  const a = Arena.create({ bytes: 16 * MiB });
  const c1 = a.createCache('si-obj', { size: 100, flags: SLAB_NO_MERGE }); // stride 104, 39/slab, order 0
  const c2 = a.createCache('a_rather_long_cache_name_x', { size: 8, flags: SLAB_NO_MERGE }); // 26 chars > 17
  const p1: number[] = [];
  for (let i = 0; i < 50; i++) p1.push(c1.alloc()); // 2 slabs: 39 + 11
  for (let i = 0; i < 7; i++) c1.free(p1.pop()!); // 43 active
  const N = 1_000_000; // 7 digits: wider than %6lu
  for (let i = 0; i < N; i++) if (c2.alloc() === 0) throw new Error('exhausted');
  const km = a.kmalloc(100); // kmalloc-128
  assert.notEqual(km, 0);
  const slabs2 = Math.ceil(N / 512); // 1954
  const lines = a.slabinfo().split('\n');
  assert.equal(lines[0], SLABINFO_HEAD1);
  assert.equal(lines[1], SLABINFO_HEAD2);
  // Newest first (kernel: list_add at the head of slab_caches, shown from the head).
  assert.equal(lines[2], 'a_rather_long_cache_name_x 1000000 1000448      8  512    1 : tunables    0    0    0 : slabdata   1954   1954      0');
  assert.equal(lines[2], expectedRow('a_rather_long_cache_name_x', N, slabs2 * 512, 8, 512, 1, slabs2));
  assert.equal(lines[3], 'si-obj                43     78    104   39    1 : tunables    0    0    0 : slabdata      2      2      0');
  const rows = parseSlabinfo(a.slabinfo());
  assert.equal(rows.get('kmalloc-128')!.line, expectedRow('kmalloc-128', 1, 32, 128, 32, 1, 1));
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

test('slabinfo: active_objs is exact (cpu-slab free objects are not counted as active)', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('si-exact', { size: 64, flags: SLAB_NO_MERGE });
  const p = c.alloc(); // one object; the other 63 sit free on this thread's cpu freelist
  let r = parseSlabinfo(a.slabinfo()).get('si-exact')!;
  assert.equal(r.active, 1);
  assert.equal(r.num, 64);
  c.free(p);
  r = parseSlabinfo(a.slabinfo()).get('si-exact')!;
  assert.equal(r.active, 0);
  assert.equal(r.num, 64);
  assert.equal(r.numSlabs, 1);
  c.shrink();
  r = parseSlabinfo(a.slabinfo()).get('si-exact')!;
  assert.equal(r.line, expectedRow('si-exact', 0, 0, 64, 64, 1, 0));
});

// ------------------------------------------------------------------ stats

const SYSFS_ATTRS = [
  'object_size', 'slab_size', 'objs_per_slab', 'order', 'objects', 'objects_partial', 'total_objects', 'slabs',
  'partial', 'cpu_slabs', 'aliases', 'align', 'destroy_by_rcu', 'min_partial', 'hwcache_align', 'reclaim_account',
  'sanity_checks', 'red_zone', 'poison', 'store_user', 'trace', 'ctor',
];
const STAT_COUNTERS = ['alloc_fastpath', 'alloc_slowpath', 'free_fastpath', 'free_remote', 'free_slowpath', 'alloc_slab', 'free_slab'];

test('stats(): sysfs attribute names and flag attributes', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('st-attrs', { size: 100, flags: SLAB_HWCACHE_ALIGN | SLAB_NO_MERGE });
  const s = c.stats() as unknown as Record<string, unknown>;
  for (const k of [...SYSFS_ATTRS, ...STAT_COUNTERS]) assert.ok(k in s, `stats() has ${k}`);
  for (const k of [...SYSFS_ATTRS, ...STAT_COUNTERS]) if (k !== 'ctor') assert.equal(typeof s[k], 'number', `${k} is a number`);
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
  return Object.fromEntries(STAT_COUNTERS.map((k) => [k, s[k]!]));
}

test('event counters change as expected for a known sequence (two attached slots in one thread)', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('ev-64', { size: 64, flags: SLAB_NO_MERGE }); // 64 objects per order-0 slab
  const zero = { alloc_fastpath: 0, alloc_slowpath: 0, free_fastpath: 0, free_remote: 0, free_slowpath: 0, alloc_slab: 0, free_slab: 0 };
  assert.deepEqual(counters(c), zero);
  const slab1: number[] = [];
  for (let i = 0; i < 64; i++) slab1.push(c.alloc());
  // First alloc: slow path + new slab; the other 63 from the cpu freelist.
  assert.deepEqual(counters(c), { ...zero, alloc_slowpath: 1, alloc_fastpath: 63, alloc_slab: 1 });
  assert.deepEqual([c.stats().slabs, c.stats().cpu_slabs, c.stats().partial], [1, 1, 0]);
  const slab2 = [c.alloc(), c.alloc(), c.alloc()];
  // The cpu slab was exhausted: it goes off-list full; a new slab becomes the cpu slab.
  assert.deepEqual(counters(c), { ...zero, alloc_slowpath: 2, alloc_fastpath: 65, alloc_slab: 2 });
  assert.deepEqual([c.stats().slabs, c.stats().cpu_slabs, c.stats().partial, c.stats().total_objects], [2, 1, 0, 128]);
  c.free(slab2.pop()!); // into our cpu slab: fast path
  assert.equal(counters(c).free_fastpath, 1);
  c.free(slab1.pop()!); // into a full slab that is not ours: slow path, slab becomes partial
  c.free(slab1.pop()!);
  assert.equal(counters(c).free_slowpath, 2);
  assert.deepEqual([c.stats().partial, c.stats().objects_partial], [1, 62]);
  // A second CPU: another attachment of this thread gets its own slot.
  const b = Arena.attach(a.sab);
  try {
    assert.notEqual(b.threadId, a.threadId);
    const cb = b.findCache('ev-64')!;
    cb.free(slab2.pop()!); // into slot 0's frozen cpu slab: lock-free remote push
    assert.equal(counters(c).free_remote, 1);
    assert.equal(c.stats().objects, 63);
    // Slot 0 gets the remote-freed object back once its cpu freelist runs dry.
    const got = new Set<number>();
    const n = 64 - 3 + 1; // the cpu freelist: 61 never-used + 1 freed locally
    for (let i = 0; i < n; i++) got.add(c.alloc());
    const before = counters(c);
    const r = c.alloc(); // freelist empty: slow path takes the remote list with one exchange
    assert.equal(counters(c).alloc_slowpath, before.alloc_slowpath! + 1);
    assert.equal(counters(c).alloc_slab, 2, 'no new slab: the remote free was reused');
    assert.ok(!got.has(r));
    c.free(r);
    for (const p of got) c.free(p);
    for (const p of slab1) c.free(p);
    assert.equal(c.stats().objects, 1); // slab2[0]
    c.free(slab2.pop()!);
    assert.equal(c.stats().objects, 0);
    // Empty slabs stay while nr_partial < min_partial (5); shrink returns them.
    assert.equal(counters(c).free_slab, 0);
    assert.equal(c.shrink(), 2);
    assert.equal(counters(c).free_slab, 2);
    assert.deepEqual([c.stats().slabs, c.stats().partial, c.stats().cpu_slabs], [0, 0, 0]);
  } finally {
    b.detach();
  }
  assert.equal(a.pageStats().used, 0);
});

test('empty slabs beyond min_partial go back to the page allocator at free time', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  const c = a.createCache('mp-64', { size: 64, flags: SLAB_NO_MERGE }); // min_partial 5, 64 per slab
  const ptrs: number[][] = [];
  for (let s = 0; s < 8; s++) {
    const slab: number[] = [];
    for (let i = 0; i < 64; i++) slab.push(c.alloc());
    ptrs.push(slab);
  }
  c.shrink(); // the last slab (full) leaves the cpu
  assert.equal(c.stats().slabs, 8);
  assert.equal(c.stats().partial, 0);
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
});
