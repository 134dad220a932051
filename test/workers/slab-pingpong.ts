/**
 * Worker for the ping-pong test (test/slab-workers.test.ts). Two of these run at once on
 * one cache. Each allocates objects, tags them (sender, sequence) and hands them to the
 * other through a single-producer/single-consumer ring that lives in the arena; the other
 * checks the tag, holds the object, and frees it (a remote free) when it finds the arena
 * exhausted. So memory runs out, is given back by the other thread, and is refilled,
 * over and over. Exhaustions are counted in a shared word; when enough have happened
 * both stop, free everything they hold and detach.
 *
 * Ring layout (Int32 words at ring >> 2): [0] head (producer, Atomics.store),
 * [1] tail (consumer, Atomics.store), [2 .. 2 + cap) object pointers (plain, published by
 * the head store). Control words (ctrl >> 2): [0] workers done, [1] total exhaustions.
 * (Does nothing when run as a main module, e.g. by `node --test dist/test/`.)
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena } from '../../src/index.js';

export interface PingPongData {
  sab: SharedArrayBuffer;
  cache: string;
  me: number;
  ringOut: number;
  ringIn: number;
  cap: number;
  ctrl: number;
  targetExhaustions: number;
  minAllocsPerCycle: number;
}

export interface PingPongResult {
  me: number;
  slot: number;
  allocs: number;
  exhaustions: number;
  received: number;
  remoteFrees: number;
  localFrees: number;
  badTags: number;
  statsBeforeDone: { free_remote: number; free_fastpath: number; free_slowpath: number; alloc_slab: number; free_slab: number };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const d = workerData as PingPongData;
  const a = Arena.attach(d.sab);
  const i32 = a.i32;
  const c = a.findCache(d.cache)!;
  const out = d.ringOut >> 2;
  const inn = d.ringIn >> 2;
  const ctrl = d.ctrl >> 2;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const peer = 1 - d.me;
  let seq = 1;
  let lastSeqIn = 0;
  const r: PingPongResult = {
    me: d.me, slot: a.threadId, allocs: 0, exhaustions: 0, received: 0, remoteFrees: 0, localFrees: 0, badTags: 0,
    statsBeforeDone: { free_remote: 0, free_fastpath: 0, free_slowpath: 0, alloc_slab: 0, free_slab: 0 },
  };
  const held: [number, number][] = []; // [ptr, seq] received from the peer, not yet freed

  const push = (p: number): boolean => {
    const head = i32[out]!;
    if (head - Atomics.load(i32, out + 1) >= d.cap) return false;
    i32[out + 2 + (head % d.cap)] = p;
    Atomics.store(i32, out, head + 1);
    return true;
  };
  const receive = (): void => {
    const head = Atomics.load(i32, inn);
    let tail = i32[inn + 1]!;
    while (tail < head) {
      const p = i32[inn + 2 + (tail % d.cap)]!;
      tail++;
      r.received++;
      const s = i32[(p >> 2) + 1]!;
      if (i32[p >> 2] !== peer + 1 || s <= lastSeqIn) r.badTags++;
      lastSeqIn = s;
      held.push([p, s]);
    }
    Atomics.store(i32, inn + 1, tail);
  };
  const freeHeld = (): number => {
    const n = held.length;
    for (const [p, s] of held) {
      // Still the object the peer sent: nobody else was handed it meanwhile.
      if (i32[p >> 2] !== peer + 1 || i32[(p >> 2) + 1] !== s) r.badTags++;
      i32[p >> 2] = 0;
      c.free(p);
      r.remoteFrees++;
    }
    held.length = 0;
    return n;
  };

  let sinceLast = 0;
  while (Atomics.load(i32, ctrl + 1) < d.targetExhaustions) {
    const p = c.alloc();
    if (p !== 0) {
      r.allocs++;
      sinceLast++;
      i32[p >> 2] = d.me + 1;
      i32[(p >> 2) + 1] = seq++;
      if (!push(p)) {
        i32[p >> 2] = 0;
        c.free(p);
        r.localFrees++;
      }
    } else {
      if (sinceLast >= d.minAllocsPerCycle) {
        r.exhaustions++;
        Atomics.add(i32, ctrl + 1, 1);
        sinceLast = 0;
      }
      receive();
      if (freeHeld() === 0) Atomics.wait(nap, 0, 0, 1);
    }
    receive();
  }
  const s = c.stats();
  r.statsBeforeDone = { free_remote: s.free_remote, free_fastpath: s.free_fastpath, free_slowpath: s.free_slowpath, alloc_slab: s.alloc_slab, free_slab: s.free_slab };
  Atomics.add(i32, ctrl, 1);
  // The peer may still push what it allocated before it saw the target: drain until it is done too.
  while (Atomics.load(i32, ctrl) < 2) {
    receive();
    if (freeHeld() === 0) Atomics.wait(nap, 0, 0, 1);
  }
  receive();
  freeHeld();
  a.detach();
  port.postMessage(r);
}
