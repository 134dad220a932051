/** Bytes of shared memory the RCU subsystem needs (placeholder until rcu/ lands). */
export function rcuRegionBytes(maxThreads: number): number {
  return 1024 + maxThreads * 256;
}
