/**
 * The demo's leak report (--leak): the kernel's warning and BUG header once, then each
 * leaked object with the code that allocated it, one trace per object, printed once.
 *
 * Traces are trimmed to the frames a reader can act on: frames in node_modules
 * (commander), Node's own (node:internal, process.processTicksAndRejections), and
 * slabrcu's internals and CLI wrapper (dist/src/* other than the demo) are dropped;
 * file URLs under the working directory are shown as relative paths.
 */
import type { DestroyReport } from '../slab/destroy.js';

const DROP = [
  /node_modules[\\/]/,
  /\bnode:/,
  /^(?:async )?(?:new )?Promise(?:\.\w+)? \(<anonymous>\)$/,
  /^process\.processTicksAndRejections/,
  /[\\/](?:dist[\\/])?src[\\/](?!demo[\\/])[^)]*\.js:\d+:\d+\)?$/,
];

/** file:///abs/path -> path relative to cwd (when under it). */
function shortPath(frame: string, cwd: string): string {
  const prefix = `file://${cwd.replace(/\\/g, '/')}/`;
  return frame.split(prefix).join('').split(`${cwd}/`).join('');
}

/** The frames of an allocation track worth showing (its "Allocated in …" line aside). */
export function trimTrace(trace: string, cwd = process.cwd()): string[] {
  const frames = trace.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('Allocated in ') && !l.startsWith('Freed in '));
  const kept = frames.filter((f) => !DROP.some((re) => re.test(f)));
  // Never empty: if every frame was library code, keep the first one.
  return (kept.length ? kept : frames.slice(0, 1)).map((f) => shortPath(f, cwd));
}

/** "writeBatch (dist/src/demo/worker.js:78:31)" from the first line of a track. */
function allocatedIn(trace: string, cwd: string): string | undefined {
  const m = /^\s*Allocated in (.*?)(?: age=\S+)?(?: cpu=\S+)?(?: pid=\S+)?\s*$/m.exec(trace);
  return m ? shortPath(m[1]!, cwd) : undefined;
}

/** The whole --leak block for a leaked DestroyReport (empty string when nothing leaked). */
export function leakReport(rep: DestroyReport, cwd = process.cwd()): string {
  if (!rep.warning) return '';
  const out = [`WARNING: ${rep.warning}`];
  // The BUG banner of the kernel-style report, without its per-object lines (printed below, once).
  const header = (rep.report ?? '').split('\n');
  const firstObj = header.findIndex((l) => l.startsWith('Object '));
  const banner = firstObj >= 0 ? header.slice(0, firstObj) : header;
  while (banner.length && banner[banner.length - 1] === '') banner.pop();
  out.push(...banner);
  const traced = rep.objects.some((o) => o.allocTrace);
  out.push(`${rep.leaked} object(s) still allocated${traced ? ', each with the code that allocated it (SLAB_STORE_USER alloc track):' : ':'}`);
  for (const o of rep.objects) {
    if (!o.allocTrace) {
      out.push(`  Object 0x${o.ptr.toString(16)} (no allocation track)`);
      continue;
    }
    const at = allocatedIn(o.allocTrace, cwd);
    out.push(`  Object 0x${o.ptr.toString(16)} allocated${at ? ` in ${at}` : ''}:`);
    for (const f of trimTrace(o.allocTrace, cwd)) out.push(`      ${f}`);
  }
  if (rep.unflushedThreads?.length) out.push(`(cpu slabs of thread(s) ${rep.unflushedThreads.join(', ')} could not be flushed: their objects count as leaked)`);
  out.push('(the leaked objects keep their memory: a leak is never turned into a use-after-free)');
  return out.join('\n');
}
