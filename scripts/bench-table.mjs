// Prints the README's benchmark table: every row of bench/results.md that has a floor,
// with its section. Run: node scripts/bench-table.mjs [bench/results.md]
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2] ?? new URL('../bench/results.md', import.meta.url), 'utf8');
const out = ['| section | benchmark | median | baseline | ratio | floor |', '|---|---|---:|---|---:|---|'];
let section = '';
for (const line of text.split('\n')) {
  if (line.startsWith('## ')) section = line.slice(3).replace(/^Issue 12:.*/, 'Issue 12').replace(/^Slab allocator:.*/, 'Slab allocator').replace(/^RCU:.*/, 'RCU').replace(/^SLUB debug.*/, 'SLUB debug');
  if (!line.startsWith('| ') || line.startsWith('| benchmark') || line.startsWith('|---')) continue;
  // Cells split on '|' not preceded by a backslash (results.md escapes pipes in names).
  const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
  const [name, median, unit, baseline, ratio, floor] = cells;
  if (!floor) continue;
  out.push(`| ${section} | ${name} | ${median} ${unit} | ${baseline} | ${ratio} | ${floor} |`);
}
console.log(out.join('\n'));
