// Worker for test/kfree-findings.test.ts: attaches, installs the kfree testingMark hook,
// and runs one scripted step. Control words (ctl, Int32Array over workerData.ctl):
//   [0] go (main -> worker)   [1] progress: +1 at every mark and at the end
//   [2] release of a stop      [3] done (1 when the step returned)   [4] result
//   [5] stopped at `stopAt`    [8 + k] count of mark MARKS[k]
// `stopAt`: the worker stops at the first such mark, and waits until [2] != 0 (or forever:
// the test terminates it there). `waitAt`: { mark: [word of peer, at least] } makes the
// worker wait at that mark until the peer's control word reaches the value (peer ctl in
// workerData.peer).
import { parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';
import { MARKS, markWord } from '../helpers/kfix-marks.js';

const { sab, mode, cache, stopAt, waitAt, ptrs = [], n = 0 } = workerData as {
  sab: SharedArrayBuffer; mode: string; cache: string; stopAt?: string;
  waitAt?: Record<string, [number, number]>; ptrs?: number[]; n?: number;
};
const ctl = new Int32Array(workerData.ctl as SharedArrayBuffer);
const peer = workerData.peer ? new Int32Array(workerData.peer as SharedArrayBuffer) : undefined;
const arena = Arena.attach(sab);
const port = parentPort!;
const keepAlive = setInterval(() => {}, 1000);
let stopped = false;
const warnings: string[] = [];
arena.onWarning((w) => warnings.push(`${w.kind}: ${w.message}`));

arena.kfreeRcuImpl.testingMark = (m: string): void => {
  if (MARKS.includes(m)) Atomics.add(ctl, markWord(m), 1);
  Atomics.add(ctl, 1, 1);
  Atomics.notify(ctl, 1);
  const wa = waitAt?.[m];
  if (wa !== undefined && peer !== undefined) {
    for (let v = Atomics.load(peer, wa[0]); v < wa[1]; v = Atomics.load(peer, wa[0])) Atomics.wait(peer, wa[0], v);
  }
  if (m === stopAt && !stopped) {
    stopped = true;
    Atomics.store(ctl, 5, 1);
    Atomics.notify(ctl, 5);
    while (Atomics.load(ctl, 2) === 0) Atomics.wait(ctl, 2, 0);
  }
};

function finish(result: number): void {
  Atomics.store(ctl, 4, result);
  Atomics.store(ctl, 3, 1);
  Atomics.add(ctl, 1, 1);
  Atomics.notify(ctl, 3);
  Atomics.notify(ctl, 1);
}

function waitGo(): void {
  while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0);
}

switch (mode) {
  case 'barrier': {
    // On go: kvfreeRcuBarrier(); result: objects of `cache` still allocated at its return.
    port.postMessage({ type: 'ready' });
    waitGo();
    arena.kvfreeRcuBarrier();
    const c = arena.findCache(cache)!;
    finish(c.stats().objects);
    port.postMessage({ type: 'done', warnings });
    break;
  }
  case 'kfree-block': {
    // kfreeRcu n new objects (they stay in this thread's open block), then block without
    // serving requests until terminated.
    const c = arena.findCache(cache)!;
    for (let i = 0; i < n; i++) arena.kfreeRcu(c.alloc());
    port.postMessage({ type: 'queued', pending: arena.kfreeRcuPending() });
    while (Atomics.load(ctl, 2) === 0) Atomics.wait(ctl, 2, 0);
    break;
  }
  case 'kfree-exit': {
    // kfreeRcu n new objects, then exit without detaching (the watcher adopts the batch).
    const c = arena.findCache(cache)!;
    for (let i = 0; i < n; i++) arena.kfreeRcu(c.alloc());
    port.postMessage({ type: 'queued' });
    process.exit(0);
    break;
  }
  case 'kfree-barrier': {
    // On go: kfreeRcu n new objects of `cache` (or the given ptrs), then kvfreeRcuBarrier()
    // (its drain stops at `stopAt`).
    port.postMessage({ type: 'ready' });
    port.once('message', (m: { ptrs?: number[] }) => {
      const c = cache ? arena.findCache(cache) : undefined;
      for (let i = 0; i < n; i++) arena.kfreeRcu(c!.alloc());
      for (const p of m.ptrs ?? ptrs) arena.kfreeRcu(p);
      port.postMessage({ type: 'queued', pending: arena.kfreeRcuPending() });
      arena.kvfreeRcuBarrier();
      finish(0);
      port.postMessage({ type: 'done', warnings });
      clearInterval(keepAlive);
      arena.detach();
    });
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
if (mode === 'barrier') {
  clearInterval(keepAlive);
  arena.detach();
}
