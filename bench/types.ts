/** One section of the benchmark report (bench/run.ts collects them into bench/results.md). */
export type BenchSection = {
  title: string;
  rows: { name: string; value: number; unit: string; baseline?: string; ratio?: number }[];
  notes?: string[];
};
