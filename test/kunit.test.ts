// The SLUB cases of the kernel's lib/tests/slub_kunit.c (suite "slub_test") that apply
// here, with the report counts they expect. Counting is kunit's slab_errors: one per
// BUG report (object_err / slab_err), one per FIX; `arena.slabErrors` counts the same
// way, and validate() returns the difference as `errors`.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE, SLAB_POISON, SLAB_RED_ZONE, type SlabWarning } from '../src/index.js';

function arena(debug?: string): { a: Arena; warnings: SlabWarning[] } {
  const a = Arena.create(debug === undefined ? { bytes: 4 << 20 } : { bytes: 4 << 20, debug });
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  return { a, warnings };
}

test('test_clobber_zone: a write past an allocated object hits the right red zone: 2 errors', () => {
  const { a, warnings } = arena();
  const s = a.createCache('TestSlub_RZ_alloc', { size: 64, flags: SLAB_RED_ZONE });
  const p = s.alloc();
  a.u8[p + 64] = 0x12;
  const before = a.slabErrors;
  const r = s.validate();
  assert.equal(r.errors, 2);
  assert.equal(a.slabErrors - before, 2);
  assert.equal(r.slabs, 1);
  // validate_slab stops at the first bad object of a slab (here the first one).
  assert.equal(r.objects, 1);
  assert.match(r.reports[0]!, /^\[Right Redzone overwritten\] 0x[0-9a-f]+-0x[0-9a-f]+ @offset=\d+\. First byte 0x12 instead of 0xcc\n={77}\nBUG TestSlub_RZ_alloc \(Not tainted\): Object corrupt\n-{77}\n\n/);
  assert.match(r.reports[0]!, /\nRedzone  [0-9a-f]{8}: 12 cc cc cc cc cc cc cc {26}\.{8}\n/);
  assert.match(r.reports[0]!, /\nFIX TestSlub_RZ_alloc: Restoring Right Redzone 0x[0-9a-f]+-0x[0-9a-f]+=0xcc\n$/);
  assert.equal(a.u8[p + 64], 0xcc, 'restored');
  assert.equal(warnings.length, 1);
  s.free(p);
  const r2 = s.validate();
  assert.equal(r2.errors, 0);
  assert.equal(r2.objects, s.objects);
  return s.destroy().then((rep) => assert.equal(rep.status, 'released'));
});

test('test_next_pointer: a flipped free pointer: 3 errors, after restoring it 2, then 0', () => {
  const { a } = arena();
  const s = a.createCache('TestSlub_next_ptr_free', { size: 64, flags: SLAB_POISON });
  const p = s.alloc();
  s.free(p);
  const w = (p + s.fp) >> 2; // the free pointer lies outside the object with SLAB_POISON
  assert.ok(s.fp >= 64);
  const tmp = a.i32[w]!;
  a.u8[p + s.fp] = ~a.u8[p + s.fp]! & 0xff;
  // Freechain corrupt + Wrong object count + its FIX.
  const r1 = s.validate();
  assert.equal(r1.errors, 3);
  assert.match(r1.reports.join(''), /BUG TestSlub_next_ptr_free \(Not tainted\): Freechain corrupt/);
  assert.match(r1.reports.join(''), /Wrong object count\. Counter is 0 but counted were \d+/);
  assert.match(r1.reports.join(''), /FIX TestSlub_next_ptr_free: Object count adjusted/);
  a.i32[w] = tmp;
  // The count is still wrong (the repaired chain is whole again): report + FIX.
  assert.equal(s.validate().errors, 2);
  // Repaired by the previous pass.
  assert.equal(s.validate().errors, 0);
  assert.equal(s.stats().objects, 0);
  return s.destroy().then((rep) => assert.equal(rep.status, 'released'));
});

test('test_first_word: a write to byte 0 of a freed object: 2 errors (Poison overwritten + FIX)', () => {
  const { a } = arena();
  const s = a.createCache('TestSlub_1th_word_free', { size: 64, flags: SLAB_POISON });
  const p = s.alloc();
  s.free(p);
  a.u8[p] = 0x78;
  const r = s.validate();
  assert.equal(r.errors, 2);
  assert.match(r.reports[0]!, /^\[Poison overwritten\] 0x[0-9a-f]+-0x[0-9a-f]+ @offset=\d+\. First byte 0x78 instead of 0x6b\n/);
  assert.match(r.reports[0]!, /\nObject   [0-9a-f]{8}: 78 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b  xkkkkkkkkkkkkkkk\n/);
  assert.equal(a.u8[p], 0x6b);
  assert.equal(s.validate().errors, 0);
});

test('test_clobber_50th_byte: a write to byte 50 of a freed object: 2 errors', () => {
  const { a } = arena();
  const s = a.createCache('TestSlub_50th_word_free', { size: 64, flags: SLAB_POISON });
  const p = s.alloc();
  s.free(p);
  a.u8[p + 50] = 0x9a;
  const r = s.validate();
  assert.equal(r.errors, 2);
  assert.match(r.reports[0]!, /First byte 0x9a instead of 0x6b/);
  assert.equal(s.validate().errors, 0);
});

test('test_clobber_redzone_free: a write to the red zone of a freed object: 2 errors', () => {
  const { a } = arena();
  const s = a.createCache('TestSlub_RZ_free', { size: 64, flags: SLAB_RED_ZONE });
  const p = s.alloc();
  s.free(p);
  a.u8[p + 64] = 0xab;
  const r = s.validate();
  assert.equal(r.errors, 2);
  assert.match(r.reports[0]!, /\[Right Redzone overwritten\].*First byte 0xab instead of 0xbb/);
  assert.equal(s.validate().errors, 0);
});

test('test_kmalloc_redzone_access: writes past orig_size of a kmalloc(18) object: 2 errors (kmalloc Redzone)', () => {
  // The kernel test creates a SLAB_KMALLOC|SLAB_STORE_USER|SLAB_RED_ZONE cache of 32
  // bytes; here the same flags come from slab_debug= on kmalloc-32.
  const { a } = arena('ZU,kmalloc-32');
  const s = a.findCache('kmalloc-32')!;
  const p = a.kmalloc(18);
  for (let k = 18; k < 32; k++) assert.equal(a.u8[p + k], 0xcc, `byte ${k} of the kmalloc tail is red`);
  a.u8[p + 18] = 0xab;
  a.u8[p + 19] = 0xab;
  const r = s.validate();
  assert.equal(r.errors, 2);
  assert.match(r.reports[0]!, /^\[kmalloc Redzone overwritten\] 0x[0-9a-f]+-0x[0-9a-f]+ @offset=\d+\. First byte 0xab instead of 0xcc\n/);
  assert.match(r.reports[0]!, /\nAllocated in .* age=\d+ cpu=0 pid=-?\d+\n/);
  assert.equal(s.validate().errors, 0);
  a.kfree(p);
  assert.equal(s.validate().errors, 0);
  // After ksize() the whole object is usable (kernel: skip_orig_size_check).
  const q = a.kmalloc(18);
  assert.equal(a.ksize(q), 32);
  a.u8.fill(0x5e, q, q + 32);
  assert.equal(s.validate().errors, 0);
  a.kfree(q);
  assert.equal(s.validate().errors, 0);
});

test('test_leak_destroy: destroying a cache with one leaked object: 2 errors (BUG + 1 object), with its alloc track', async () => {
  const { a, warnings } = arena('U,TestSlub_leak*');
  const s = a.createCache('TestSlub_leak_destroy', { size: 64, flags: SLAB_NO_MERGE });
  const p = s.alloc();
  const before = a.slabErrors;
  const rep = s.destroySync();
  assert.equal(a.slabErrors - before, 2);
  assert.equal(rep.status, 'leaked');
  assert.deepEqual(rep.objects.map((o) => o.ptr), [p]);
  assert.match(rep.objects[0]!.allocTrace!, /^Allocated in .*kunit\.test\.js.* age=\d+ cpu=0 pid=-?\d+\n /);
  assert.ok(warnings.some((w) => w.kind === 'kmem-cache-destroy'));
});
