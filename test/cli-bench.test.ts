import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultsMarkdown, sectionMarkdown } from '../bench/report.js';
import { chartFileName, sectionChart } from '../bench/charts.js';
import type { BenchSection } from '../bench/types.js';

const section: BenchSection = {
  title: 'Slab | test',
  rows: [
    { name: 'ours', value: 20, unit: 'ns/op', baseline: 'theirs', ratio: 1000, floor: 1000 },
    { name: 'theirs', value: 20_000, unit: 'ns/op' },
    { name: 'slow ours', value: 40, unit: 'ns/op', baseline: 'limit', ratio: 0.1, floor: 0.25 },
    { name: 'memory', value: 8, unit: 'bytes/object' },
  ],
  notes: ['a note'],
};

test('section markdown: a table with ratios, floors met and missed, notes, chart link', () => {
  const md = sectionMarkdown(section, 'x.svg');
  assert.match(md, /^## Slab \| test$/m);
  assert.match(md, /\| ours \| 20\.0 \| ns\/op \| theirs \| 1,000× \| ≥ 1,000× met \|/);
  assert.match(md, /\| slow ours \| 40\.0 \| ns\/op \| limit \| 0\.10× \| ≥ 0\.25× \*\*missed\*\* \|/);
  assert.match(md, /^- a note$/m);
  assert.match(md, /!\[Slab \\\| test\]\(x\.svg\)/);
});

test('results.md names the machine and lists sections not measured', () => {
  const md = resultsMarkdown({
    machine: { cpu: 'CPU X', cores: 2, node: 'v20.0.0', platform: 'linux', date: '2026-01-01T00:00:00Z' },
    sections: [section],
    skipped: [{ id: 'rcu', reason: 'bench/rcu.ts does not exist yet' }],
    charts: {},
  });
  for (const s of ['| CPU | CPU X |', '| cores | 2 |', '| Node | v20.0.0 |', '| date | 2026-01-01T00:00:00Z |', '`rcu`: bench/rcu.ts does not exist yet']) {
    assert.ok(md.includes(s), s);
  }
});

test('charts: one bar per row of the main unit, log scale for wide ranges, escaped text', () => {
  const svg = sectionChart(section)!;
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((svg.match(/<rect x="330"/g) ?? []).length, 3, 'bytes/object row left out');
  assert.match(svg, /log scale/);
  assert.match(sectionChart({ title: 'a < b & c', rows: [{ name: '<x>', value: 1, unit: 'ms' }] })!, /a &lt; b &amp; c[\s\S]*&lt;x&gt;/);
  assert.equal(sectionChart({ title: 't', rows: [] }), undefined);
  assert.equal(chartFileName('Slab allocator: alloc+free'), 'slab-allocator-alloc-free.svg');
});

test('npm run bench harness: a quick run writes results.md and a chart, and skips sections not written yet', async () => {
  const out = await mkdtemp(join(tmpdir(), 'slabrcu-bench-'));
  try {
    const run = fileURLToPath(new URL('../bench/run.js', import.meta.url));
    const code = await new Promise<number>((resolve) => {
      execFile(process.execPath, [run, '--quick', '--only', 'slab,rcu', '--out', out], (err) => resolve(err ? 1 : 0));
    });
    assert.equal(code, 0);
    const md = await readFile(join(out, 'results.md'), 'utf8');
    assert.match(md, /## Slab allocator: alloc\+free pair, 64-byte objects, sliding window/);
    assert.match(md, /Int32Array free list/);
    assert.match(md, /plain JS objects/);
    assert.match(md, /@thi\.ng\/malloc MemPool/);
    assert.ok(/`rcu`:/.test(md) || /^## .*RCU/im.test(md), 'rcu section either measured or listed as not measured');
    const files = await readdir(out);
    assert.ok(files.some((f) => f.endsWith('.svg')));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
