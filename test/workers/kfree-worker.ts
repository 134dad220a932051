// Worker for the kfree_rcu / destroy tests. workerData: { sab, mode, cache, n?, delayMs? }.
import { parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';

const { sab, mode, cache, n = 0, delayMs = 0 } = workerData as {
  sab: SharedArrayBuffer; mode: string; cache: string; n?: number; delayMs?: number;
};
const arena = Arena.attach(sab);
const port = parentPort!;
const keepAlive = setInterval(() => {}, 1000);

async function main(): Promise<void> {
  switch (mode) {
    case 'loop-kfree': {
      // kfreeRcu the objects the main thread allocated for us (list), recording progress
      // in done[0] after each call; yields to the event loop every 256 objects.
      const list = new Int32Array(workerData.list as SharedArrayBuffer);
      const done = new Int32Array(workerData.done as SharedArrayBuffer);
      port.postMessage({ type: 'started' });
      for (let i = 0; i < list.length; i++) {
        arena.kfreeRcu(list[i]!);
        Atomics.store(done, 0, i + 1);
        if ((i + 1) % 256 === 0) await new Promise((r) => setImmediate(r));
      }
      port.postMessage({ type: 'finished' });
      return;
    }
    case 'queue-and-idle': {
      const c = arena.findCache(cache)!;
      for (let i = 0; i < n; i++) arena.kfreeRcu(c.alloc());
      port.postMessage({ type: 'queued', pending: c.stats().kfree_rcu_pending });
      port.on('message', (m: { type: string }) => {
        if (m.type === 'exit') {
          clearInterval(keepAlive);
          arena.detach();
          port.close();
        }
      });
      return;
    }
    case 'alloc-and-kfree-sync-exit': {
      // queue n objects, then leave without detaching: the watcher adopts the batch
      const c = arena.findCache(cache)!;
      for (let i = 0; i < n; i++) arena.kfreeRcu(c.alloc());
      port.postMessage({ type: 'queued' });
      process.exit(0);
    }
    case 'kfree-barrier-exit': {
      // queue n objects, run the barrier (our own drain keeps kfree_rcu sheaves as ready
      // sheaves of this thread), then leave without detaching: the watcher must give
      // the ready sheaves' objects back
      const c = arena.findCache(cache)!;
      for (let i = 0; i < n; i++) arena.kfreeRcu(c.alloc());
      arena.kvfreeRcuBarrier();
      port.postMessage({ type: 'ready', objects: c.stats().objects, pending: c.stats().kfree_rcu_pending });
      process.exit(0);
    }
    case 'destroy': {
      const c = arena.findCache(cache)!;
      await new Promise((r) => setTimeout(r, delayMs));
      const rep = await c.destroy();
      port.postMessage({ type: 'report', rep, slabErrors: arena.slabErrors });
      clearInterval(keepAlive);
      arena.detach();
      return;
    }
    case 'hold-and-spin': {
      // take a cpu slab of the cache, then spin without ever calling the allocator or
      // yielding, until the flag in log[0] becomes 1
      const c = arena.findCache(cache)!;
      const log = new Int32Array(workerData.log as SharedArrayBuffer);
      // optionally also an open kfree_rcu batch of `kfree` objects
      for (let i = 0; i < ((workerData.kfree as number | undefined) ?? 0); i++) arena.kfreeRcu(c.alloc());
      const p = c.alloc();
      c.free(p); // the object is back on our cpu freelist: the slab stays ours
      port.postMessage({ type: 'holding' });
      while (Atomics.load(log, 0) === 0) {
        /* busy: no allocator call, no event-loop turn */
      }
      port.postMessage({ type: 'spun' });
      clearInterval(keepAlive);
      return;
    }
    case 'kfree-head': {
      // kfreeRcu(ptr, off) for each [ptr, off] of workerData.calls; report the warning
      // kinds this thread raised and the pending count after the calls
      const kinds: string[] = [];
      arena.onWarning((w) => kinds.push(w.kind));
      const calls = workerData.calls as [number, number][];
      for (const [p, off] of calls) arena.kfreeRcu(p, off);
      port.postMessage({ type: 'done', kinds, pending: arena.kfreeRcuPending() });
      clearInterval(keepAlive);
      arena.detach();
      return;
    }
    case 'detach-then-destroy': {
      // detach, then try both destroys through a handle found before: each must be
      // refused before it drops the name or the reference
      const c = arena.findCache(cache)!;
      arena.detach();
      const errors: string[] = [];
      try {
        c.destroySync();
      } catch (e) {
        errors.push((e as Error).message);
      }
      await c.destroy().then(() => errors.push('destroy() resolved'), (e: unknown) => errors.push((e as Error).message));
      port.postMessage({ type: 'done', errors });
      clearInterval(keepAlive);
      return;
    }
    case 'spin': {
      // spin without an allocator call or an event-loop turn until log[0] becomes 1 (a
      // qsbr thread that never passes a quiescent state; a memb thread outside any section)
      const log = new Int32Array(workerData.log as SharedArrayBuffer);
      port.postMessage({ type: 'spinning' });
      while (Atomics.load(log, 0) === 0) {
        /* busy */
      }
      port.postMessage({ type: 'spun' });
      clearInterval(keepAlive);
      arena.detach();
      return;
    }
    case 'reader-ack': {
      // read sections back to back; in each, wait (a hang guard of 5 s, never reached
      // while the main thread's event loop runs) for the main thread to acknowledge the
      // 'locked' message: log[1] is the ack counter, log[2] counts acks that did not come
      // (the main thread was blocked while we held the section), log[0] = 1 stops
      const log = new Int32Array(workerData.log as SharedArrayBuffer);
      let rounds = 0;
      while (Atomics.load(log, 0) === 0) {
        arena.rcu.readLock();
        const seen = Atomics.load(log, 1);
        port.postMessage({ type: 'locked', round: rounds });
        if (Atomics.wait(log, 1, seen, 5000) === 'timed-out') Atomics.add(log, 2, 1);
        arena.rcu.readUnlock();
        rounds++;
      }
      port.postMessage({ type: 'done', rounds, misses: Atomics.load(log, 2) });
      clearInterval(keepAlive);
      arena.detach();
      return;
    }
    case 'free-twice': {
      // free workerData.ptr twice through the named cache; post the reports this raised
      const c = arena.findCache(cache)!;
      const reports: { kind: string; report: string }[] = [];
      arena.onWarning((w) => reports.push({ kind: w.kind, report: w.report }));
      c.free(workerData.ptr as number);
      c.free(workerData.ptr as number);
      port.postMessage({ type: 'done', reports });
      clearInterval(keepAlive);
      arena.detach();
      return;
    }
    case 'reader-hold': {
      arena.rcu.readLock();
      port.postMessage({ type: 'locked' });
      port.on('message', (m: { type: string }) => {
        if (m.type === 'unlock') {
          arena.rcu.readUnlock();
          port.postMessage({ type: 'unlocked' });
        }
        if (m.type === 'exit') {
          clearInterval(keepAlive);
          arena.detach();
          port.close();
        }
      });
      return;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}
main().catch((e: unknown) => {
  port.postMessage({ type: 'error', message: String((e as Error)?.stack ?? e) });
  process.exit(1);
});
