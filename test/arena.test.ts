/**
 * The arena itself: views over one buffer, header, thread slots (maxThreads, default 64),
 * and the package shape (the core entry is browser-safe: no node: imports).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Arena } from '../src/index.js';

const MiB = 1 << 20;
const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const root = resolve(here, '../..');

test('views: u8, i32, u32, f64 and dv all alias the one SharedArrayBuffer', () => {
  const a = Arena.create({ bytes: MiB, maxThreads: 4, maxCaches: 16 });
  for (const v of [a.u8, a.i32, a.u32, a.f64]) {
    assert.equal(v.buffer, a.sab);
    assert.equal(v.byteLength, a.sab.byteLength);
  }
  assert.equal(a.dv.buffer, a.sab);
  assert.ok(a.sab instanceof SharedArrayBuffer);
  const p = a.kmalloc(16);
  a.f64[p >> 3] = 1.5;
  assert.equal(a.dv.getFloat64(p, true), 1.5);
  a.u32[(p >> 2) + 2] = 0xdeadbeef;
  assert.equal(a.i32[(p >> 2) + 2], 0xdeadbeef | 0);
  assert.equal(a.u8[p + 8], 0xef);
  // The header starts with the magic ('SLRC') and a version; another thread's view agrees.
  assert.equal(a.i32[0], 0x534c5243);
  const b = Arena.attach(a.sab);
  assert.equal(b.f64[p >> 3], 1.5);
  assert.equal(b.ksize(p), 16);
  b.detach();
});

test('thread slots: maxThreads defaults to 64; each attach gets its own slot until they run out', () => {
  const a = Arena.create({ bytes: 4 * MiB });
  const others: Arena[] = [];
  for (let i = 1; i < 64; i++) others.push(Arena.attach(a.sab));
  const ids = new Set([a.threadId, ...others.map((o) => o.threadId)]);
  assert.equal(ids.size, 64);
  assert.deepEqual([...ids].sort((x, y) => x - y), Array.from({ length: 64 }, (_, i) => i));
  assert.throws(() => Arena.attach(a.sab), /all 64 thread slots are in use/);
  // Each slot has its own sheaves: 64 threads allocating one object each from one cache
  // each refill their own main sheaf with a whole sheaf (60 objects: stride 64 < 256),
  // taken from partial slabs, then new ones (4096 / 65 = 63 objects a slab).
  const c = a.createCache('slots-64', { size: 64 });
  const cap = c.stats().sheaf_capacity;
  assert.equal(cap, 60);
  const ptrs = [c.alloc(), ...others.map((o) => o.findCache('slots-64')!.alloc())];
  assert.equal(new Set(ptrs).size, 64);
  assert.equal(c.stats().cpu_slabs, 0);
  assert.equal(c.stats().sheaf_alloc, 64, 'one main sheaf per slot');
  assert.equal(c.stats().sheaf_refill, 64 * cap);
  assert.equal(c.stats().slabs, Math.ceil((64 * cap) / c.objects)); // 3840 / 63 -> 61
  for (const o of others) o.detach();
  // detach flushed every other thread's sheaf (59 objects each) and freed its storage.
  assert.equal(c.stats().sheaf_flush, 63 * (cap - 1), 'detach flushed every other thread\'s sheaf');
  assert.equal(c.stats().sheaf_free, 63);
  assert.equal(c.stats().objects, 64);
  assert.equal(c.validate().errors, 0);
  for (const p of ptrs) c.free(p);
  c.shrink();
  assert.equal(a.pageStats().used, 0);
  const again = Arena.attach(a.sab);
  assert.ok(again.threadId >= 1 && again.threadId < 64);
  again.detach();
});

/** Every module reachable from a compiled entry through relative imports. */
function reachable(entry: string): Map<string, string> {
  const out = new Map<string, string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (out.has(f)) continue;
    const src = readFileSync(f, 'utf8');
    out.set(f, src);
    for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
      todo.push(resolve(dirname(f), m[1] ?? m[2]!));
    }
  }
  return out;
}

test('package: "." is the browser-safe core (no node: imports reachable), "./node" the Node helpers', () => {
  const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { type: string; exports: Record<string, { types: string; default: string } | string> };
  assert.equal(pkg.type, 'module');
  assert.deepEqual(Object.keys(pkg.exports).sort(), ['.', './node', './package.json']);
  assert.equal(pkg.exports['./package.json'], './package.json');
  const entries = { '.': pkg.exports['.'] as { types: string; default: string }, './node': pkg.exports['./node'] as { types: string; default: string } };
  for (const e of Object.values(entries)) {
    assert.ok(existsSync(resolve(root, e.default)), `${e.default} is built`);
    assert.ok(existsSync(resolve(root, e.types)), `${e.types} is built`);
  }
  const core = reachable(resolve(root, entries['.'].default));
  assert.ok(core.size > 10, `${core.size} modules reachable from the core entry`);
  for (const [f, src] of core) {
    assert.doesNotMatch(src, /from\s*['"]node:|import\(\s*['"]node:|require\(/, `${f} must not import node: modules`);
  }
  assert.ok(existsSync(resolve(root, 'package-lock.json')), 'package-lock.json is committed');
});
