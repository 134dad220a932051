/**
 * A growable arena (maxBytes > bytes) grows on demand, and every thread sees the growth
 * through its length-tracking views: a worker that attached while the arena was small
 * allocates and writes objects beyond that length, and the main thread reads them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE } from '../src/index.js';
import { checkPattern, fillPattern, TestWorker, workerUrl } from './helpers/slab-helpers.js';

const MiB = 1 << 20;

test('Arena.create({ bytes, maxBytes }) grows on demand up to maxBytes and no further', () => {
  const a = Arena.create({ bytes: MiB, maxBytes: 3 * MiB, maxThreads: 4, maxCaches: 32 });
  assert.equal(a.sab.byteLength, MiB);
  assert.equal((a.sab as SharedArrayBuffer & { growable: boolean }).growable, true);
  assert.equal(a.pageStats().maxBytes, 3 * MiB);
  const c = a.createCache('grow-1k', { size: 1024, flags: SLAB_NO_MERGE });
  const held: number[] = [];
  for (;;) {
    const p = c.alloc();
    if (p === 0) break;
    fillPattern(a, p, 1024, held.length + 1);
    held.push(p);
  }
  assert.equal(a.sab.byteLength, 3 * MiB, 'grew to maxBytes');
  assert.equal(a.u8.length, 3 * MiB, 'views track the length');
  assert.equal(a.i32.length, 3 * MiB / 4);
  assert.ok(Math.max(...held) + 1024 > MiB + MiB, 'objects live in the grown part');
  held.forEach((p, i) => assert.ok(checkPattern(a, p, 1024, i + 1)));
  const ps = a.pageStats();
  assert.equal(ps.bytes, 3 * MiB);
  assert.equal(ps.free + ps.used, ps.total);
  assert.equal(a.pages.countFreeLists(), ps.free);
  for (const p of held) c.free(p);
  c.shrink();
  assert.equal(a.pageStats().used, 0);
  // A non-growable arena (maxBytes defaults to bytes) never grows.
  const b = Arena.create({ bytes: MiB, maxThreads: 4, maxCaches: 32 });
  const d = b.createCache('nogrow', { size: 1024 });
  while (d.alloc() !== 0);
  assert.equal(b.sab.byteLength, MiB);
});

test('a worker attached before growth sees it: it allocates and writes beyond the original length', { timeout: 30_000 }, async () => {
  const a = Arena.create({ bytes: MiB, maxBytes: 16 * MiB, maxThreads: 4, maxCaches: 32 });
  const orig = a.sab.byteLength;
  const c = a.createCache('grow-256', { size: 256, flags: SLAB_NO_MERGE });
  const w = new TestWorker(workerUrl('slab-grow'), { sab: a.sab, cache: 'grow-256' });
  a.watch(w.w);
  const attached = await w.next<{ u8: number; byteLength: number }>();
  assert.equal(attached.byteLength, orig, 'the worker attached to the small arena');
  assert.equal(attached.u8, orig);
  // The main thread grows the arena: 2 MiB of objects in a 1 MiB arena.
  const mine: number[] = [];
  for (let i = 0; i < 8192; i++) {
    const p = c.alloc();
    assert.notEqual(p, 0);
    fillPattern(a, p, 256, i + 1);
    mine.push(p);
  }
  const grownByMain = a.sab.byteLength;
  assert.ok(grownByMain > orig + MiB, `grown to ${grownByMain}`);
  assert.equal(a.u8.length, grownByMain);
  // The worker allocates 2 MiB more: its objects are beyond the length it first saw; it
  // grows the arena further itself.
  const count = 8192;
  w.w.postMessage({ count });
  const done = await w.next<{ seenBefore: { u8: number; byteLength: number }; ptrs: number[]; maxEnd: number; u8: number; byteLength: number }>();
  await w.join();
  assert.ok(done.seenBefore.u8 >= grownByMain, 'the worker\'s view already had the main thread\'s growth');
  assert.equal(done.ptrs.length, count);
  assert.ok(done.ptrs.every((p) => p >= orig), 'every worker object lies beyond the original length');
  assert.ok(done.maxEnd <= done.u8, 'the worker wrote within its view');
  assert.ok(done.byteLength > grownByMain, 'the worker grew the arena further');
  // The main thread sees the worker's growth and its writes.
  assert.equal(a.sab.byteLength, done.byteLength);
  assert.equal(a.u8.length, done.byteLength);
  done.ptrs.forEach((p, i) => {
    assert.equal(a.i32[p >> 2], i + 1);
    assert.equal(a.f64[(p >> 3) + 1], i + 0.5);
    assert.equal(a.u8[p + 255], 0x5c);
  });
  mine.forEach((p, i) => assert.ok(checkPattern(a, p, 256, i + 1)));
  // No overlap between the two threads' objects.
  const all = [...mine, ...done.ptrs].sort((x, y) => x - y);
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]! + 256 <= all[i]!);
  // Everything frees from here; every page comes back.
  for (const p of [...mine, ...done.ptrs]) c.free(p);
  assert.equal(c.stats().objects, 0);
  c.shrink();
  const ps = a.pageStats();
  assert.equal(ps.used, 0);
  assert.equal(ps.free, ps.total);
  assert.equal(ps.bytes, a.sab.byteLength);
});
