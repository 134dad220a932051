/** Bytes of shared memory the SLUB debug subsystem needs (placeholder until debug/ lands). */
export function debugRegionBytes(maxThreads: number): number {
  return 1024 + maxThreads * 0;
}
