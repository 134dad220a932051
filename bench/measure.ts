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
  const rounds = await compareRounds(contenders, o);
  return new Map([...rounds].map(([k, v]) => [k, median(v)]));
}

/** Every round's median ns per operation of each contender, keyed by name (for the spread). */
export async function compareRounds(contenders: readonly Contender[], o: MeasureOptions): Promise<Map<string, number[]>> {
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
  return perRound;
}

/** "min–max" of a set of round figures, as a text cell. */
export function spread(xs: readonly number[], digits = 3): string {
  if (xs.length < 2) return '';
  const f = (x: number): string => Number(x.toPrecision(digits)).toString();
  return `${f(Math.min(...xs))}–${f(Math.max(...xs))} (${xs.length} rounds)`;
}

let loopSerial = 0;

/**
 * A function of its own, for a timed loop: built with `new Function` from a source that is
 * unique (the label and a serial number in a comment). Closures of one source site share
 * V8's type feedback and optimized code, and `new Function` is cached by source text, so
 * contenders written as closures of one helper (or with equal text) pollute each other
 * (measured: a sheaf loop at 10 ns after a cpu-slab loop had run, 4 ns on its own) and
 * lose the context specialisation a user's own loop gets. `env` becomes `const` bindings
 * of the outer function (immutable context slots TurboFan folds into the loop, typed-array
 * bases included, as it does for a user's own `const`s); `prelude` runs once (state kept
 * in closure variables); `fnSource` is the function expression returned. Every contender
 * of every section, baselines included, is built this way.
 */
export function ownFunction<F>(label: string, env: Record<string, unknown>, prelude: string, fnSource: string): F {
  const keys = Object.keys(env);
  const src = `"use strict"; /* ${label.replace(/\*\//g, '')} #${++loopSerial} */
${keys.length ? `const ${keys.map((k, i) => `${k} = a${i}`).join(', ')};` : ''}
${prelude}
return ${fnSource};`;
  return new Function(...keys.map((_, i) => `a${i}`), src)(...keys.map((k) => env[k])) as F;
}
