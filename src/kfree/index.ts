/**
 * Placeholder kfree_rcu until the batching implementation lands: the kernel's slow
 * path (synchronize_rcu(); kvfree(ptr)) for every object.
 */
import type { Arena } from '../arena.js';

export function initKfreeRegion(_i32: Int32Array, _baseWord: number, _maxThreads: number): void {}

export class KfreeRcu {
  constructor(private readonly a: Arena) {}
  kfreeRcu(ptr: number): void {
    if (ptr === 0) return;
    this.a.rcu.synchronize();
    this.a.kfree(ptr);
  }
  barrier(): void {}
  async barrierAsync(): Promise<void> {}
  barrierOnCacheSync(_idx: number): void {}
  async barrierOnCacheAsync(_idx: number): Promise<void> {}
  reclaim(): boolean { return false; }
  serviceRequests(): void {}
  detach(): void {}
  adoptDead(_slot: number, _gen: number): void {}
  pending(): number { return 0; }
}
