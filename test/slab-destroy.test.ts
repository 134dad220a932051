/**
 * kmem_cache_destroy, the simple form (no RCU involved): released, leaked with the
 * kernel's warning text, twice, use after release, name reuse, shrink.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE } from '../src/index.js';
import { checkPattern, fillPattern, parseSlabinfo, withWarnings } from './helpers/slab-helpers.js';

const MiB = 1 << 20;

/**
 * Pages held by the kmalloc caches' slabs. Sheaf storage is kmalloc'd: a destroyed cache's
 * sheaves go back to their kmalloc cache, whose empty slab may stay cached (min_partial).
 */
function kmallocPages(a: Arena): number {
  let n = 0;
  for (const [name, row] of parseSlabinfo(a.slabinfo())) if (name.startsWith('kmalloc-')) n += row.numSlabs * row.pagesPerSlab;
  return n;
}

/** Give every kmalloc cache's empty slabs back (kmem_cache_shrink on each). */
function shrinkKmalloc(a: Arena): void {
  for (const [name] of parseSlabinfo(a.slabinfo())) if (name.startsWith('kmalloc-')) a.findCache(name)!.shrink();
}

test('destroySync() of an empty cache: released, pages back, gone from slabinfo', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('ds-empty', { size: 48, flags: SLAB_NO_MERGE });
  const ptrs = [c.alloc(), c.alloc(), c.alloc()];
  for (const p of ptrs) c.free(p);
  // The slab (3 objects of 48 B: one refill of 60 fits in one 4096 / 49 = 83-object slab)
  // stays in use while its objects sit in the sheaf; the sheaf itself is a kmalloc-256 object.
  assert.equal(c.stats().slabs, 1);
  assert.equal(a.pageStats().used, 1 + kmallocPages(a), 'the slab is still cached');
  const { result, warnings } = withWarnings(a, () => c.destroySync());
  assert.equal(result.status, 'released');
  assert.equal(result.name, 'ds-empty');
  assert.equal(result.deferred, false);
  assert.equal(result.leaked, 0);
  assert.deepEqual(result.objects, []);
  assert.equal(result.warning, undefined);
  assert.equal(warnings.length, 0);
  assert.equal(a.pageStats().used, kmallocPages(a), 'the cache\'s own slab is back');
  shrinkKmalloc(a);
  assert.equal(a.pageStats().used, 0, 'and the sheaf\'s storage');
  assert.ok(!parseSlabinfo(a.slabinfo()).has('ds-empty'));
  assert.equal(a.findCache('ds-empty'), undefined);
});

test('destroySync() with objects left: leaked, kernel WARN text, leaked count and object list', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('ds-leak', { size: 64, flags: SLAB_NO_MERGE });
  const ptrs: number[] = [];
  for (let i = 0; i < 100; i++) ptrs.push(c.alloc()); // 2 slabs
  const left = ptrs.filter((_, i) => i % 7 === 3);
  for (const p of ptrs) if (!left.includes(p)) c.free(p);
  for (const p of left) fillPattern(a, p, 64, p);
  const used = a.pageStats().used;
  const { result, warnings } = withWarnings(a, () => c.destroySync());
  assert.equal(result.status, 'leaked');
  assert.equal(result.deferred, false);
  assert.equal(result.leaked, left.length);
  assert.deepEqual(result.objects.map((o) => o.ptr), [...left].sort((x, y) => x - y));
  assert.ok(result.warning!.startsWith('kmem_cache_destroy ds-leak: Slab cache still has objects when called from '), result.warning);
  assert.match(result.warning!, /slab-destroy\.test\.js/, 'the caller is the test, not the library');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.kind, 'kmem-cache-destroy');
  assert.equal(warnings[0]!.cache, 'ds-leak');
  assert.equal(warnings[0]!.message, result.warning);
  assert.match(warnings[0]!.report, /BUG ds-leak \(.*\): Objects remaining in ds-leak on __kmem_cache_shutdown\(\)/);
  for (const p of left) assert.match(warnings[0]!.report, new RegExp(`Object 0x${p.toString(16)} @offset=${p & 4095}\\b`));
  // The memory is kept: never turned into a use-after-free.
  assert.equal(a.pageStats().used, used);
  for (const p of left) assert.ok(checkPattern(a, p, 64, p));
  // The name is free: a new cache with it works, with its own memory.
  const again = a.createCache('ds-leak', { size: 64, flags: SLAB_NO_MERGE });
  assert.notEqual(again.idx, c.idx);
  const q = again.alloc();
  assert.ok(!left.includes(q));
  again.free(q);
  assert.equal(again.destroySync().status, 'released');
  assert.equal(a.pageStats().used, used);
});

test('destroying twice throws (destroySync) or rejects (destroy); alloc/free/shrink on a released cache throw', async () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('ds-twice', { size: 32, flags: SLAB_NO_MERGE });
  const p = c.alloc();
  c.free(p);
  assert.equal(c.destroySync().status, 'released');
  assert.throws(() => c.destroySync(), /already destroyed/);
  await assert.rejects(c.destroy(), /already destroyed/);
  assert.throws(() => c.alloc(), /released|destroyed|not live/);
  assert.throws(() => c.free(p), /released/);
  assert.throws(() => c.shrink(), /released/);
  assert.throws(() => c.stats(), /released/);
  const d = a.createCache('ds-twice-async', { size: 32, flags: SLAB_NO_MERGE });
  const rep = await d.destroy();
  assert.equal(rep.status, 'released');
  assert.equal(rep.deferred, false);
  await assert.rejects(d.destroy(), /already destroyed/);
  assert.throws(() => d.destroySync(), /already destroyed/);
  assert.throws(() => d.alloc());
  assert.equal(a.pageStats().used, kmallocPages(a));
  shrinkKmalloc(a);
  assert.equal(a.pageStats().used, 0);
});

test('after a release the name is free and the descriptor is reused without confusing old handles', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('ds-reuse', { size: 40, flags: SLAB_NO_MERGE });
  const p = c.alloc();
  c.free(p);
  c.destroySync();
  const n = a.createCache('ds-reuse', { size: 80, flags: SLAB_NO_MERGE });
  assert.equal(n.objectSize, 80);
  assert.equal(a.findCache('ds-reuse')!.objectSize, 80);
  const q = n.alloc();
  assert.notEqual(q, 0);
  // The stale handle must not reach the new cache, even if it reuses the descriptor slot.
  assert.throws(() => c.alloc());
  assert.throws(() => c.free(q));
  assert.equal(n.stats().objects, 1);
  n.free(q);
  assert.equal(n.destroySync().status, 'released');
});

test('destroying an alias only drops a name; the cache lives on', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const first = a.createCache('ds-al-a', { size: 56 });
  const second = a.createCache('ds-al-b', { size: 50 });
  assert.equal(first.idx, second.idx);
  const p = second.alloc();
  const rep = first.destroySync(); // the canonical name goes first; the descriptor stays
  assert.equal(rep.status, 'alias');
  assert.equal(a.findCache('ds-al-a'), undefined);
  assert.equal(second.stats().aliases, 0);
  assert.equal(second.stats().objects, 1);
  // The destroyed handle refuses alloc every time, although this thread's main sheaf
  // has objects (the fast path compares a per-handle generation that destroy changed).
  for (let i = 0; i < 3; i++) assert.throws(() => first.alloc(), /destroyed/);
  const q = second.alloc(); // the surviving name still allocates
  second.free(q);
  second.free(p);
  assert.equal(second.destroySync().status, 'released');
  assert.equal(a.pageStats().used, kmallocPages(a));
  shrinkKmalloc(a);
  assert.equal(a.pageStats().used, 0);
});

test('a leak found through an alias: the WARN and BUG header name the cache (s->name), the report the handle', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const first = a.createCache('ds-canon-a', { size: 56 });
  const second = a.createCache('ds-canon-b', { size: 50 });
  assert.equal(first.idx, second.idx);
  const p = second.alloc();
  assert.equal(first.destroySync().status, 'alias');
  const { result, warnings } = withWarnings(a, () => second.destroySync());
  assert.equal(result.status, 'leaked');
  assert.equal(result.name, 'ds-canon-b');
  assert.ok(result.warning!.startsWith('kmem_cache_destroy ds-canon-a: Slab cache still has objects when called from '), result.warning);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.cache, 'ds-canon-a');
  assert.match(warnings[0]!.report, /BUG ds-canon-a \(.*\): Objects remaining in ds-canon-a on __kmem_cache_shutdown\(\)/);
  assert.match(warnings[0]!.report, new RegExp(`Object 0x${p.toString(16)} `));
});

test('shrink() flushes the sheaves and returns every empty slab', () => {
  const a = Arena.create({ bytes: 2 * MiB });
  const c = a.createCache('ds-shrink', { size: 256, flags: SLAB_NO_MERGE }); // order 1: 8192 / 257 = 31 a slab
  const per = c.objects;
  const cap = c.stats().sheaf_capacity; // 28 (256 <= stride < 1024)
  assert.deepEqual([c.order, per, cap], [1, 31, 28]);
  // 4 refills = 112 objects: 3 * 31 < 112 <= 4 * 31, so exactly 4 slabs.
  const n = 4 * cap;
  const ptrs: number[] = [];
  for (let i = 0; i < n; i++) ptrs.push(c.alloc());
  assert.equal(c.stats().slabs, 4);
  // Keep one object, free the rest: they sit in sheaves and the barn, every slab stays.
  const slabOf = (p: number): number => p - (p % 8192);
  const keep = ptrs[n - 1]!;
  for (const p of ptrs) if (p !== keep) c.free(p);
  let s = c.stats();
  assert.deepEqual([s.slabs, s.cpu_slabs, s.objects, s.sheaf_flush], [4, 0, 1, 0]);
  // shrink: the sheaves and the barn go back, the three slabs without `keep` are empty and
  // freed; the sheaves' kmalloc-128 storage (16 + 4 * 28 bytes) is freed and its slab too.
  assert.equal(c.shrink(), 3);
  s = c.stats();
  assert.deepEqual([s.slabs, s.cpu_slabs, s.partial, s.objects, s.objects_partial], [1, 0, 1, 1, 1]);
  assert.equal(s.sheaf_flush, s.sheaf_refill - 1);
  assert.equal(a.pageStats().used, 2, 'one order-1 slab: the one holding the kept object');
  assert.equal(parseSlabinfo(a.slabinfo()).get('ds-shrink')!.numSlabs, 1);
  assert.ok(ptrs.filter((p) => slabOf(p) === slabOf(keep)).length > 0);
  assert.equal(c.shrink(), 0);
  c.free(keep);
  assert.equal(c.shrink(), 1);
  assert.equal(a.pageStats().used, 0);
});
