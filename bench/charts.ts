/**
 * Hand-written SVG bar charts, one per section: horizontal bars of the rows that share the
 * section's main unit, on a log scale when the values span more than 20x (a 1000x ratio
 * would otherwise leave the fast bars invisible). Bars of slabrcu rows (rows with a
 * baseline) are drawn in one colour, the rest (baselines) in another.
 */
import type { BenchSection } from './types.js';
import { fmt, fmtRatio } from './report.js';

const W = 760;
const LABEL_W = 330;
const BAR_H = 22;
const GAP = 8;
const TOP = 44;
const RIGHT = 130;

const xmlEsc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The unit most rows use (charts only compare like with like). */
export function mainUnit(s: BenchSection): string | undefined {
  const n = new Map<string, number>();
  for (const r of s.rows) n.set(r.unit, (n.get(r.unit) ?? 0) + 1);
  let best: string | undefined;
  for (const [u, c] of n) if (best === undefined || c > n.get(best)!) best = u;
  return best;
}

/** SVG text, or undefined when the section has nothing chartable. */
export function sectionChart(s: BenchSection): string | undefined {
  const unit = mainUnit(s);
  const rows = s.rows.filter((r) => r.unit === unit && r.value > 0 && Number.isFinite(r.value));
  if (rows.length === 0) return undefined;
  const max = Math.max(...rows.map((r) => r.value));
  const min = Math.min(...rows.map((r) => r.value));
  const log = max / min > 20;
  const span = W - LABEL_W - RIGHT;
  const lo = log ? Math.log10(min) - 0.3 : 0;
  const hi = log ? Math.log10(max) : max;
  const len = (v: number): number => Math.max(2, ((log ? Math.log10(v) - lo : v) / (hi - lo)) * span);
  const H = TOP + rows.length * (BAR_H + GAP) + 16;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${xmlEsc(s.title)}</text>`,
    `<text x="10" y="36" fill="#555">${xmlEsc(unit ?? '')}${log ? ', log scale' : ''}; shorter is ${/\/s\b|ops\/s|×/.test(unit ?? '') ? 'worse' : 'better'}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = TOP + i * (BAR_H + GAP);
    const ours = r.baseline !== undefined;
    const w = len(r.value);
    const label = r.name.length > 52 ? `${r.name.slice(0, 50)}…` : r.name;
    out.push(
      `<text x="${LABEL_W - 8}" y="${y + BAR_H / 2 + 4}" text-anchor="end">${xmlEsc(label)}</text>`,
      `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${ours ? '#2b7bb9' : '#b0b0b0'}"/>`,
      `<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + BAR_H / 2 + 4}">${xmlEsc(fmt(r.value))}${r.ratio !== undefined ? ` (${xmlEsc(fmtRatio(r.ratio))})` : ''}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** A file name for a section's chart: bench/<slug>.svg. */
export function chartFileName(title: string): string {
  let slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  if (slug.length > 64) slug = slug.slice(0, slug.lastIndexOf('-', 64)); // whole words only
  return `${slug || 'section'}.svg`;
}
