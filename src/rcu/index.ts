// Placeholder; replaced by the RCU implementation.
import type { RcuHost } from './host.js';
export function initRcuRegion(_i32: Int32Array, _baseWord: number, _maxThreads: number, _flavour: 'memb' | 'qsbr'): void {}
export class Rcu {
  constructor(readonly host: RcuHost) {}
  readLock(): void {}
  readUnlock(): void {}
  read<T>(fn: () => T): T { return fn(); }
  synchronize(): void {}
  async synchronizeAsync(): Promise<void> {}
  call(cb: () => void): void { queueMicrotask(cb); }
  barrier(): void {}
  async barrierAsync(): Promise<void> {}
  getState(): number { return 0; }
  startPoll(): number { return 0; }
  pollState(_c: number): boolean { return true; }
  quiescentState(): void {}
  online(): void {}
  offline(): void {}
  get inReadSection(): boolean { return false; }
  serviceRequests(): void {}
  detach(): void {}
  detachDeadSlot(_slot: number, _gen: number): void {}
}
