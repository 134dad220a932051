// SLUB debug (issue 6): enabling, object layout and byte values, tracks and the stack
// depot (also across worker threads), checks and reports, validate(), the quarantine,
// leak listing at destroy.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import {
  Arena, SLAB_CONSISTENCY_CHECKS, SLAB_NO_MERGE, SLAB_POISON, SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TRACE,
  type SlabWarning,
} from '../src/index.js';
import {
  cacheTraces, objectTracks, POISON_END, POISON_FREE, POISON_INUSE, quarantineFlush, quarantineStats, SLUB_RED_ACTIVE,
  SLUB_RED_INACTIVE, stackDepotStats, type TrackInfo,
} from '../src/debug/index.js';

function setup(opts: { debug?: string; quarantineBytes?: number } = {}): { a: Arena; w: SlabWarning[] } {
  const a = Arena.create({ bytes: 8 << 20, ...opts });
  const w: SlabWarning[] = [];
  a.onWarning((x) => w.push(x));
  return { a, w };
}

const FZPU = SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER;
const all = (u8: Uint8Array, from: number, to: number, v: number): boolean => u8.subarray(from, to).every((b) => b === v);

function runWorker(data: Record<string, unknown>): Promise<Record<string, unknown>> {
  const w = new Worker(new URL('./workers/debug-worker.js', import.meta.url), { workerData: data });
  return new Promise((resolve, reject) => {
    w.once('message', (m: { type: string; message?: string }) => (m.type === 'error' ? reject(new Error(m.message)) : resolve(m)));
    w.once('error', reject);
  });
}

test('slab_debug= option: letters per cache, globs, defaults; debug caches never merge', () => {
  const { a } = setup({ debug: 'FZ,dbg-a;P,dbg-b*' });
  const sa = a.createCache('dbg-a', { size: 64 }).stats();
  const sb = a.createCache('dbg-b1', { size: 64 }).stats();
  const sc = a.createCache('dbg-c', { size: 64 }).stats();
  assert.deepEqual([sa.sanity_checks, sa.red_zone, sa.poison, sa.store_user], [1, 1, 0, 0]);
  assert.deepEqual([sb.sanity_checks, sb.red_zone, sb.poison, sb.store_user], [0, 0, 1, 0]);
  assert.deepEqual([sc.sanity_checks, sc.red_zone, sc.poison, sc.store_user], [0, 0, 0, 0]);
  const { a: b } = setup({ debug: '' });
  const d = b.createCache('dbg-all', { size: 64 }).stats();
  assert.deepEqual([d.sanity_checks, d.red_zone, d.poison, d.store_user], [1, 1, 1, 1]);
  const x = a.createCache('dbg-x', { size: 96, flags: SLAB_RED_ZONE });
  const y = a.createCache('dbg-y', { size: 96, flags: SLAB_RED_ZONE });
  assert.notEqual(x.idx, y.idx);
  assert.equal(y.stats().aliases, 0);
});

test('object layout: 0x5a new slab, 0xbb/0xcc red zones, 6b..a5 poison, free pointer outside, tracks', () => {
  const { a, w } = setup();
  const c = a.createCache('dbg-layout', { size: 20, flags: FZPU });
  const u8 = a.u8;
  assert.ok(c.fp >= 24, 'SLAB_POISON moves the free pointer after the red zone');
  const p = c.alloc();
  const slab = p - c.redLeftPad;
  assert.equal(slab % 4096, 0, 'first object of a new slab');
  // The slab's padding is POISON_INUSE: strides below 512 keep one object-state byte per
  // object at the slab end, so objects = 4096 / (stride + 1) and the padding is what lies
  // between the last object and those bytes.
  assert.equal(c.objects, Math.floor(4096 / (c.size + 1)));
  const padStart = c.objects * c.size;
  const padEnd = 4096 - c.objects;
  assert.ok(padEnd > padStart);
  assert.ok(all(u8, slab + padStart, slab + padEnd, POISON_INUSE), 'padding is 0x5a');
  assert.equal(w.length, 0, 'a new slab raises no report');
  // Allocated: red zones active (incl. right red zone 20..24), object poisoned as the kernel's init_object does.
  assert.ok(all(u8, p - c.redLeftPad, p, SLUB_RED_ACTIVE));
  assert.ok(all(u8, p + 20, p + 24, SLUB_RED_ACTIVE));
  assert.ok(all(u8, p, p + 19, POISON_FREE));
  assert.equal(u8[p + 19], POISON_END);
  // A free object next to it: inactive red zones, poison.
  const q = p + c.size;
  assert.ok(all(u8, q - c.redLeftPad, q, SLUB_RED_INACTIVE));
  assert.ok(all(u8, q + 20, q + 24, SLUB_RED_INACTIVE));
  assert.ok(all(u8, q, q + 19, POISON_FREE));
  // Tracks: alloc set, free empty.
  let t = objectTracks(a, p);
  assert.equal(t.alloc!.thread, 0);
  assert.match(t.alloc!.frames[0]!, /debug\.test\.js/);
  assert.ok(t.alloc!.frames.every((f) => !/[/\\]dist[/\\]src[/\\]/.test(f)), 'library frames trimmed');
  assert.equal(t.free, undefined);
  u8.fill(0x11, p, p + 20);
  c.free(p);
  t = objectTracks(a, p);
  assert.match(t.free!.frames[0]!, /debug\.test\.js/);
  assert.ok(all(u8, p, p + 19, POISON_FREE));
  assert.ok(all(u8, p + 20, p + 24, SLUB_RED_INACTIVE));
  assert.equal(c.validate().errors, 0);
  assert.equal(w.length, 0);
});

test('stack depot: one record per call site, shared by every object allocated there', () => {
  const { a } = setup({ debug: 'U' });
  const c = a.createCache('dbg-depot', { size: 32 });
  const ptrs: number[] = [];
  const site = (): number => c.alloc();
  let r0 = 0;
  for (let k = 0; k < 200; k++) {
    ptrs.push(site());
    if (k === 0) r0 = stackDepotStats(a).records;
  }
  assert.equal(stackDepotStats(a).records, r0, 'no new record for the same stack');
  const handles = new Set(ptrs.map((p) => objectTracks(a, p).alloc!.handle));
  assert.equal(handles.size, 1);
  ptrs.push(c.alloc()); // another line: another stack
  assert.equal(stackDepotStats(a).records, r0 + 1);
  for (const p of ptrs) c.free(p);
});

test('a trace recorded in one worker is readable in another thread, and in the leak listing of destroy', async () => {
  const { a, w } = setup({ debug: 'FZPU,dbg-xthread' });
  const c = a.createCache('dbg-xthread', { size: 48, flags: SLAB_NO_MERGE });
  const m = await runWorker({ sab: a.sab, mode: 'alloc', cache: 'dbg-xthread' });
  const ptr = m.ptr as number;
  const slot = m.slot as number;
  assert.notEqual(ptr, 0);
  // Read here, in the main thread.
  const here = objectTracks(a, ptr).alloc!;
  assert.equal(here.thread, slot);
  assert.match(here.frames.join('\n'), /allocInWorker .*debug-worker\.js/);
  // Read in another worker.
  const r = await runWorker({ sab: a.sab, mode: 'read-tracks', cache: 'dbg-xthread', ptr });
  const there = (r.tracks as { alloc: TrackInfo }).alloc;
  assert.deepEqual(there.frames, here.frames);
  assert.equal(there.nodeThreadId, here.nodeThreadId);
  // The leak listing at destroy carries the worker's alloc track.
  const rep = await c.destroy();
  assert.equal(rep.status, 'leaked');
  assert.equal(rep.objects.length, 1);
  assert.match(rep.objects[0]!.allocTrace!, new RegExp(`^Allocated in allocInWorker .* age=\\d+ cpu=${slot} pid=${here.nodeThreadId}\\n`));
  assert.match(rep.report!, /Objects remaining in dbg-xthread on __kmem_cache_shutdown\(\)/);
  assert.ok(w.some((x) => x.kind === 'kmem-cache-destroy' && x.message === 'kmem_cache_destroy dbg-xthread: Slab cache still has objects'));
});

test('alloc_traces / free_traces: objects in use grouped by stack, most frequent first', () => {
  const { a } = setup({ debug: 'U,dbg-traces' });
  const c = a.createCache('dbg-traces', { size: 40 });
  const many = (): number => c.alloc();
  const few = (): number => c.alloc();
  const xs = Array.from({ length: 30 }, many);
  const ys = Array.from({ length: 5 }, few);
  const t = cacheTraces(a, c, 'alloc');
  assert.deepEqual(t.locations.map((l) => l.count), [30, 5]);
  assert.match(t.locations[0]!.caller, /^many .*debug\.test\.js/);
  assert.match(t.text, /^ {5}30 many .*debug\.test\.js:\d+:\d+\) age=\d+(\/\d+\/\d+)? pid=\d+ cpus=0\n {8}many /);
  for (const p of xs) c.free(p);
  assert.deepEqual(cacheTraces(a, c, 'alloc').locations.map((l) => l.count), [5]);
  const z = c.alloc(); // reuses a freed object: its free track says where it was freed
  assert.equal(cacheTraces(a, c, 'free').locations.find((l) => l.count === 1)?.caller.includes('debug.test.js'), true);
  for (const p of [...ys, z]) c.free(p);
});

test('onWarning listeners run outside the cache lock: they may call stats(), validate(), alloc/free', () => {
  const a = Arena.create({ bytes: 4 << 20, debug: 'FZPU' });
  const c = a.createCache('dbg-listener', { size: 64 });
  const seen: string[] = [];
  a.onWarning((w) => {
    seen.push(`${w.kind}:${c.stats().objects}`);
    const x = c.alloc();
    c.free(x);
    if (w.kind === 'double-free') assert.equal(c.validate().errors, 0);
  });
  const p = c.alloc();
  const q = c.alloc();
  c.free(p);
  c.free(p); // double free, reported under the lock, delivered after it
  a.u8[q + 64] = 0x99; // right red zone
  const r = c.validate();
  assert.equal(r.errors, 2);
  assert.deepEqual(seen, ['double-free:1', 'slab-error:1']);
  c.free(q);
});

test('invalid frees are refused with a report even without debugging; nothing changes', () => {
  const { a, w } = setup();
  const c = a.createCache('dbg-inv', { size: 64 });
  const d = a.createCache('dbg-inv2', { size: 128 });
  const p = c.alloc();
  const q = d.alloc();
  const before = c.stats();
  c.free(0);
  c.free(p + 8); // interior pointer
  c.free(q); // another cache's object
  c.free(a.sab.byteLength + 64); // outside the arena
  c.free(4096); // a metadata page
  assert.deepEqual(w.map((x) => x.kind), ['invalid-free', 'wrong-cache', 'invalid-free', 'invalid-free']);
  assert.match(w[0]!.report, /Invalid object pointer 0x/);
  assert.deepEqual(c.stats(), before);
  assert.equal(a.reports.length, 4, 'reports are also stored on the arena');
  c.free(p);
  d.free(q);
  assert.equal(c.validate().errors, 0);
});

test('validate() on a cache without debug flags checks freelists and counts', () => {
  const { a } = setup();
  const c = a.createCache('dbg-plain', { size: 64 });
  const ptrs = Array.from({ length: 100 }, () => c.alloc());
  for (const p of ptrs.slice(0, 50)) c.free(p);
  const r = c.validate();
  assert.equal(r.errors, 0);
  assert.ok(r.slabs >= 1);
  assert.equal(r.objects, r.slabs * c.objects);
  assert.deepEqual(r.reports, []);
  for (const p of ptrs.slice(50)) c.free(p);
});

test('a corrupt freelist head: "Freelist Pointer check fails" at alloc, the slab is set aside, allocation goes on', () => {
  const { a, w } = setup();
  const c = a.createCache('dbg-fp', { size: 64, flags: SLAB_POISON });
  const p = c.alloc();
  const keep = c.alloc();
  c.free(p);
  a.i32[(p + c.fp) >> 2] = 0x12345; // p's next pointer, outside the object under SLAB_POISON
  assert.equal(c.alloc(), p);
  const r = c.alloc(); // the slab's freelist now starts with garbage
  assert.notEqual(r, 0);
  assert.match(w.map((x) => x.report).join(''), /BUG dbg-fp \(Not tainted\): Freelist Pointer check fails[\s\S]*FIX dbg-fp: Marking all objects used/);
  const seen = new Set<number>([p, keep, r]);
  for (let k = 0; k < 300; k++) {
    const x = c.alloc();
    assert.ok(!seen.has(x));
    seen.add(x);
  }
});

test('validate(): a freelist cycle is cleared (2 errors) and the slab leaves the partial list', () => {
  const { a } = setup();
  const c = a.createCache('dbg-cycle', { size: 64, flags: SLAB_POISON });
  const p = c.alloc();
  const q = c.alloc();
  const keep = c.alloc();
  c.free(p);
  c.free(q); // freelist: q -> p -> (rest of the slab)
  a.i32[(p + c.fp) >> 2] = q; // p -> q: a cycle
  const r = c.validate();
  assert.equal(r.errors, 2);
  assert.match(r.reports.join(''), /BUG dbg-cycle \(Not tainted\): Freelist cycle detected[\s\S]*FIX dbg-cycle: Freelist cleared/);
  assert.equal(c.validate().errors, 0);
  const st = c.stats();
  assert.equal(st.partial, 0, 'no partial slab left to allocate from');
  const slab = p >>> 12;
  for (let k = 0; k < 100; k++) assert.notEqual(c.alloc() >>> 12, slab);
  void keep;
});

test('SLAB_TRACE: a "TRACE <cache> alloc|free" event per operation', () => {
  const { a, w } = setup();
  const c = a.createCache('dbg-trace', { size: 32, flags: SLAB_TRACE });
  const p = c.alloc();
  c.free(p);
  assert.deepEqual(w.map((x) => x.kind), ['trace', 'trace']);
  assert.match(w[0]!.message, /^TRACE dbg-trace alloc 0x[0-9a-f]+ inuse=\d+ fp=0x[0-9a-f]+$/);
  assert.match(w[1]!.report, /^TRACE dbg-trace free 0x[0-9a-f]+ inuse=\d+ fp=0x[0-9a-f]+\nObject [0-9a-f]{8}: /);
  assert.equal(a.slabErrors, 0);
});

test('quarantine: FIFO, within budget, objects poisoned while held and reused only after leaving', () => {
  const { a, w } = setup({ quarantineBytes: 64 * 10 });
  const c = a.createCache('dbg-q', { size: 64 });
  const ptrs = Array.from({ length: 30 }, () => c.alloc());
  for (const p of ptrs.slice(0, 10)) c.free(p);
  let s = quarantineStats(a);
  assert.equal(s.objects, 10);
  assert.equal(s.bytes, 640);
  for (const p of ptrs.slice(0, 10)) {
    assert.ok(all(a.u8, p, p + 32, POISON_FREE), 'poisoned (but the marker word)');
    assert.equal(a.u8[p + 63], POISON_END);
  }
  // Allocations do not get quarantined objects back.
  const fresh = Array.from({ length: 20 }, () => c.alloc());
  assert.ok(fresh.every((x) => !ptrs.slice(0, 10).includes(x)));
  // Two more frees push the two oldest out, in order.
  c.free(ptrs[10]!);
  c.free(ptrs[11]!);
  s = quarantineStats(a);
  assert.equal(s.objects, 10);
  assert.equal(s.evicted, 2);
  assert.equal(c.validate().errors, 0, 'validate knows quarantined objects');
  assert.equal(w.length, 0);
  for (const x of [...fresh, ...ptrs.slice(12)]) c.free(x);
  quarantineFlush(a);
  assert.equal(c.stats().objects, 0);
});

test('quarantine: a write to a quarantined object is found by validate() too, and restored', () => {
  const { a, w } = setup({ quarantineBytes: 4096 });
  const c = a.createCache('dbg-q-val', { size: 64 });
  const p = c.alloc();
  const q = c.alloc();
  c.free(p);
  a.u8[p + 40] = 0x33;
  const r = c.validate();
  assert.equal(r.errors, 2);
  assert.match(r.reports[0]!, /\[Poison overwritten\].*First byte 0x33 instead of 0x6b/);
  assert.equal(w[0]!.kind, 'use-after-free');
  assert.equal(c.validate().errors, 0);
  quarantineFlush(a);
  assert.equal(quarantineStats(a).useAfterFree, 0, 'already repaired when it left');
  c.free(q);
});

test('quarantine: destroy flushes the cache\'s quarantined objects, so they are not leaks', async () => {
  const { a, w } = setup({ debug: 'FZPU', quarantineBytes: 1 << 20 });
  const c = a.createCache('dbg-q-destroy', { size: 64 });
  const other = a.createCache('dbg-q-other', { size: 64 });
  const o = other.alloc();
  other.free(o);
  for (let k = 0; k < 50; k++) c.free(c.alloc());
  assert.equal(quarantineStats(a).objects, 51);
  const rep = await c.destroy();
  assert.equal(rep.status, 'released');
  assert.equal(rep.leaked, 0);
  assert.equal(quarantineStats(a).objects, 1, 'other caches keep theirs');
  const rs = a.createCache('dbg-q-sync', { size: 64 });
  rs.free(rs.alloc());
  assert.equal(rs.destroySync().status, 'released');
  assert.equal(w.length, 0);
});

test('quarantine with kmalloc/kfree and kfreeRcu', () => {
  const { a, w } = setup({ quarantineBytes: 8192 });
  const p = a.kmalloc(100);
  a.kfree(p);
  assert.equal(quarantineStats(a).objects, 1);
  a.kfree(p);
  assert.deepEqual(w.map((x) => x.kind), ['double-free']);
  const q = a.kmalloc(100);
  assert.notEqual(q, p);
  a.kfreeRcu(q);
  a.kvfreeRcuBarrier();
  assert.equal(quarantineStats(a).objects, 2);
  quarantineFlush(a);
  assert.equal(a.findCache('kmalloc-128')!.stats().objects, 0);
});

for (const q of [0, 256 * 1024]) {
  test(`threads: concurrent alloc/free on one FZPU cache${q ? ' with the quarantine' : ''}, validate() meanwhile: no false reports`, async () => {
    const { a, w } = setup(q ? { debug: 'FZPU', quarantineBytes: q } : { debug: 'FZPU' });
    const c = a.createCache('dbg-churn', { size: 72 });
    const runs = [1, 2, 3].map((seed) => runWorker({ sab: a.sab, mode: 'churn', cache: 'dbg-churn', n: 20000, seed }));
    let validations = 0;
    const timer = setInterval(() => {
      assert.equal(c.validate().errors, 0);
      validations++;
    }, 5);
    let results: Record<string, unknown>[];
    try {
      results = await Promise.all(runs);
    } finally {
      clearInterval(timer);
    }
    for (const r of results) assert.deepEqual([r.bad, r.reports], [0, 0]);
    quarantineFlush(a);
    assert.equal(c.stats().objects, 0);
    assert.equal(c.validate().errors, 0);
    assert.equal(w.length, 0);
    assert.ok(validations >= 0);
    assert.equal((await c.destroy()).status, 'released');
  });
}

test('quarantine: under memory pressure its objects are given back before alloc returns 0', () => {
  const a = Arena.create({ bytes: 1 << 20, quarantineBytes: 1 << 20 });
  const c = a.createCache('dbg-q-pressure', { size: 256 });
  c.free(c.alloc()); // the quarantine ring takes its pages now
  const ptrs: number[] = [];
  for (;;) {
    const p = c.alloc();
    if (p === 0) break;
    ptrs.push(p);
  }
  const n = ptrs.length;
  for (const p of ptrs) c.free(p);
  assert.ok(quarantineStats(a).objects > 0);
  // Every page is held by the quarantine or by slabs full of quarantined objects; allocating
  // again must flush it rather than fail.
  const again: number[] = [];
  for (let k = 0; k < n; k++) {
    const p = c.alloc();
    assert.notEqual(p, 0, `alloc ${k} of ${n}`);
    again.push(p);
  }
  for (const p of again) c.free(p);
  quarantineFlush(a);
  assert.equal(c.stats().objects, 0);
});
