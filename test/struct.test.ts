import test from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { defineStruct, type ArenaViews } from '../src/struct.js';

/** Views over a bare SharedArrayBuffer: the same shape an Arena exposes. */
function views(bytes = 4096): ArenaViews & { sab: SharedArrayBuffer } {
  const sab = new SharedArrayBuffer(bytes);
  return {
    sab,
    u8: new Uint8Array(sab),
    i32: new Int32Array(sab),
    u32: new Uint32Array(sab),
    f64: new Float64Array(sab),
    dv: new DataView(sab),
  };
}

test('layout follows C rules: natural alignment, size rounded to the largest alignment', () => {
  const S = defineStruct({ key: 'u32', value: 'f64', next: 'ptr' });
  assert.deepEqual({ ...S.offsets }, { key: 0, value: 8, next: 16 });
  assert.equal(S.size, 24);
  assert.equal(S.align, 8);

  const T = defineStruct({ a: 'u8', b: 'u16', c: 'u8', d: 'i32', e: 'i8' });
  assert.deepEqual({ ...T.offsets }, { a: 0, b: 2, c: 4, d: 8, e: 12 });
  assert.equal(T.size, 16);
  assert.equal(T.align, 4);

  const U = defineStruct({ x: 'u8', y: 'u8', z: 'u8' });
  assert.equal(U.size, 3);
  assert.equal(U.align, 1);

  const V = defineStruct({ f: 'f32', d: 'f64' });
  assert.deepEqual({ ...V.offsets }, { f: 0, d: 8 });
  assert.equal(V.size, 16);
  assert.deepEqual(S.fields, ['key', 'value', 'next']);
});

test('every type round-trips with its own range and wrapping', () => {
  const S = defineStruct({ a: 'u8', b: 'i8', c: 'u16', d: 'i16', e: 'u32', f: 'i32', g: 'f32', h: 'f64', p: 'ptr' });
  const v = views();
  const p = 64;
  S.write(v, p, { a: 255, b: -128, c: 65535, d: -32768, e: 0xffffffff, f: -2147483648, g: 1.5, h: Math.PI, p: 4096 });
  assert.deepEqual(S.read(v, p), {
    a: 255, b: -128, c: 65535, d: -32768, e: 0xffffffff, f: -2147483648, g: 1.5, h: Math.PI, p: 4096,
  });
  // C-like truncation on overflow.
  S.set(v, p, 'a', 256 + 7);
  assert.equal(S.get(v, p, 'a'), 7);
  S.set(v, p, 'd', 40000);
  assert.equal(S.get(v, p, 'd'), 40000 - 65536);
  S.set(v, p, 'g', 0.1);
  assert.equal(S.get(v, p, 'g'), Math.fround(0.1));
  // Fields land at their offsets in little-endian order (what typed arrays use on every supported platform).
  assert.equal(v.dv.getUint32(p + S.offsets.e, true), 0xffffffff);
  assert.equal(v.dv.getFloat64(p + S.offsets.h, true), Math.PI);
  // Neighbouring memory untouched.
  assert.equal(v.u8[p - 1], 0);
  assert.equal(v.u8[p + S.size], 0);
});

test('view objects get and set through the arena and can be re-pointed', () => {
  const S = defineStruct({ key: 'u32', value: 'f64', next: 'ptr' });
  const v = views();
  const a = 64, b = 128;
  const view = S.view(v, a);
  view.key = 1;
  view.value = 2.5;
  view.next = b;
  view.ptr = b;
  view.key = 2;
  assert.equal(S.get(v, a, 'key'), 1);
  assert.equal(S.get(v, a, 'next'), b);
  assert.equal(S.get(v, b, 'key'), 2);
  view.ptr = a;
  assert.equal(view.value, 2.5);
  assert.deepEqual(Object.keys(Object.getPrototypeOf(view)).sort(), ['key', 'next', 'value']);
});

test('copy and clear cover exactly one record', () => {
  const S = defineStruct({ key: 'u32', value: 'f64' });
  const v = views();
  v.u8.fill(0xee, 0, 256);
  S.write(v, 64, { key: 9, value: -1 });
  S.copy(v, 128, 64);
  assert.deepEqual(S.read(v, 128), { key: 9, value: -1 });
  assert.equal(v.u8[128 + S.size], 0xee);
  S.clear(v, 128);
  assert.deepEqual(S.read(v, 128), { key: 0, value: 0 });
  assert.equal(v.u8[127], 0xee);
  assert.equal(v.u8[128 + S.size], 0xee);
});

test('atomic load/store exist only for 32-bit integer fields', () => {
  const S = defineStruct({ key: 'u32', value: 'f64', next: 'ptr', n: 'i32' });
  const v = views();
  S.store(v, 64, 'next', 0x80000000);
  assert.equal(S.load(v, 64, 'next'), 0x80000000);
  S.store(v, 64, 'n', -5);
  assert.equal(S.load(v, 64, 'n'), -5);
  const next = S.atomicField('next');
  assert.equal(next.load(v, 64), 0x80000000);
  // @ts-expect-error: 'value' is f64, not an atomic field
  assert.throws(() => S.load(v, 64, 'value'), /atomic access needs u32, i32 or ptr/);
  // @ts-expect-error: no such field
  assert.throws(() => S.get(v, 64, 'nope'), /no field 'nope'/);
});

test('bad specs are refused', () => {
  assert.throws(() => defineStruct({}), /at least one field/);
  // @ts-expect-error: unknown type
  assert.throws(() => defineStruct({ a: 'u64' }), /unknown type 'u64'/);
  assert.throws(() => defineStruct({ ptr: 'u32' }), /invalid field name 'ptr'/);
  assert.throws(() => defineStruct({ 'a b': 'u32' }), /invalid field name/);
});

test('a worker that defines the same struct reads what this thread wrote', async () => {
  const v = views();
  const S = defineStruct({ key: 'u32', value: 'f64', next: 'ptr', tag: 'i16' });
  S.write(v, 256, { key: 42, value: 0.5, next: 512, tag: -3 });
  const w = new Worker(new URL('./workers/struct-reader.js', import.meta.url), { workerData: { sab: v.sab, ptr: 256 } });
  const got = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  assert.deepEqual(got, { key: 42, value: 0.5, next: 512, tag: -3 });
  // And what it wrote back (it doubles value) is visible here.
  assert.equal(S.get(v, 256, 'value'), 1);
  await w.terminate();
});
