/**
 * Constructors: run once per object when a slab is created (kernel: setup_object in
 * allocate_slab), never on alloc; a thread that must build a slab of a ctor cache needs
 * the ctor (functions cannot be shared between threads).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE } from '../src/index.js';
import { TestWorker, workerUrl } from './helpers/slab-helpers.js';

const MiB = 1 << 20;
const MAGIC = 0x0c70c70c;

test('a ctor runs once per object when a slab is created, not on alloc or reuse', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  const seen: number[] = [];
  let arenaArg: Arena | undefined;
  function initObject(ptr: number, arena: Arena): void {
    seen.push(ptr);
    arenaArg = arena;
    arena.dv.setUint32(ptr, MAGIC, true);
    arena.dv.setUint32(ptr + 4, seen.length, true);
  }
  const c = a.createCache('ctor-obj', { size: 40, ctor: initObject });
  const per = c.objects; // stride 48 (free pointer outside the object): 4096 / (48 + 1 state byte) = 83
  assert.equal(c.size, 48);
  assert.equal(per, 83);
  const cap = c.stats().sheaf_capacity; // 60: a refill fits in the first slab
  assert.equal(cap, 60);
  assert.equal(seen.length, 0, 'nothing constructed before the first slab');
  const first = c.alloc(); // refills the sheaf: 60 objects of one new slab
  assert.equal(seen.length, per, 'the whole slab was constructed');
  assert.equal(arenaArg, a);
  const base = first - (first % 4096);
  assert.deepEqual(seen, Array.from({ length: per }, (_, k) => base + k * 48), 'each object once, in order');
  const ptrs = [first];
  for (let i = 1; i < cap; i++) ptrs.push(c.alloc());
  assert.equal(seen.length, per, 'allocating from a constructed slab runs no ctor');
  for (const p of ptrs) {
    assert.equal(a.dv.getUint32(p, true), MAGIC);
    assert.equal(a.dv.getUint32(p + 4, true), seen.indexOf(p) + 1);
  }
  // Objects go back in their constructed state (the free pointer lives outside them).
  for (const p of ptrs) c.free(p);
  const again: number[] = [];
  for (let i = 0; i < cap; i++) again.push(c.alloc());
  assert.equal(seen.length, per, 'reuse runs no ctor');
  for (const p of again) assert.equal(a.dv.getUint32(p, true), MAGIC);
  // The next refill takes the first slab's other 23 objects and 37 of a second slab:
  // per more calls.
  again.push(c.alloc());
  assert.equal(seen.length, 2 * per);
  assert.equal(c.stats().alloc_slab, 2);
  assert.equal(c.stats().ctor, 'initObject');
  for (const p of again) c.free(p);
  assert.equal(c.shrink(), 2);
  // A slab that was freed and is created again is constructed again.
  c.alloc();
  assert.equal(seen.length, 3 * per);
});

test('a worker without the ctor gets a clear error when it must create a slab; with findCache(name, { ctor }) it works', async () => {
  const a = Arena.create({ bytes: 4 * MiB });
  let mainCalls = 0;
  const c = a.createCache('ctor-w', { size: 64, flags: SLAB_NO_MERGE, ctor: (p, ar) => { mainCalls++; ar.dv.setUint32(p, MAGIC, true); } });
  // One refill of a whole sheaf (60 objects, stride 72 < 256) needs two slabs of
  // 4096 / 73 = 56 objects: the worker allocates exactly that many.
  const n = c.stats().sheaf_capacity;
  assert.ok(n > c.objects && n <= 2 * c.objects, `${n} objects need two slabs of ${c.objects}`);
  const w = new TestWorker(workerUrl('slab-ctor'), { sab: a.sab, name: 'ctor-w', n });
  a.watch(w.w);
  const msg = await w.next<{ error: string; calls: number; ptrs: number[]; values: number[][]; slot: number }>();
  await w.join();
  assert.match(msg.error, /cache 'ctor-w' has a constructor, but none is registered in this thread/);
  assert.match(msg.error, /findCache\('ctor-w', \{ ctor \}\)/);
  assert.equal(mainCalls, 0, 'the main thread constructed nothing');
  assert.equal(msg.calls, 2 * c.objects, 'the worker constructed two slabs');
  assert.equal(new Set(msg.ptrs).size, n);
  for (const [magic, slot] of msg.values) {
    assert.equal(magic, MAGIC);
    assert.equal(slot, msg.slot);
  }
  // The failed attempt lost nothing: exactly the worker's objects are live, in 2 slabs.
  const s = c.stats();
  assert.equal(s.objects, n);
  assert.equal(s.slabs, 2);
  assert.equal(s.cpu_slabs, 0);
  assert.equal(s.sheaf_free, s.sheaf_alloc, 'the worker detached: its sheaves were flushed and freed');
  // The main thread sees the constructed contents and can free the worker's objects.
  for (const p of msg.ptrs) {
    assert.equal(a.dv.getUint32(p, true), MAGIC);
    c.free(p);
  }
  assert.equal(c.stats().objects, 0);
  // Reusing the worker-constructed slabs in the main thread needs no ctor call.
  for (let i = 0; i < n; i++) assert.equal(a.dv.getUint32(c.alloc(), true), MAGIC);
  assert.equal(mainCalls, 0);
});
