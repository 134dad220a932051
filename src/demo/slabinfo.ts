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
