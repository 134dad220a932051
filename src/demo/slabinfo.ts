/** Reading /proc/slabinfo text (version 2.1) back into rows, for the live view and the JSON summary. */

export interface SlabinfoRow {
  name: string;
  activeObjs: number;
  numObjs: number;
  objSize: number;
  objPerSlab: number;
  pagesPerSlab: number;
  activeSlabs: number;
  numSlabs: number;
}

export function parseSlabinfo(text: string): SlabinfoRow[] {
  const rows: SlabinfoRow[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('slabinfo') || line.startsWith('#') || line.trim() === '') continue;
    const [head, , slabdata] = line.split(' : ');
    const f = head!.trim().split(/\s+/);
    const s = (slabdata ?? '').trim().split(/\s+/);
    if (f.length < 6) continue;
    rows.push({
      name: f[0]!,
      activeObjs: Number(f[1]),
      numObjs: Number(f[2]),
      objSize: Number(f[3]),
      objPerSlab: Number(f[4]),
      pagesPerSlab: Number(f[5]),
      activeSlabs: Number(s[1]),
      numSlabs: Number(s[2]),
    });
  }
  return rows;
}

/**
 * The slabinfo text without the caches that hold nothing (the many empty kmalloc
 * caches), keeping both header lines and every cache named in `keep`.
 */
export function compactSlabinfo(text: string, keep: readonly string[] = []): { text: string; omitted: number } {
  let omitted = 0;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('slabinfo') || line.startsWith('#')) { out.push(line); continue; }
    if (line.trim() === '') continue;
    const [name, , total] = line.trim().split(/\s+/);
    if (Number(total) === 0 && !keep.includes(name!)) omitted++;
    else out.push(line);
  }
  return { text: out.join('\n'), omitted };
}

/** slabinfo columns, most wanted first: fitSlabinfo drops them from the end of this list. */
const SLABINFO_COLS: readonly (readonly [head: string, get: (r: SlabinfoRow) => number])[] = [
  ['active_objs', (r) => r.activeObjs],
  ['num_objs', (r) => r.numObjs],
  ['objsize', (r) => r.objSize],
  ['num_slabs', (r) => r.numSlabs],
  ['objperslab', (r) => r.objPerSlab],
  ['pagesperslab', (r) => r.pagesPerSlab],
  ['active_slabs', (r) => r.activeSlabs],
];

/**
 * The slabinfo text for a terminal of `width` columns: the caches that hold something
 * (and those in `keep`), with as many columns as fit (name first; then active_objs,
 * num_objs, objsize, num_slabs, objperslab, pagesperslab, active_slabs, dropped from
 * the end). The full /proc/slabinfo text stays in the --json summary.
 */
export function fitSlabinfo(text: string, width: number, keep: readonly string[] = []): { text: string; omitted: number; droppedColumns: string[] } {
  const all = parseSlabinfo(text);
  const rows = all.filter((r) => r.numObjs > 0 || keep.includes(r.name));
  const omitted = all.length - rows.length;
  const nameW = Math.min(24, Math.max(4, ...rows.map((r) => r.name.length)));
  let cols = SLABINFO_COLS.slice();
  const render = (): string[] => {
    const widths = cols.map(([h, get]) => Math.max(h.length, ...rows.map((r) => String(get(r)).length)));
    const head = ['# name'.padEnd(nameW), ...cols.map(([h], i) => h.padStart(widths[i]!))].join(' ');
    const body = rows.map((r) => {
      const name = r.name.length > nameW ? r.name.slice(0, nameW - 1) + '…' : r.name.padEnd(nameW);
      return [name, ...cols.map(([, get], i) => String(get(r)).padStart(widths[i]!))].join(' ');
    });
    return [head, ...body];
  };
  let lines = render();
  while (cols.length > 1 && lines.some((l) => l.length > width)) {
    cols = cols.slice(0, -1);
    lines = render();
  }
  const dropped = SLABINFO_COLS.slice(cols.length).map(([h]) => h);
  return { text: lines.map((l) => (l.length > width ? l.slice(0, width - 1) + '…' : l)).join('\n'), omitted, droppedColumns: dropped };
}
