// The rooms' walls (issue 15): the subsystems see the Arena only through their host
// interfaces, and the import graph has no cycle through src/arena.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = path.join(ROOT, 'src');

/**
 * Worker entry files and top-level users of the public API under src/rcu/ that may import
 * the Arena: each runs (or starts) a thread that attaches to an arena, as any user's worker
 * does, and nothing under src/ imports them except through a `new URL()` worker path or
 * the package's public entry (src/node.ts).
 */
const RCU_ENTRY_FILES = new Set([
  'src/rcu/worker-main.ts', // the RCU worker thread's entry (startRcuWorker)
  'src/rcu/torture-worker.ts', // rcutorture's worker thread entry
  'src/rcu/torture.ts', // runTorture: creates an arena, the `slabrcu torture` command's body
  'src/rcu/node.ts', // startRcuWorker(arena): the `slabrcu/node` public entry
]);

// Nothing is excluded any more (src/kfree/ has its host interface, kfree/host.ts); kept as
// the one place to name a file that may not yet hold to the walls.
const EXCLUDED = (_f: string): boolean => false;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative module specifiers of every import / export-from (type-only ones included). */
function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(m[1]!);
  // Dynamic imports and import('...') types name a module too.
  const dyn = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (let m = dyn.exec(text); m !== null; m = dyn.exec(text)) out.push(m[1]!);
  return out.filter((s) => s.startsWith('.'));
}

/** The import graph of src/: repo-relative file -> repo-relative files it imports. */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const abs of sourceFiles(SRC)) {
    const rel = path.relative(ROOT, abs).split(path.sep).join('/');
    const deps = importsOf(fs.readFileSync(abs, 'utf8')).map((spec) => {
      const target = path.resolve(path.dirname(abs), spec.replace(/\.js$/, '.ts'));
      return path.relative(ROOT, target).split(path.sep).join('/');
    });
    g.set(rel, deps);
  }
  return g;
}

const isArena = (f: string): boolean => f === 'src/arena.ts' || f.startsWith('src/arena/');

test('the parser sees the imports (sanity)', () => {
  const g = graph();
  assert.ok(g.size > 60, `src/ has ${g.size} files`);
  assert.ok(g.get('src/arena.ts')!.includes('src/slab/registry.ts'), 'arena.ts imports slab/registry.ts');
  assert.ok(g.get('src/slab/cache.ts')!.includes('src/slab/host.ts'), 'slab/cache.ts imports its host (import type)');
  for (const [f, deps] of g) for (const d of deps) assert.ok(g.has(d), `${f} imports ${d}, which exists`);
});

test('no file under src/slab, src/debug, src/kfree, src/rcu (but its worker entries), src/report.ts imports the Arena', () => {
  const g = graph();
  const bad: string[] = [];
  for (const [f, deps] of g) {
    const walled = f.startsWith('src/slab/') || f.startsWith('src/debug/') || f.startsWith('src/rcu/') || f.startsWith('src/kfree/') || f === 'src/report.ts';
    if (!walled || RCU_ENTRY_FILES.has(f) || EXCLUDED(f)) continue;
    for (const d of deps) if (isArena(d)) bad.push(`${f} -> ${d}`);
  }
  assert.deepEqual(bad, []);
});

test('the import graph has no cycle through src/arena.ts', () => {
  const g = graph();
  // A cycle through arena.ts is a path from one of its imports back to it.
  const start = 'src/arena.ts';
  const seen = new Set<string>();
  const parent = new Map<string, string>();
  const stack = (g.get(start) ?? []).filter((d) => !EXCLUDED(d));
  for (const d of stack) parent.set(d, start);
  let found: string | undefined;
  while (stack.length && found === undefined) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const d of g.get(f) ?? []) {
      if (EXCLUDED(d)) continue;
      if (d === start) {
        found = f;
        break;
      }
      if (!seen.has(d)) {
        if (!parent.has(d)) parent.set(d, f);
        stack.push(d);
      }
    }
  }
  if (found !== undefined) {
    const chain = [start];
    for (let f: string | undefined = found; f !== undefined && f !== start; f = parent.get(f)) chain.splice(1, 0, f);
    assert.fail(`cycle: ${[...chain, start].join(' -> ')}`);
  }
});
