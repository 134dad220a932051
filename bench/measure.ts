/**
 * Measuring helpers shared by the benchmark sections.
 *
 * mitata does the sampling (warm-up, enough samples for a stable median); on top of it,
 * contenders are measured in interleaved rounds (A B C, A B C, ...) and the median of the
 * round medians is kept, so a noisy neighbour on a shared 2-core machine hurts every
 * contender alike instead of whichever happened to run during the noise.
 */
import { measure } from 'mitata';

/** A contender: `run(n)` performs n operations. */
export interface Contender {
  name: string;
  run: (n: number) => void;
  /** Called once before the first round (fill the live window, etc.). */
  setup?: () => void;
  /** Called once after the last round. */
  teardown?: () => void;
}

export interface MeasureOptions {
  /** Operations per timed call (large enough that GC pauses are part of the samples). */
  opsPerCall: number;
  rounds: number;
  /** mitata minimum CPU time per contender per round, in ms. */
  minMs: number;
  minSamples?: number;
  onRound?: (round: number) => void;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median ns per operation of each contender, keyed by name. */
export async function compare(contenders: readonly Contender[], o: MeasureOptions): Promise<Map<string, number>> {
  const perRound = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (const c of contenders) c.setup?.();
  try {
    for (let r = 0; r < o.rounds; r++) {
      for (const c of contenders) {
        const n = o.opsPerCall;
        const run = c.run;
        const stats = await measure(() => run(n), {
          min_cpu_time: o.minMs * 1e6,
          min_samples: o.minSamples ?? 5,
          warmup_samples: 1,
          batch_samples: 1, // every call is already a batch of opsPerCall operations
          // ...and never let mitata batch it: below batch_threshold (65 µs a call) it would
          // run batch_samples / batch_unroll = 0 calls per sample and time an empty loop.
          batch_threshold: 0,
        });
        perRound.get(c.name)!.push(stats.p50 / n);
      }
      o.onRound?.(r + 1);
    }
  } finally {
    for (const c of contenders) c.teardown?.();
  }
  return new Map([...perRound].map(([k, v]) => [k, median(v)]));
}
