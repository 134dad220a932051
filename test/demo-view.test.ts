/**
 * The demo's live view and its leak report, without a terminal:
 * - renderFrame at 80 columns (and wider) has no line longer than the terminal and
 *   fits 24 rows, however many workers and caches;
 * - the real demo drawn into a headless terminal (xterm, 80x24): the frame is redrawn
 *   in place, so the title appears exactly once, and no line wraps;
 * - slabinfo trimmed to the columns that fit;
 * - --leak: each trace once, no commander / node:internal / library frames, and it
 *   points at the writer's allocation that was never freed.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import xterm from '@xterm/headless';
import { runDemo, type DemoSummary } from '../src/demo/run.js';
import { DEMO_JSON_FIELDS } from '../src/demo/json-fields.js';
import { leakReport, trimTrace } from '../src/demo/leak.js';
import { fitSlabinfo } from '../src/demo/slabinfo.js';
import { fitLine, renderFrame, visibleWidth, wrapText, type Snapshot } from '../src/demo/view.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function snapshot(workers: number, caches: number, big = false): Snapshot {
  const names = ['session', 'kmalloc-64', 'kmalloc-rcl-128', 'kmalloc-4k', 'a-cache-with-a-rather-long-name-indeed', 'kmalloc-8k', 'kmalloc-16', 'kmalloc-32'];
  const n = big ? 123_456_789 : 20_323;
  return {
    elapsedS: big ? 12345.6 : 12.3,
    durationS: big ? 99999 : 18,
    tableCount: big ? 1_000_000 : 20_000,
    gpsCompleted: big ? 9_999_999 : 1234,
    gpsPerSec: big ? 99_999 : 56,
    caches: Array.from({ length: caches }, (_, i) => ({
      name: names[i % names.length]!, activeObjs: n * i, numObjs: n * i + 5, objSize: 80, objPerSlab: 51, pagesPerSlab: 1,
      activeSlabs: 425, numSlabs: 425 * i, ...(i === 0 ? { kfreeRcuPending: n } : {}),
    })),
    workers: Array.from({ length: workers }, (_, i) => ({
      index: i, role: i % 2 ? 'reader' : 'writer', readsPerSec: big ? 9.9e9 : 1_234_567, updatesPerSec: 98_765, errors: i === 3 ? 7 : 0,
    })),
  };
}

test('renderFrame: no line longer than the terminal (80 columns and up), at most 24 rows', () => {
  for (const width of [80, 100, 120, 160, 200]) {
    for (const [w, c, big] of [[1, 1, false], [4, 5, false], [63, 8, true], [16, 3, true]] as const) {
      const frame = renderFrame(snapshot(w, c, big), { width, height: 24 });
      const lines = frame.split('\n');
      const longest = Math.max(...lines.map(visibleWidth));
      assert.ok(longest <= width, `width ${width}, ${w} workers, ${c} caches: a line of ${longest} columns`);
      assert.ok(lines.length <= 23, `width ${width}, ${w} workers: ${lines.length} rows`);
      assert.match(lines[0]!, /^slabrcu demo {2}/);
    }
  }
  const f80 = renderFrame(snapshot(63, 8), { width: 80, height: 24 });
  assert.match(f80, /… \d+ more/, 'workers beyond the rows are summed into one row');
  assert.match(f80, /│ session +│/);
  const wide = renderFrame(snapshot(4, 3), { width: 160 });
  assert.match(wide, /obj size/, 'a wide terminal shows every column');
  assert.doesNotMatch(renderFrame(snapshot(4, 3), { width: 80 }), /\x1b/, 'no colour unless asked');
  assert.match(renderFrame(snapshot(4, 3), { width: 80, color: true }), /\x1b\[/);
  assert.ok(Math.max(...renderFrame(snapshot(4, 3), { width: 80, color: true }).split('\n').map(visibleWidth)) <= 80);
});

test('fitLine and wrapText keep every line within the width', () => {
  assert.equal(fitLine('abcdef', 4), 'abc…');
  assert.equal(visibleWidth(fitLine('\x1b[36mabcdef\x1b[39m', 4)), 4);
  const prose = 'slabrcu demo: 20000 sessions in an RCU hash table, 2 writer(s) and 2 reader(s) on worker threads, 18s of traffic, one writer leaks sessions (--leak)';
  const wrapped = wrapText(prose, 80).split('\n');
  assert.ok(wrapped.length > 1 && wrapped.every((l) => l.length <= 80));
  assert.equal(wrapped.join(' ').replace(/ +/g, ' '), prose);
  assert.equal(wrapText(prose, Infinity), prose);
});

test('slabinfo trimmed to the columns that fit', () => {
  const text = [
    'slabinfo - version: 2.1',
    '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>',
    'session            20323  21675     80   51    1 : tunables    0    0    0 : slabdata    425    425      0',
    'kmalloc-64             0      0     64   64    1 : tunables    0    0    0 : slabdata      0      0      0',
    'kmalloc-128           10     32    128   32    1 : tunables    0    0    0 : slabdata      1      1      0',
  ].join('\n');
  const f80 = fitSlabinfo(text, 80, ['session']);
  assert.ok(f80.text.split('\n').every((l) => l.length <= 80), f80.text);
  assert.equal(f80.omitted, 1, 'the empty kmalloc-64');
  assert.match(f80.text, /^# name +active_objs num_objs objsize num_slabs/m);
  assert.match(f80.text, /^session +20323 +21675 +80 +425/m);
  const f200 = fitSlabinfo(text, 200);
  assert.deepEqual(f200.droppedColumns, []);
  assert.match(f200.text, /active_slabs$/m);
});

/** A terminal stand-in for runDemo: what is written goes into a headless xterm. */
function headlessTty(cols: number, rows: number): { out: NodeJS.WriteStream; flush: () => Promise<void>; lines: () => { text: string; wrapped: boolean }[] } {
  const term = new xterm.Terminal({ cols, rows, scrollback: 5000, allowProposedApi: true, convertEol: true });
  const out = {
    isTTY: true, columns: cols, rows,
    write(s: string | Uint8Array): boolean {
      term.write(s);
      return true;
    },
    on() { return out; }, once() { return out; }, off() { return out; }, removeListener() { return out; },
  } as unknown as NodeJS.WriteStream;
  return {
    out,
    flush: () => new Promise<void>((resolve) => term.write('', resolve)),
    lines: () => {
      const b = term.buffer.active;
      const all: { text: string; wrapped: boolean }[] = [];
      for (let i = 0; i < b.length; i++) {
        const l = b.getLine(i)!;
        all.push({ text: l.translateToString(true), wrapped: l.isWrapped });
      }
      return all;
    },
  };
}

test('the demo on an 80x24 terminal: the live frame is redrawn in place (one title, no stale copies), no line wraps', { timeout: 60_000 }, async () => {
  const tty = headlessTty(80, 24);
  const s = await runDemo({ workers: 2, duration: 1.5, sessions: 4000, out: tty.out });
  await tty.flush();
  assert.equal(s.badReads, 0);
  const lines = tty.lines();
  const titles = lines.filter((l) => /^slabrcu demo {2}\d/.test(l.text));
  assert.equal(titles.length, 1, 'one live frame left on screen and in the scrollback');
  assert.equal(lines.filter((l) => /^total: .* reads\/s/.test(l.text)).length, 1);
  assert.deepEqual(lines.filter((l) => l.wrapped).map((l) => l.text), [], 'no line was wider than the terminal');
  assert.ok(lines.some((l) => /^== module unload ==$/.test(l.text)));
  assert.ok(lines.some((l) => /^# name +active_objs/.test(l.text)), 'slabinfo in the columns that fit');
});

function demoOut(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'demo', ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('demo --leak: each leaked object and its trace once, trimmed, pointing at the writer that never freed it', { timeout: 60_000 }, async () => {
  const r = await demoOut(['--duration', '1', '--workers', '2', '--leak']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.ok(!out.includes('\x1b'), 'no colour escapes on a pipe');
  assert.equal((out.match(/^WARNING: kmem_cache_destroy session: Slab cache still has objects$/gm) ?? []).length, 1);
  const objs = [...out.matchAll(/^ {2}Object (0x[0-9a-f]+) allocated in (\S+) \(([^)]+)\):$/gm)];
  assert.equal(objs.length, 3, out);
  for (const [, ptr, fn, where] of objs) {
    assert.equal(out.split(ptr!).length - 1, 1, `${ptr} printed once`);
    assert.equal(fn, 'writeBatch', 'allocated by the writer, not by the initial fill');
    assert.match(where!, /demo[\\/]worker\.(js|ts):\d+:\d+$/);
  }
  assert.doesNotMatch(out, /commander|node_modules|node:internal|processTicksAndRejections|cli[\\/]main\.js/);
  assert.doesNotMatch(out, /runDemo \(/, 'the fill in main is not blamed');
  assert.doesNotMatch(out, /where the leaked objects were allocated/, 'no second copy of the traces');
});

test('trimTrace and leakReport: library and CLI frames dropped, file URLs shortened', () => {
  const cwd = '/home/u/proj';
  const trace = [
    'Allocated in writeBatch (file:///home/u/proj/dist/src/demo/worker.js:69:37) age=12 cpu=1 pid=0',
    'writeBatch (file:///home/u/proj/dist/src/demo/worker.js:69:37)',
    'Cache.alloc (file:///home/u/proj/dist/src/slab/cache.js:100:5)',
    'Command.<anonymous> (file:///home/u/proj/dist/src/cli/main.js:44:31)',
    'Command.listener [as _actionHandler] (/home/u/proj/node_modules/commander/lib/command.js:568:17)',
    'file:///home/u/proj/dist/src/cli/main.js:74:22',
    'process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    'file:///home/u/proj/dist/src/demo/worker.js:98:9',
  ].join('\n');
  assert.deepEqual(trimTrace(trace, cwd), ['writeBatch (dist/src/demo/worker.js:69:37)', 'dist/src/demo/worker.js:98:9']);
  const text = leakReport({
    name: 'session', status: 'leaked', deferred: true, leaked: 1, objects: [{ ptr: 0x1234, allocTrace: trace }],
    warning: 'kmem_cache_destroy session: Slab cache still has objects',
    report: '=====\nBUG session (Not tainted): Objects remaining in session on __kmem_cache_shutdown()\n-----\n\nObject 0x1234 @offset=52\n  ' + trace + '\n',
  }, cwd);
  assert.equal(text.split('0x1234').length - 1, 1);
  assert.match(text, /^ {2}Object 0x1234 allocated in writeBatch \(dist\/src\/demo\/worker\.js:69:37\):$/m);
  assert.match(text, /^BUG session \(Not tainted\): Objects remaining in session/m);
});

test('every field of the --json summary is documented (demo --help and the README)', async () => {
  const r = await demoOut(['--duration', '0.5', '--workers', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as DemoSummary;
  const documented = DEMO_JSON_FIELDS.flatMap(([f]) => f.split(', '));
  const has = (path: string): boolean => documented.some((d) => d === path || d.startsWith(path + '.') || d.startsWith(path + '[]'));
  for (const k of Object.keys(s)) assert.ok(has(k), `summary field ${k} documented`);
  for (const k of Object.keys(s.unload)) assert.ok(has(`unload.${k}`), `unload.${k} documented`);
  for (const k of Object.keys(s.workers[0]!)) assert.ok(documented.some((d) => d === `workers[].${k}`) || DEMO_JSON_FIELDS.some(([f, m]) => f === 'workers[]' && m.includes(k)), `workers[].${k} documented`);
  const readme = (await import('node:fs')).readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  for (const [f] of DEMO_JSON_FIELDS) assert.ok(readme.includes(`\`${f}\``), `README documents ${f}`);
});
