/**
 * Real worker threads on one arena: two workers exhaust the arena, hand objects to each
 * other and free each other's objects (remote frees) until memory has run out and been
 * refilled many times; at the end every page is back. And arena.watch(worker): a worker
 * that dies while holding a cpu slab is detached for it (slub_cpu_dead).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE } from '../src/index.js';
import { TestWorker, workerUrl } from './helpers/slab-helpers.js';
import type { PingPongData, PingPongResult } from './workers/slab-pingpong.js';

const MiB = 1 << 20;

test('two workers exhaust the arena, pass objects to each other and free them remotely; every page comes back', { timeout: 60_000 }, async (t) => {
  const a = Arena.create({ bytes: 2 * MiB, maxThreads: 4, maxCaches: 32 });
  const total = a.pageStats().total;
  const c = a.createCache('pp-64', { size: 64, flags: SLAB_NO_MERGE }); // order 0, 64 per slab
  const cap = 8192;
  const ringBytes = (2 + cap) * 4;
  const rings = [a.kmalloc(ringBytes), a.kmalloc(ringBytes)];
  const ctrl = a.kmalloc(64);
  for (const p of [...rings, ctrl]) a.u8.fill(0, p, p + a.ksize(p));
  const ringPages = a.pageStats().used;
  const capacity = Math.floor((total - ringPages) * 4096 / 64); // objects the arena can hold, about
  const targetExhaustions = 10;
  const workers = [0, 1].map((me) => {
    const data: PingPongData = {
      sab: a.sab, cache: 'pp-64', me, ringOut: rings[me]!, ringIn: rings[1 - me]!, cap, ctrl, targetExhaustions,
      minAllocsPerCycle: Math.floor(capacity / 8),
    };
    const w = new TestWorker(workerUrl('slab-pingpong'), data);
    a.watch(w.w);
    return w;
  });
  const results = await Promise.all(workers.map((w) => w.next<PingPongResult>()));
  await Promise.all(workers.map((w) => w.join()));
  t.diagnostic(JSON.stringify(results));
  const exhaustions = results.reduce((s, r) => s + r.exhaustions, 0);
  assert.ok(exhaustions >= targetExhaustions, `the arena ran out ${exhaustions} times`);
  for (const r of results) {
    assert.equal(r.badTags, 0, `worker ${r.me}: every received object carried the sender's tag, in order, until freed`);
    assert.ok(r.exhaustions >= 1, `worker ${r.me} ran out at least once`);
    assert.ok(r.remoteFrees > 0, `worker ${r.me} freed the other's objects`);
    assert.ok(r.allocs >= r.exhaustions * Math.floor(capacity / 8));
  }
  // Memory was refilled: far more objects went through than the arena holds at once.
  const allocs = results[0]!.allocs + results[1]!.allocs;
  assert.ok(allocs >= 5 * capacity, `${allocs} allocations through an arena of ~${capacity} objects`);
  // Everything sent was received (the rings are empty) and freed by the receiver.
  for (const [me, other] of [[0, 1], [1, 0]] as const) {
    const sent = results[me]!.allocs - results[me]!.localFrees;
    assert.equal(results[other]!.received, sent, `worker ${other} received all ${sent} objects worker ${me} sent`);
    assert.equal(results[other]!.remoteFrees, results[other]!.received, `worker ${other} freed all it received`);
  }
  // Frees of the other thread's objects go into the freeing thread's own sheaf (Linux 7.0
  // free_to_pcs: one node, every object is local): every free is counted by the freer.
  const st = results.map((r) => r.statsBeforeDone);
  assert.ok(Math.max(...st.map((s) => s.free_fastpath + s.free_slowpath + s.free_remote)) >= Math.min(results[0]!.remoteFrees, results[1]!.remoteFrees));
  assert.ok(Math.max(...st.map((s) => s.free_slab)) > 0, 'empty slabs went back to the page allocator during the run');
  // Both detached: no cpu slab left, no object live; shrink returns every slab and page.
  const s = c.stats();
  assert.equal(s.objects, 0);
  assert.equal(s.cpu_slabs, 0);
  c.shrink();
  assert.equal(c.stats().slabs, 0);
  assert.equal(a.pageStats().used, ringPages);
  for (const p of [...rings, ctrl]) a.kfree(p);
  for (const name of ['kmalloc-64']) a.findCache(name)!.shrink();
  const ps = a.pageStats();
  assert.equal(ps.used, 0, 'every page is back');
  assert.equal(ps.free, total);
  assert.equal(a.pages.countFreeLists(), total);
  assert.equal(c.destroySync().status, 'released');
});

for (const mode of ['terminate', 'return'] as const) {
  test(`arena.watch(worker): a worker that ${mode === 'terminate' ? 'is terminate()d' : 'returns without detach()'} while holding sheaves is detached for it`, { timeout: 30_000 }, async () => {
    const a = Arena.create({ bytes: 2 * MiB, maxThreads: 4, maxCaches: 32 });
    const c = a.createCache('hold-64', { size: 64, flags: SLAB_NO_MERGE }); // 63 per slab, sheaves of 60
    const cap = c.stats().sheaf_capacity;
    const n = 40;
    const f = 15;
    const w = new TestWorker(workerUrl('slab-hold'), { sab: a.sab, cache: 'hold-64', n, f, mode });
    a.watch(w.w);
    const msg = await w.next<{ slot: number; ptrs: number[]; freed: number[] }>();
    if (mode === 'return') {
      await w.join();
    } else {
      // Alive, holding its main sheaf (one refill of `cap` objects from one slab, n handed
      // out, f freed back into it): the object count already includes its frees.
      let s = c.stats();
      assert.equal(s.cpu_slabs, 0);
      assert.equal(s.objects, n - f);
      assert.equal(s.free_fastpath, f);
      assert.equal(s.slabs, 1);
      assert.equal(s.partial, 1, `${c.objects - cap} objects the refill left on the slab`);
      assert.equal(s.objects_partial, cap, 'the slab counts the sheaf\'s objects as in use');
      // Free some of its objects from here: they go into *this* thread's sheaf.
      const remote = msg.ptrs.splice(0, 10);
      for (const p of remote) c.free(p);
      s = c.stats();
      assert.equal(s.free_slowpath, 1, 'the first free here gave this thread a main sheaf');
      assert.equal(s.free_fastpath, f + 9, 'the other nine took the fast path');
      assert.equal(s.objects, n - f - 10);
      msg.freed.push(...remote);
      await w.w.terminate();
      await assert.rejects(w.exited, /exited with code 1/, 'terminated');
    }
    // watch() detached the dead slot: its sheaves are flushed to the slab, the frees it
    // made are still counted, its objects are still there. (Our own sheaf is flushed too.)
    c.shrink();
    const s = c.stats();
    assert.equal(s.cpu_slabs, 0, 'the dead worker\'s cpu slab was flushed');
    const live = msg.ptrs.length; // n - f, less the 10 freed remotely in 'terminate' mode
    assert.equal(s.objects, live, 'the objects it freed are counted as freed');
    assert.equal(s.slabs, 1);
    assert.equal(s.partial, 1);
    assert.equal(s.objects_partial, live, 'the sheaves were flushed to the slab');
    // Its event counters are folded into the cache, not lost (kernel: an offlined CPU's stats).
    assert.equal(s.free_fastpath, mode === 'terminate' ? f + 9 : f, 'the dead worker\'s fast-path frees still count');
    assert.ok(s.alloc_fastpath + s.alloc_slowpath >= n, 'its allocations still count');
    assert.equal(parseInt(a.slabinfo().split('\n').find((l) => l.startsWith('hold-64'))!.split(/\s+/)[1]!, 10), live);
    for (const p of msg.ptrs) assert.equal(a.dv.getUint32(p, true) >>> 16, 0xabcd);
    // The slot is free again: the next attach gets it.
    const b = Arena.attach(a.sab);
    assert.equal(b.threadId, msg.slot);
    b.detach();
    // The objects it left can be freed here; the objects it freed are reused.
    for (const p of msg.ptrs) c.free(p);
    assert.equal(c.stats().objects, 0);
    const again = new Set<number>();
    for (let i = 0; i < c.objects; i++) again.add(c.alloc());
    for (const p of [...msg.ptrs, ...msg.freed]) assert.ok(again.has(p), 'the dead worker\'s slab is reused whole, first');
    // The second refill took the slab's last objects, then filled the sheaf from a new slab.
    assert.equal(c.stats().alloc_slab, 2);
    for (const p of again) c.free(p);
    c.shrink();
    assert.equal(a.pageStats().used, 0);
  });
}
