/**
 * Worker side of the RCU torture test (torture.ts): a reader or the writer.
 * Not imported by the core entry.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../arena.js';
import { E_MBTEST, E_PIPE, RCU_STRESS_PIPE_LEN, TG_CURRENT, TG_ELEMS, TG_READS, TG_STOP, TG_UPDATES, type TortureWorkerData, type TortureWorkerResult } from './torture.js';

if (parentPort) {
  const port = parentPort;
  const d = workerData as TortureWorkerData;
  const arena = Arena.attach(d.sab);
  if (d.unlock) arena.rcu.setUnlockPath(d.unlock);
  const run = d.role === 'reader' ? reader : writer;
  port.postMessage({ type: 'ready' });
  run(arena, d).then(
    (result) => {
      arena.detach();
      port.postMessage({ type: 'result', result });
    },
    (e: unknown) => {
      port.postMessage({ type: 'result', result: { role: d.role, error: e instanceof Error ? e.stack ?? e.message : String(e) } });
    },
  );
}

async function reader(arena: Arena, d: TortureWorkerData): Promise<TortureWorkerResult> {
  const { i32, rcu } = arena;
  const g = d.globals;
  const qsbr = rcu.flavour === 'qsbr';
  const histogram = new Array<number>(RCU_STRESS_PIPE_LEN + 1).fill(0);
  let reads = 0;
  let mbErrors = 0;
  let junk = 0;
  while (Atomics.load(i32, g + TG_STOP) === 0) {
    for (let k = 0; k < 1024; k++) {
      rcu.readLock();
      const p = Atomics.load(i32, g + TG_CURRENT) >> 2;
      if (Atomics.load(i32, p + E_MBTEST) === 0) mbErrors++;
      // Now and then linger inside the section, so a writer that does not wait is caught.
      if ((k & 15) === 0) for (let j = 0; j < 256; j++) junk += Atomics.load(i32, p + E_MBTEST);
      let pc = Atomics.load(i32, p + E_PIPE);
      rcu.readUnlock();
      if (pc > RCU_STRESS_PIPE_LEN || pc < 0) pc = RCU_STRESS_PIPE_LEN;
      histogram[pc]!++;
      if (qsbr && (k & 15) === 15) rcu.quiescentState();
    }
    reads += 1024;
    Atomics.add(i32, g + TG_READS, 1024);
  }
  if (junk < 0) mbErrors += 0; // keep `junk` alive
  return { role: 'reader', histogram, reads, mbErrors };
}

async function writer(arena: Arena, d: TortureWorkerData): Promise<TortureWorkerResult> {
  const { i32, rcu } = arena;
  const g = d.globals;
  if (d.broken) rcu.testingSkipGpWait = true;
  const seq0 = rcu.getState();
  let idx = 0;
  let updates = 0;
  while (Atomics.load(i32, g + TG_STOP) === 0) {
    const i = (idx + 1) % RCU_STRESS_PIPE_LEN;
    const p = Atomics.load(i32, g + TG_ELEMS + i) >> 2;
    Atomics.store(i32, p + E_MBTEST, 0);
    Atomics.store(i32, p + E_PIPE, 0);
    Atomics.store(i32, p + E_MBTEST, 1);
    Atomics.store(i32, g + TG_CURRENT, p << 2);
    idx = i;
    for (let k = 0; k < RCU_STRESS_PIPE_LEN; k++) {
      if (k !== idx) Atomics.add(i32, (Atomics.load(i32, g + TG_ELEMS + k) >> 2) + E_PIPE, 1);
    }
    // Cycle through the ways of waiting for a grace period (rcutorture's gp_* modes).
    switch (updates & 3) {
      case 0:
        rcu.synchronize();
        break;
      case 1:
        await rcu.synchronizeAsync();
        break;
      case 2: {
        const c = rcu.startPoll();
        while (!rcu.pollState(c)) await new Promise((r) => setTimeout(r, 0));
        break;
      }
      default: {
        // The callback pump never keeps a thread alive by itself: hold a timer meanwhile.
        const keep = setInterval(() => {}, 1 << 30);
        await new Promise<void>((resolve) => rcu.call(resolve));
        clearInterval(keep);
      }
    }
    updates++;
    Atomics.add(i32, g + TG_UPDATES, 1);
  }
  const gracePeriods = Math.max(0, ((rcu.getState() - seq0) | 0) >> 2);
  return { role: 'writer', updates, gracePeriods };
}
