/** Driving scripted RCU workers (test/workers/rcu-worker.ts) from a test. */
import { Worker } from 'node:worker_threads';
import type { Warning } from './rcu-harness.js';
import type { RcuEnv } from './rcu-env.js';

export interface Reply {
  id?: number;
  type?: string;
  ok?: boolean;
  value?: unknown;
  error?: string;
  slot?: number;
  gen?: number;
  warning?: Warning;
}

export class RcuWorker {
  readonly worker: Worker;
  slot = -1;
  gen = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly events: Reply[] = [];
  private eventWaiters: { type: string; resolve: (r: Reply) => void }[] = [];
  readonly exited: Promise<number>;

  private constructor(env: RcuEnv, url: URL) {
    this.worker = new Worker(url, { workerData: env.workerData });
    this.worker.on('message', (m: Reply) => {
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.ok) p?.resolve(m.value);
        else p?.reject(new Error(m.error));
        return;
      }
      const i = this.eventWaiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.eventWaiters.splice(i, 1)[0]!.resolve(m);
      else this.events.push(m);
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
  }

  /** Start a scripted worker attached to env; its slot is detached for it when it exits (arena.watch). */
  static async start(env: RcuEnv): Promise<RcuWorker> {
    const w = new RcuWorker(env, new URL('../workers/rcu-worker.js', import.meta.url));
    const a = await w.next('attached');
    w.slot = a.slot!;
    w.gen = a.gen!;
    env.watch(w.worker, w.slot, w.gen);
    return w;
  }

  /** Next event of this type (already received or future). */
  next(type: string): Promise<Reply> {
    const i = this.events.findIndex((e) => e.type === type);
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]!);
    return new Promise((resolve) => this.eventWaiters.push({ type, resolve }));
  }

  cmd(op: string, extra: Record<string, number> = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, ...extra });
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
