/**
 * Cost of SLUB debugging on alloc+free (issue 6): each slab_debug letter alone, all of
 * them, and the quarantine, against the same cache without debugging.
 *
 * One sample = 64 allocations then 64 frees of a 64-byte cache in one thread (a batch,
 * so the freelist is walked as in real use, not one object bounced back and forth).
 * Reported per alloc+free pair. Measured with mitata's `measure` (warmup, many samples,
 * we report the mean).
 */
import { measure } from 'mitata/src/lib.mjs';
import { Arena } from '../src/index.js';
import { quarantineFlush } from '../src/debug/index.js';
import type { BenchSection } from './types.js';

const BATCH = 64;

interface Config {
  name: string;
  debug?: string;
  quarantineBytes?: number;
}

const CONFIGS: Config[] = [
  { name: 'no debug' },
  { name: 'F (consistency checks)', debug: 'F' },
  { name: 'Z (red zones)', debug: 'Z' },
  { name: 'P (poison)', debug: 'P' },
  { name: 'U (alloc/free tracks + stack depot)', debug: 'U' },
  { name: 'FZPU (slab_debug default)', debug: 'FZPU' },
  { name: 'quarantine 1 MiB, no debug', quarantineBytes: 1 << 20 },
  { name: 'FZPU + quarantine 1 MiB', debug: 'FZPU', quarantineBytes: 1 << 20 },
];

async function nsPerPair(cfg: Config): Promise<number> {
  const a = Arena.create({
    bytes: 32 << 20,
    ...(cfg.debug !== undefined ? { debug: cfg.debug } : {}),
    ...(cfg.quarantineBytes !== undefined ? { quarantineBytes: cfg.quarantineBytes } : {}),
  });
  const c = a.createCache('bench-debug', { size: 64 });
  const ptrs = new Int32Array(BATCH);
  const step = (): void => {
    for (let k = 0; k < BATCH; k++) ptrs[k] = c.alloc();
    for (let k = 0; k < BATCH; k++) c.free(ptrs[k]!);
  };
  const s = await measure(step, { min_cpu_time: 300e6 });
  quarantineFlush(a);
  const errors = c.validate().errors;
  if (errors !== 0) throw new Error(`bench-debug: validate found ${errors} errors under ${cfg.name}`);
  a.detach();
  return s.avg / BATCH;
}

/** The platform's floor for U: one V8 stack capture (`new Error().stack`), per alloc+free pair (two captures). */
async function stackCaptureFloor(): Promise<number> {
  const s = await measure(() => new Error().stack, { min_cpu_time: 200e6 });
  return 2 * s.avg;
}

export async function benchDebug(): Promise<BenchSection> {
  const rows: BenchSection['rows'] = [];
  let base = 0;
  for (const cfg of CONFIGS) {
    const v = await nsPerPair(cfg);
    if (cfg.debug === undefined && cfg.quarantineBytes === undefined) {
      base = v;
      rows.push({ name: `alloc+free 64 B, ${cfg.name}`, value: v, unit: 'ns' });
    } else {
      rows.push({ name: `alloc+free 64 B, ${cfg.name}`, value: v, unit: 'ns', baseline: 'no debug', ratio: v / base });
    }
  }
  const floor = await stackCaptureFloor();
  rows.push({ name: 'platform floor for U: 2 x `new Error().stack`', value: floor, unit: 'ns', baseline: 'no debug', ratio: floor / base });
  return {
    title: 'SLUB debug: cost per alloc+free',
    rows,
    notes: [
      'One thread, batches of 64 allocations then 64 frees; mean of mitata samples.',
      'Any debug letter takes the cache off the lockless cpu-slab fast path (kernel: debug caches use alloc_single_from_partial / free_to_partial_list under list_lock).',
      'U captures the stack on every alloc and free (V8 CallSites, keyed by file:line:column; the text is formatted and stored in the shared stack depot only the first time a stack is seen). Its cost is V8\'s stack capture: compare with the platform-floor row.',
      'The quarantine sends every free through one global lock and poisons the object; with FZPU the checks run at free time, and again (use-after-free check) when the object leaves.',
    ],
  };
}

// `node dist/bench/debug.js` prints the section as a markdown table.
if (import.meta.url === `file://${process.argv[1]}`) {
  const sec = await benchDebug();
  console.log(`## ${sec.title}\n\n| case | ns | ratio |\n|---|---:|---:|`);
  for (const r of sec.rows) console.log(`| ${r.name} | ${r.value.toFixed(1)} | ${r.ratio === undefined ? '1.00' : r.ratio.toFixed(2)}× |`);
  for (const n of sec.notes ?? []) console.log(`\n- ${n}`);
}
