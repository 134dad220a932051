/**
 * What each field of `slabrcu demo --json` means: shown by `slabrcu demo --help` and
 * copied in the README's CLI section (a test checks that every field the summary has
 * is listed here).
 */
export const DEMO_JSON_FIELDS: readonly (readonly [field: string, meaning: string])[] = [
  ['durationS', 'seconds of traffic (--duration)'],
  ['reads, updates', 'lookups and replacements done by all workers'],
  ['badReads', 'lookups that saw a freed, reused or half-built session: an RCU violation, must be 0 (exit code 1 otherwise)'],
  ['gracePeriods', 'RCU grace periods completed during the traffic'],
  ['workers[]', 'per worker: index, role (writer|reader), reads, updates, badReads, allocFailures, leaked'],
  ['workers[].allocFailures', 'times cache.alloc() returned 0 (no free object and no page left: the arena was full at that moment, ' +
    'and its growth up to maxBytes had not caught up); that update was skipped. 0 unless memory is short'],
  ['workers[].leaked', 'sessions this worker deliberately never freed (--leak: 3 for the first writer, else 0)'],
  ['unload.sessionsUnlinked', 'sessions removed from the table and passed to kfreeRcu at unload'],
  ['unload.kfreeRcuInFlight', 'objects of the cache still waiting in kfreeRcu batches when destroy() was called'],
  ['unload.destroyReturnedMs', 'how long cache.destroy() took to return its promise'],
  ['unload.destroyReturnedBeforeReport', 'true: destroy() returned before the report existed (the barrier ran asynchronously)'],
  ['unload.recreatedSameName, unload.recreateMs', 'a new cache with the same name could be created at once, and how long it took'],
  ['unload.reportMs', 'from destroy() to its report'],
  ['unload.report', 'the DestroyReport: name, status (released|leaked), deferred, leaked (count), objects[] ({ ptr, allocTrace? }), ' +
    'warning?, report? (the kernel-style text), waitedFor?, elapsedMs?, unflushedThreads?'],
  ['warnings[]', 'every SlabWarning raised in the main thread: { kind, message }'],
  ['slabinfoBefore, slabinfoAfter', '/proc/slabinfo (version 2.1) text before destroy() and at the end'],
];

/** The field list as help text, wrapped to `width` columns. */
export function demoJsonHelp(width = 80): string {
  const lines = ['', 'JSON summary (--json), one document on stdout:'];
  for (const [f, m] of DEMO_JSON_FIELDS) {
    const words = `${f}: ${m}`.split(' ');
    let line = '  ';
    for (const w of words) {
      if (line.length + w.length + 1 > width && line.trim() !== '') {
        lines.push(line.trimEnd());
        line = '      ';
      }
      line += w + ' ';
    }
    lines.push(line.trimEnd());
  }
  return lines.join('\n');
}
