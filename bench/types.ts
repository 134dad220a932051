/** One section of the benchmark report (bench/results.md). */
export type BenchSection = {
  title: string;
  rows: { name: string; value: number; unit: string; baseline?: string; ratio?: number }[];
  notes?: string[];
};
