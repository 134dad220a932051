/** Bytes of shared memory the kfree_rcu subsystem needs (placeholder until kfree/ lands). */
export function kfreeRegionBytes(maxThreads: number): number {
  return 1024 + maxThreads * 128;
}
