// "@offset=" in object reports is the offset within the slab (p - slab_address), as the
// kernel prints it, not within the 4 KiB page: they differ past the first page of every
// slab of order > 0 (issue 11 item 8).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena, SLAB_CONSISTENCY_CHECKS, SLAB_NO_MERGE, SLAB_RED_ZONE, type SlabWarning } from '../src/index.js';
import { nextMessage, startWorker } from './helpers/workers.js';

/** The objects of the first slab of a fresh cache (allocated from one slab) and its base address. */
function oneSlab(c: { alloc(): number; objects: number; size: number }, leftPad: number): { objs: number[]; base: number } {
  const objs: number[] = [];
  for (let i = 0; i < c.objects; i++) objs.push(c.alloc());
  const base = Math.min(...objs) - leftPad;
  assert.equal(Math.max(...objs) - Math.min(...objs), (c.objects - 1) * c.size, 'all from one slab');
  return { objs, base };
}

test('leak report of an order-3 cache: every listed object at p - slab base', async () => {
  const a = Arena.create({ bytes: 8 << 20 });
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  const c = a.createCache('off-leak', { size: 1024, flags: SLAB_NO_MERGE });
  assert.equal(c.order, 3);
  const { objs, base } = oneSlab(c, 0);
  // Keep objects in the first, fifth and last page of the slab.
  const keep = objs.filter((p) => [0, 4 * 4096 + 1024, 7 * 4096 + 3072].includes(p - base));
  assert.equal(keep.length, 3);
  for (const p of objs) if (!keep.includes(p)) c.free(p);
  const rep = await c.destroy();
  assert.equal(rep.status, 'leaked');
  const lines = rep.report!.split('\n').filter((l) => l.startsWith('Object 0x'));
  assert.deepEqual(lines, [...keep].sort((x, y) => x - y).map((p) => `Object 0x${p.toString(16)} @offset=${p - base}`));
  assert.deepEqual(lines.map((l) => l.replace(/^.*@offset=/, '')), ['0', '17408', '31744']);
  assert.equal(warnings.length, 1);
});

test('double free on an order-3 cache without debug, from a worker: @offset is p - slab base', async () => {
  const a = Arena.create({ bytes: 8 << 20 });
  const c = a.createCache('off-df', { size: 1024, flags: SLAB_NO_MERGE });
  const { objs, base } = oneSlab(c, 0);
  const p = objs.find((o) => o - base === 5 * 4096 + 2048)!;
  const w = startWorker('kfree-worker', { sab: a.sab, mode: 'free-twice', cache: 'off-df', ptr: p });
  const m = await nextMessage<{ reports: { kind: string; report: string }[] }>(w, 'done');
  assert.deepEqual(m.reports.map((r) => r.kind), ['double-free']);
  assert.match(m.reports[0]!.report, new RegExp(`^Object 0x${p.toString(16)} @offset=${5 * 4096 + 2048}$`, 'm'));
});

test('double free on an order-3 debug cache (F, red zones): the trailer\'s @offset is p - slab base too', () => {
  const a = Arena.create({ bytes: 8 << 20 });
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  const c = a.createCache('off-dbg', { size: 1024, flags: SLAB_NO_MERGE | SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE });
  assert.ok(c.order > 0);
  // The slab starts one left red zone before its first object.
  const { objs, base } = oneSlab(c, c.redLeftPad);
  const p = objs.find((o) => o - base > 4 * 4096)!;
  c.free(p);
  c.free(p);
  const df = warnings.filter((w) => w.kind === 'double-free');
  assert.equal(df.length, 1);
  assert.match(df[0]!.report, new RegExp(`^Object 0x${p.toString(16)} @offset=${p - base} fp=`, 'm'));
});
