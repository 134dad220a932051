/** The progress marks of KfreeRcu.testingMark (src/kfree/state.ts, called from drain.ts, barrier.ts, adopt.ts) the kfix tests use. */
export const MARKS = [
  'barrier:start', 'barrier:poll', 'barrier:drain', 'drain:locked', 'drain:block', 'free:one',
  'adopt:read', 'adopt:checked', 'adopt:queued', 'adopt:cleared', 'drain:unlinking',
];
/** Control word counting mark m. */
export function markWord(m: string): number {
  return 8 + MARKS.indexOf(m);
}
export const CTL_WORDS = 8 + MARKS.length;
