/**
 * The shape every benchmark section returns; bench/run.ts gathers them into
 * bench/results.md and bench/*.svg.
 */

/** One measured figure. */
export interface BenchRow {
  /** What was measured, e.g. "alloc+free, 1k live: slabrcu". */
  name: string;
  /** Median of the samples (the machine is noisy: never the mean of a few runs). */
  value: number;
  /** Unit of value, e.g. "ns/op", "bytes/object", "ms". */
  unit: string;
  /** The name of what this row is compared against (another row, or a description). */
  baseline?: string;
  /**
   * How many times better this row is than its baseline (> 1: slabrcu wins).
   * For times: baseline time / this time; for memory: baseline bytes / these bytes.
   */
  ratio?: number;
  /** The issue's floor for ratio (e.g. 0.25, 5, 1000): the report marks it met or missed. */
  floor?: number;
  /** Spread of the rounds behind the median (e.g. "4.1–5.3 (7 rounds)"). */
  spread?: string;
  /** The figure before the change being measured, with where it comes from. */
  before?: string;
}

/** One section of the report (a table and, from its rows, a chart). */
export interface BenchSection {
  title: string;
  rows: BenchRow[];
  /** Free text under the table: method, caveats, what a missed floor means. */
  notes?: string[];
  /** Header of the rows' `before` column (default "before"). */
  beforeLabel?: string;
}

/** Passed to every section; a section may ignore it. */
export interface BenchOptions {
  /** Short runs (a few samples, small sizes): for smoke tests, not for figures. */
  quick: boolean;
  /** Reports progress inside a section (the CLI draws it as a progress bar). */
  progress?: (done: number, total: number, label: string) => void;
}

/** A section's entry point, e.g. `benchSlab`, `benchRcu`. */
export type BenchFn = (opts?: BenchOptions) => Promise<BenchSection>;
