// kfreeRcu(ptr, rcuHeadOffset): the rcu_head offset must name a 4-byte-aligned word inside
// the object, else a report and nothing queued (issue 11 item 4).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_NO_MERGE, type SlabWarning } from '../src/index.js';
import { nextMessage, startWorker } from './helpers/workers.js';

/** Allocate from c until the arena is exhausted; returns the objects in allocation order. */
function exhaust(c: { alloc(): number }): number[] {
  const held: number[] = [];
  for (;;) {
    const p = c.alloc();
    if (p === 0) return held;
    held.push(p);
  }
}

test('kfreeRcu(ptr, off) refuses an offset outside the object or not on a word, exhausted arena: report, nothing queued, neighbour intact', () => {
  const a = Arena.create({ bytes: 1 << 20 });
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  const c = a.createCache('kh-64', { size: 64, flags: SLAB_NO_MERGE });
  const held = exhaust(c);
  assert.equal(a.pageStats().free, 0, 'arena exhausted: kfreeRcu must chain through the object');
  // Two neighbours of one slab: p and the object right after it (p + 64).
  let k = held.findIndex((p, i) => held[i + 1] === p + 64);
  assert.ok(k >= 0);
  const p = held[k]!;
  const next = held[k + 1]!;
  a.u32.fill(0xabcd1234, next >> 2, (next + 64) >> 2);
  const before = c.stats();
  const bad = [64, 1e9, 2, 63, -4, 1.5, Number.NaN, 4096, 68];
  for (let i = 0; i < bad.length; i++) {
    a.kfreeRcu(p, bad[i]!);
    assert.equal(warnings.length, i + 1, `kfreeRcu(p, ${bad[i]}) must be refused with one report`);
    assert.equal(a.kfreeRcuPending(), 0, `kfreeRcu(p, ${bad[i]}) queued the object`);
    const w = warnings[i]!;
    assert.equal(w.kind, 'kfree-rcu-bad-head');
    assert.equal(w.cache, 'kh-64');
    assert.equal(w.message, `kvfree_call_rcu(): rcu_head offset ${String(bad[i])} of object 0x${p.toString(16)} is not a 4-byte aligned word inside the object (object_size 64); not queued`);
    assert.match(w.report, /^=+\nBUG kh-64 \((Not tainted|Tainted: B)\): Invalid rcu_head offset /);
  }
  // Nothing queued, nothing changed.
  assert.equal(a.kfreeRcuPending(), 0);
  assert.deepEqual(c.stats(), before);
  for (let w = next; w < next + 64; w += 4) assert.equal(a.u32[w >> 2], 0xabcd1234, `neighbour word +${w - next} changed`);
  // The last word of the object is a valid rcu_head: queued through the object's memory.
  a.kfreeRcu(p, 60);
  assert.equal(a.kfreeRcuPending(), 1);
  assert.equal(c.stats().kfree_rcu_pending, 1);
  a.kvfreeRcuBarrier();
  assert.equal(a.kfreeRcuPending(), 0);
  assert.equal(c.stats().objects, held.length - 1);
  for (let w = next; w < next + 64; w += 4) assert.equal(a.u32[w >> 2], 0xabcd1234);
  // The next alloc returns p (freed), never the live neighbour.
  const q = c.alloc();
  assert.equal(q, p);
  for (const o of held) if (o !== p) c.free(o);
  c.free(q);
  assert.equal(c.stats().objects, 0);
  assert.equal(warnings.length, bad.length);
});

test('kfreeRcu(ptr, off) from a worker: a kmalloc object and a large kmalloc block, bad offsets refused, good ones queued', async () => {
  const a = Arena.create({ bytes: 8 << 20 });
  const small = a.kmalloc(100); // kmalloc-128
  const large = a.kmalloc(3 * 4096); // 4 pages (order 2)
  assert.equal(a.ksize(large), 4 * 4096);
  const w = startWorker('kfree-worker', {
    sab: a.sab, mode: 'kfree-head', cache: '',
    calls: [[small, 128], [small, 126], [large, 4 * 4096], [large, 1e9], [small, 124], [large, 4 * 4096 - 4]],
  });
  const m = await nextMessage<{ kinds: string[]; pending: number }>(w, 'done');
  assert.deepEqual(m.kinds, ['kfree-rcu-bad-head', 'kfree-rcu-bad-head', 'kfree-rcu-bad-head', 'kfree-rcu-bad-head']);
  assert.equal(m.pending, 2);
  await a.kvfreeRcuBarrierAsync();
  assert.equal(a.kfreeRcuPending(), 0);
  assert.equal(a.findCache('kmalloc-128')!.stats().objects, 0);
});
