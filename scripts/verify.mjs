#!/usr/bin/env node
// npm run verify: model-check the Promela models in formal/ with spin.
//
// For every model and variant below: spin -a (with the variant's -D macros), gcc pan.c,
// run pan (safety: assertions + invalid end states; liveness: -a -f with the model's ltl
// claim), parse states stored, depth reached, errors, seconds, and print a table. Exits
// non-zero if a correct model is rejected, a broken variant accepted, a search is
// incomplete, or spin/gcc is missing.
//
// Options: --only <substring> (run matching rows), --trail (print the end of the replayed
// error trail of each rejected run), --jobs <n> (parallel runs, default 2).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const formal = join(root, 'formal');

// expect: 'pass' (spin must find no error) or 'fail' (spin must find one).
// mode: 'safety' (assertions, invalid end states) or 'live' (ltl claim, -a -f); pan: extra pan flags.
// bound: what the run covers (exhaustive over the stated configuration); states: expected
// size, to size pan's hash table.
const RUNS = [
  // memb grace periods
  { model: 'memb', variant: 'correct', defs: [], states: 3e6, expect: 'pass', mode: 'safety', bound: '2 readers x 2 sections, 3 GPs' },
  { model: 'memb', variant: 'correct', defs: ['-DNGP=2'], expect: 'pass', mode: 'live', ltl: 'gp_ends', bound: '2 readers x 2 sections, 2 GPs, weak fairness' },
  { model: 'memb', variant: 'MEMB_NO_MB', defs: ['-DMEMB_NO_MB'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'memb', variant: 'MEMB_ONE_PHASE', defs: ['-DMEMB_ONE_PHASE'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'memb', variant: 'MEMB_NO_NAP', defs: ['-DMEMB_NO_NAP'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'memb', variant: 'MEMB_NO_NAP', defs: ['-DMEMB_NO_NAP', '-DNGP=2'], expect: 'fail', mode: 'live', ltl: 'gp_ends', bound: 'as correct (live)' },
  { model: 'memb', variant: 'MEMB_NO_RESCAN', defs: ['-DMEMB_NO_RESCAN'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  // qsbr grace periods
  { model: 'qsbr', variant: 'correct', defs: ['-DNGP=3'], expect: 'pass', mode: 'safety', bound: '2 readers x 4 actions (read/QS/offline/online) + detach, 3 GPs' },
  { model: 'qsbr', variant: 'correct', defs: ['-DNACT=3'], expect: 'pass', mode: 'live', ltl: 'gp_ends', bound: '2 readers x 3 actions + detach, 2 GPs, weak fairness' },
  { model: 'qsbr', variant: 'QSBR_NO_MB', defs: ['-DQSBR_NO_MB'], expect: 'fail', mode: 'safety', bound: '2 readers x 4 actions, 2 GPs' },
  { model: 'qsbr', variant: 'QSBR_NO_MB (-E)', defs: ['-DQSBR_NO_MB'], pan: ['-E'], expect: 'fail', mode: 'safety', bound: 'as above, end states ignored: the use-after-free' },
  { model: 'qsbr', variant: 'QSBR_NO_WAKE', defs: ['-DQSBR_NO_WAKE'], expect: 'fail', mode: 'safety', bound: '2 readers x 4 actions, 2 GPs' },
  // the mutex with the owner token, and breaking a dead holder's lock
  { model: 'mutex', variant: 'correct', defs: [], expect: 'pass', mode: 'safety', bound: '2 workers x 2 sections + a victim killed anywhere in its section' },
  { model: 'mutex', variant: 'GPMUTEX', defs: ['-DGPMUTEX'], expect: 'pass', mode: 'safety', bound: 'as correct; next holder repairs' },
  { model: 'mutex', variant: 'MUTEX_NO_REPAIR', defs: ['-DMUTEX_NO_REPAIR'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'mutex', variant: 'MUTEX_REPAIR_AFTER', defs: ['-DMUTEX_REPAIR_AFTER'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'mutex', variant: 'MUTEX_LEASE', defs: ['-DMUTEX_LEASE'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'mutex', variant: 'CODE_SINGLE_CAS (finding)', defs: ['-DCODE_SINGLE_CAS'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  // kfreeRcu batching, barrier, rcu_head chain, adoption
  { model: 'kfree', variant: 'correct', defs: [], states: 3e7, expect: 'pass', mode: 'safety', bound: 'A: 2 objects, B: 1 (killable), blocks of 2, 2 pages + chain, barrier from C, final barrier' },
  { model: 'kfree', variant: 'BLOCK_STALE_COOKIE', defs: ['-DBLOCK_STALE_COOKIE'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'kfree', variant: 'CHAIN_STALE_COOKIE', defs: ['-DCHAIN_STALE_COOKIE'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'kfree', variant: 'DRAIN_NO_POLL', defs: ['-DDRAIN_NO_POLL'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'kfree', variant: 'BARRIER_NO_SYNC', defs: ['-DBARRIER_NO_SYNC'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'kfree', variant: 'ADOPT_NO_OWNER_CHECK', defs: ['-DADOPT_NO_OWNER_CHECK'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'kfree', variant: 'CODE_CHAIN_BARRIER (finding 1, fixed 61bbb44)', defs: ['-DCODE_CHAIN_BARRIER'], states: 1e7, expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'kfree', variant: 'CODE_ADOPT_CLEAR_FIRST (finding 2, fixed 61bbb44)', defs: ['-DCODE_ADOPT_CLEAR_FIRST'], states: 1e7, expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'kfree', variant: 'CODE_BARRIER_ADOPTS (finding 3, fixed 61bbb44)', defs: ['-DCODE_BARRIER_ADOPTS'], states: 1e7, expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'kfree', variant: 'CODE_RELEASE_FIRST (finding 4, fixed 61bbb44)', defs: ['-DCODE_RELEASE_FIRST'], states: 1e7, expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'kfree', variant: 'CODE_CHAIN_LOCAL (finding 5, fixed 61bbb44)', defs: ['-DCODE_CHAIN_LOCAL'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  // the seed's asynchronous destroy
  { model: 'destroy', variant: 'correct', defs: [], expect: 'pass', mode: 'safety', bound: "T kfreeRcu'd obj 1 before destroy, holds the slab in its cpu record, drains, may die" },
  { model: 'destroy', variant: 'LEAK', defs: ['-DLEAK'], expect: 'pass', mode: 'safety', bound: 'as correct + obj 2 never freed' },
  { model: 'destroy', variant: 'DESTROY_RELEASE_BEFORE_BARRIER', defs: ['-DDESTROY_RELEASE_BEFORE_BARRIER'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'destroy', variant: 'DESTROY_NO_FLUSH_WAIT', defs: ['-DDESTROY_NO_FLUSH_WAIT'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'destroy', variant: 'CODE_COUNT_FIRST (finding 6, fixed 61bbb44)', defs: ['-DCODE_COUNT_FIRST'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  { model: 'destroy', variant: 'CODE_NO_FLUSH_ACK (finding 9: an empty record taken as flushed)', defs: ['-DCODE_NO_FLUSH_ACK'], expect: 'fail', mode: 'safety', bound: 'as correct' },
  // the sheaves/barn core: hand-offs, a thread killed at any step, C_LOCK takeover + rebuild
  { model: 'sheaves', variant: 'correct (cold)', defs: [], states: 5e6, expect: 'pass', mode: 'safety', bound: 'V (killable) x 3 ops, B x 3 ops, detacher; 3 objects, 3 sheaves of 1, barn 1+1; all free at start' },
  { model: 'sheaves', variant: 'correct (WARM+BARNFULL)', defs: ['-DWARM', '-DBARNFULL', '-DNOBJ=4', '-DNSH=4', '-DVOPS=3', '-DBOPS=2'], states: 3e6, expect: 'pass', mode: 'safety', bound: 'as WARM+BARNFULL, 4 objects, 4 sheaves, barn full list full ([4])' },
  { model: 'sheaves', variant: 'correct (FLUSHMAIN)', defs: ['-DFLUSHMAIN', '-DCAP=2', '-DBATCH=1', '-DNSH=1'], states: 2e6, expect: 'pass', mode: 'safety', bound: 'V x 3, B x 3; sheaves of 2, 1 sheaf, batch 1: V main [1,2], holding 3' },
  { model: 'sheaves', variant: 'correct (RECLAIM, fixed)', defs: ['-DWARM', '-DRECLAIM', '-DNOBJ=4', '-DNSH=4', '-DVOPS=3', '-DBOPS=2'], states: 5e6, expect: 'pass', mode: 'safety', bound: 'as WARM+BARNFULL, 4 objects, 4 sheaves, B has object 4 pending in kfree_rcu' },
  { model: 'sheaves', variant: 'ATTACH_TOP_FIRST+NO_TORN_CHECK', defs: ['-DWARM', '-DBARNFULL', '-DNOBJ=4', '-DNSH=4', '-DVOPS=3', '-DBOPS=2', '-DATTACH_TOP_FIRST', '-DNO_TORN_CHECK'], expect: 'fail', mode: 'safety', bound: 'as WARM+BARNFULL' },
  { model: 'sheaves', variant: 'BARN_PUT_FIRST', defs: ['-DWARM', '-DBARNFULL', '-DNOBJ=4', '-DNSH=4', '-DVOPS=3', '-DBOPS=2', '-DBARN_PUT_FIRST'], states: 3e6, expect: 'fail', mode: 'safety', bound: 'as WARM+BARNFULL' },
  { model: 'sheaves', variant: 'SWAP_SPARE_FIRST', defs: ['-DWARM', '-DBARNFULL', '-DNOBJ=4', '-DNSH=4', '-DVOPS=3', '-DBOPS=2', '-DSWAP_SPARE_FIRST'], expect: 'fail', mode: 'safety', bound: 'as WARM+BARNFULL' },
  { model: 'sheaves', variant: 'FLUSH_NO_STATE_CHECK', defs: ['-DFLUSHMAIN', '-DCAP=2', '-DBATCH=1', '-DNSH=1', '-DFLUSH_NO_STATE_CHECK'], expect: 'fail', mode: 'safety', bound: 'as FLUSHMAIN' },
  { model: 'sheaves', variant: 'REPAIR_CACHED_FREE', defs: ['-DREPAIR_CACHED_FREE'], expect: 'fail', mode: 'safety', bound: 'as cold' },
  { model: 'sheaves', variant: 'NO_REPAIR', defs: ['-DNO_REPAIR'], expect: 'fail', mode: 'safety', bound: 'as cold' },
  { model: 'sheaves', variant: 'CODE_RECLAIM_MAIN (finding 8, fixed)', defs: ['-DWARM', '-DRECLAIM', '-DNOBJ=4', '-DNSH=4', '-DVOPS=3', '-DBOPS=2', '-DCODE_RECLAIM_MAIN'], expect: 'fail', mode: 'safety', bound: 'as RECLAIM' },
  { model: 'sheaves', variant: 'CODE_RECLAIM_MAIN, leak (finding 8, fixed)', defs: ['-DWARM', '-DRECLAIM', '-DNOBJ=4', '-DNSH=4', '-DVOPS=3', '-DBOPS=2', '-DCODE_RECLAIM_MAIN', '-DALLOW_FALSE_OOM'], states: 3e6, expect: 'fail', mode: 'safety', bound: 'as RECLAIM, false OOM not checked' },
];

function arg(name) {
  const k = process.argv.indexOf(name);
  return k >= 0 ? process.argv[k + 1] : undefined;
}
const only = arg('--only');
const showTrail = process.argv.includes('--trail');
const jobs = Math.max(1, Number(arg('--jobs') ?? 2));

function have(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!have('spin', ['-V'])) {
  console.error('verify: spin is not installed (the Promela model checker).');
  console.error('  Debian/Ubuntu: apt-get install -y spin     (or: apt-get update && apt-get install -y spin)');
  console.error('  elsewhere: https://spinroot.com/spin/Man/README.html');
  process.exit(2);
}
if (!have('gcc', ['--version'])) {
  console.error('verify: gcc is not installed (spin compiles its verifier pan.c with it).');
  process.exit(2);
}

function run(cmd, args, cwd) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code, out }));
  });
}

async function check(r) {
  const dir = mkdtempSync(join(tmpdir(), `verify-${r.model}-`));
  const t0 = performance.now();
  try {
    cpSync(join(formal, `${r.model}.pml`), join(dir, `${r.model}.pml`));
    const gen = await run('spin', ['-a', ...r.defs, `${r.model}.pml`], dir);
    if (gen.code !== 0) return { ...r, result: 'ERROR', note: `spin -a: ${gen.out.trim().split('\n').slice(-3).join(' / ')}` };
    const cflags = ['-O2', '-w', '-o', 'pan', 'pan.c'];
    cflags.unshift('-DCOLLAPSE');
    if (r.mode === 'safety') cflags.unshift('-DSAFETY', '-DNOCLAIM');
    else cflags.unshift('-DNFAIR=3');
    const cc = await run('gcc', cflags, dir);
    if (cc.code !== 0) return { ...r, result: 'ERROR', note: `gcc: ${cc.out.trim().split('\n').slice(-3).join(' / ')}` };
    const pargs = ['-m200000', r.states > 5e6 ? '-w25' : '-w21'];
    if (r.mode === 'live') pargs.push('-a', '-f', '-N', r.ltl);
    if (r.pan) pargs.push(...r.pan);
    const pan = await run('./pan', pargs, dir);
    const out = pan.out;
    const num = (re) => {
      const m = out.match(re);
      return m ? Number(m[1]) : NaN;
    };
    const states = num(/([\d.e+]+) states, stored/);
    const depth = num(/depth reached (\d+)/);
    const errors = num(/errors: (\d+)/);
    const incomplete = /max search depth too small|Search not completed|out of memory/.test(out);
    const what = (out.match(/pan:\d+: ([^\n]*?)(?: \(at depth \d+\))?\n/) || [])[1];
    let result;
    if (Number.isNaN(errors)) result = 'ERROR';
    else if (errors > 0) result = 'rejected';
    else if (incomplete) result = 'incomplete';
    else result = 'accepted';
    let trail = '';
    if (errors > 0 && showTrail) {
      const t = await run('spin', ['-t', '-p', '-k', `${r.model}.pml.trail`, ...r.defs, `${r.model}.pml`], dir);
      trail = t.out.trim().split('\n').slice(-40).join('\n');
    }
    return { ...r, states, depth, errors, result, what: what ?? '', trail, secs: (performance.now() - t0) / 1000, raw: result === 'ERROR' ? out : '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const todo = RUNS.filter((r) => !only || `${r.model} ${r.variant}`.includes(only));
for (const r of todo) if (!existsSync(join(formal, `${r.model}.pml`))) throw new Error(`verify: formal/${r.model}.pml is missing`);
const results = new Array(todo.length);
let next = 0;
const tStart = performance.now();
await Promise.all(
  Array.from({ length: Math.min(jobs, todo.length) }, async () => {
    while (next < todo.length) {
      const k = next++;
      results[k] = await check(todo[k]);
      const x = results[k];
      process.stderr.write(`  ${x.model} ${x.variant} (${x.mode}): ${x.result} ${x.secs?.toFixed(1) ?? ''}s\n`);
    }
  }),
);

const ok = (x) => (x.expect === 'pass' ? x.result === 'accepted' : x.result === 'rejected');
const rows = results.map((x) => [
  x.model,
  x.variant,
  x.mode === 'live' ? `live (${x.ltl})` : 'safety',
  x.expect === 'pass' ? 'accept' : 'reject',
  Number.isFinite(x.states) ? String(x.states) : '-',
  Number.isFinite(x.depth) ? String(x.depth) : '-',
  x.result + (x.result === 'rejected' && x.what ? `: ${x.what}` : ''),
  x.secs.toFixed(1),
  ok(x) ? 'ok' : 'MISMATCH',
  x.bound,
]);
const head = ['model', 'variant', 'check', 'expected', 'states', 'depth', 'result', 'seconds', 'verdict', 'bound'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => '| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
console.log(line(head));
console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const r of rows) console.log(line(r));
console.log(`\n${results.length} runs, ${((performance.now() - tStart) / 1000).toFixed(1)} s wall, spin ${execFileSync('spin', ['-V']).toString().trim()}`);
for (const x of results) {
  if (x.trail) console.log(`\n--- trail: ${x.model} ${x.variant} (${x.mode}) ---\n${x.trail}`);
  if (x.raw) console.log(`\n--- pan output: ${x.model} ${x.variant} ---\n${x.raw}`);
}
const bad = results.filter((x) => !ok(x));
if (bad.length) {
  console.error(`\nverify: ${bad.length} run(s) did not give the expected result: ${bad.map((x) => `${x.model}/${x.variant}/${x.mode}`).join(', ')}`);
  process.exit(1);
}
