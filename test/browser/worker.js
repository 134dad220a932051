// A browser Web Worker (module): attaches to the arena it is sent and runs commands.
import { Arena } from '/dist/src/index.js';

let arena;
self.onmessage = async (e) => {
  const m = e.data;
  try {
    switch (m.op) {
      case 'attach': {
        arena = Arena.attach(m.sab);
        self.postMessage({ op: 'attached', slot: arena.threadId });
        break;
      }
      case 'alloc': {
        // Allocate n objects of a cache, write (id, i) into each, send the pointers.
        const c = arena.findCache(m.cache);
        const ptrs = [];
        for (let i = 0; i < m.n; i++) {
          const p = c.alloc();
          arena.i32[p >> 2] = m.id;
          arena.i32[(p >> 2) + 1] = i;
          ptrs.push(p);
        }
        self.postMessage({ op: 'allocated', ptrs });
        break;
      }
      case 'free': {
        const c = arena.findCache(m.cache);
        for (const p of m.ptrs) c.free(p);
        self.postMessage({ op: 'freed', n: m.ptrs.length });
        break;
      }
      case 'hold': {
        // Enter a read section, say so, block (a worker may) until the main thread sets
        // the release word, note that we are leaving, leave.
        arena.rcu.readLock();
        self.postMessage({ op: 'locked' });
        while (Atomics.load(arena.i32, m.releaseW) === 0) Atomics.wait(arena.i32, m.releaseW, 0, 50);
        Atomics.store(arena.i32, m.leftW, 1);
        arena.rcu.readUnlock();
        self.postMessage({ op: 'unlocked' });
        break;
      }
      case 'kfree': {
        // kfreeRcu n fresh objects of a cache from this worker.
        const c = arena.findCache(m.cache);
        for (let i = 0; i < m.n; i++) arena.kfreeRcu(c.alloc());
        self.postMessage({ op: 'queued', n: m.n });
        break;
      }
      case 'detach': {
        arena.detach();
        self.postMessage({ op: 'detached' });
        break;
      }
    }
  } catch (err) {
    self.postMessage({ op: 'error', message: String(err && err.stack || err) });
  }
};
