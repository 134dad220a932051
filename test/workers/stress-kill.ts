/**
 * Worker of the kill fuzz (test/stress/killfuzz.ts, issue 11 item 2). Loops over random
 * operations until the driver terminates it or sets CTL.STOP: alloc (caches A, B, its own
 * cache, kmalloc), free, kfree, kfreeRcu, publish/unpublish an object for the other
 * workers' RCU readers, read sections that check the others' published objects, barriers
 * (sync and async), shrink, and destroy of its own cache (then a new one). Every pointer is
 * claimed in the shared ownership map and tagged (test/stress/shared.ts). On STOP it frees
 * what it holds, destroys its own cache, detaches and posts 'final'.
 * Public API only. (Does nothing when run as a main module.)
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena, SLAB_NO_MERGE, type Cache, type SlabWarning } from '../../src/index.js';
import { Book, CTL, hex, P, PUB_PER_WORKER, type Held, type Shared, prng, tagOf } from '../stress/shared.js';
import { PH } from '../stress/supervise.js';

export interface KillWorkerData {
  sab: SharedArrayBuffer;
  shared: Shared;
  id: number;
  widx: number;
  nworkers: number;
  seed: number;
  caches: [string, string];
}

const KM_SIZES = [8, 32, 64, 100, 256, 700, 2048, 5000, 9000];
const MAX_HELD = 300;

if (!isMainThread && parentPort) {
  const port = parentPort;
  const d = workerData as KillWorkerData;
  const ctl = new Int32Array(d.shared.ctl);
  let a: Arena;
  try {
    a = Arena.attach(d.sab);
  } catch (e) {
    Atomics.add(ctl, CTL.PROBLEMS + P.workerError, 1);
    port.postMessage({ type: 'attach-failed', message: String((e as Error)?.message ?? e) });
    throw e;
  }
  const warnings: Record<string, number> = {};
  const warnTexts: string[] = [];
  a.onWarning((w: SlabWarning) => {
    warnings[w.kind] = (warnings[w.kind] ?? 0) + 1;
    if (warnTexts.length < 10) warnTexts.push(`${w.kind}: ${w.message}`);
  });
  // Each problem is posted at once (a worker killed later would take its texts with it).
  const book = new Book(a, d.shared, d.id, { problem: (kind, text) => port.postMessage({ type: 'problem', kind, text }) });
  const A = a.findCache(d.caches[0])!;
  const B = a.findCache(d.caches[1])!;
  const rnd = prng(d.seed);
  const phase = (p: number): void => book.setPhase(d.widx + 1, p);
  let seq = 1;
  let ownN = 0;
  let own: Cache | undefined;
  const newOwn = (): void => {
    phase(PH['create-cache']);
    own = a.createCache(`kf-own-${d.id}-${ownN++}`, { size: 40 + 8 * (d.id % 8), flags: SLAB_NO_MERGE });
  };
  newOwn();
  // kind: 0 = A, 1 = B, 2 = kmalloc, 3 = own cache
  const held: Held[] = [];
  const pubs: (Held | undefined)[] = new Array(PUB_PER_WORKER).fill(undefined);
  const counts = { ops: 0, allocs: 0, frees: 0, rcu: 0, reads: 0, checked: 0, barriers: 0, shrinks: 0, destroys: 0, destroyLeaks: 0, zeros: 0 };
  const destroyTexts: string[] = [];

  const take = (): Held | undefined => {
    if (held.length === 0) return undefined;
    const i = Math.floor(rnd() * held.length);
    const h = held[i]!;
    held[i] = held[held.length - 1]!;
    held.pop();
    return h;
  };
  const cacheOf = (kind: number): Cache => (kind === 0 ? A : kind === 1 ? B : own!);
  const alloc = (): void => {
    const r = rnd();
    const kind = own === undefined ? Math.floor(r * 3) : Math.floor(r * 4);
    let p: number;
    let len: number;
    if (kind === 2) {
      len = KM_SIZES[Math.floor(rnd() * KM_SIZES.length)]!;
      phase(PH.kmalloc);
      p = a.kmalloc(len);
    } else {
      const c = cacheOf(kind);
      len = c.objectSize;
      phase(PH.alloc);
      p = c.alloc();
    }
    if (p === 0) {
      counts.zeros++;
      return;
    }
    if (!book.claim(p, len, kind === 2 ? `kmalloc(${len})` : `${cacheOf(kind).name}.alloc()`)) return;
    const h: Held = { ptr: p, len, tag: tagOf(d.id, seq++), kind };
    book.write(h);
    held.push(h);
    counts.allocs++;
  };
  const freeIt = (h: Held, rcu: boolean): void => {
    if (!book.check(h, d.id, `worker ${d.id} before ${rcu ? 'kfreeRcu' : 'free'}`)) return; // leave it alone
    if (rcu) {
      book.releaseRcu(h);
      phase(PH.kfreeRcu);
      if (h.len >= 16 && rnd() < 0.3) a.kfreeRcu(h.ptr, 8);
      else a.kfreeRcu(h.ptr);
      counts.rcu++;
    } else {
      book.releaseFree(h);
      if (h.kind === 2 || rnd() < 0.15) {
        phase(PH.kfree);
        a.kfree(h.ptr);
      } else {
        phase(PH.free);
        cacheOf(h.kind).free(h.ptr);
      }
      counts.frees++;
    }
  };
  const pubW = (slot: number): number => CTL.PUB + 4 * (d.widx * PUB_PER_WORKER + slot);
  const publish = (): void => {
    const j = Math.floor(rnd() * PUB_PER_WORKER);
    const w = pubW(j);
    const old = pubs[j];
    // unpublish, then kfreeRcu (readers may still hold it)
    Atomics.add(ctl, w, 1); // odd
    Atomics.store(ctl, w + 1, 0);
    Atomics.add(ctl, w, 1); // even
    pubs[j] = undefined;
    if (old) freeIt(old, true);
    // publish an object of A (len 64: tags at 0 and 60, rcu head at 8)
    const cand = held.findIndex((h) => h.kind === 0);
    if (cand < 0) return;
    const h = held[cand]!;
    held[cand] = held[held.length - 1]!;
    held.pop();
    Atomics.add(ctl, w, 1);
    Atomics.store(ctl, w + 1, h.ptr);
    Atomics.store(ctl, w + 2, h.tag);
    Atomics.add(ctl, w, 1);
    pubs[j] = h;
  };
  const dv = a.dv;
  const readSection = (): void => {
    phase(PH['read-section']);
    a.rcu.read(() => {
      counts.reads++;
      const seen: [number, number][] = [];
      for (let s = 0; s < d.nworkers * PUB_PER_WORKER; s++) {
        if (Math.floor(s / PUB_PER_WORKER) === d.widx) continue;
        const w = CTL.PUB + 4 * s;
        const s1 = Atomics.load(ctl, w);
        if (s1 & 1) continue;
        const p = Atomics.load(ctl, w + 1);
        const t = Atomics.load(ctl, w + 2);
        if (Atomics.load(ctl, w) !== s1 || p === 0) continue;
        seen.push([p, t]);
      }
      // Check, spin a little (the writer may unpublish and kfreeRcu meanwhile), check again.
      for (let round = 0; round < 3; round++) {
        for (const [p, t] of seen) {
          counts.checked++;
          const t0 = dv.getInt32(p, true);
          const t1 = dv.getInt32(p + 60, true);
          if (t0 !== t || t1 !== ~t) {
            book.problem(P.readerSawReuse, `worker ${d.id} in a read section: published ${hex(p)} tag ${hex(t)} now ${hex(t0)}/${hex(~t1)} (map ${Atomics.load(book.own, p >>> 3)})`);
          }
        }
        for (let k = 0; k < 200; k++) void Atomics.load(ctl, CTL.HEARTBEAT);
      }
    });
  };
  const destroyOwn = async (): Promise<void> => {
    const c = own!;
    for (let i = held.length - 1; i >= 0; i--) {
      const h = held[i]!;
      if (h.kind !== 3) continue;
      held[i] = held[held.length - 1]!;
      held.pop();
      freeIt(h, rnd() < 0.5);
    }
    own = undefined;
    phase(PH.destroy);
    const rep = await c.destroy();
    counts.destroys++;
    if (rep.status !== 'released') {
      counts.destroyLeaks += rep.leaked;
      if (destroyTexts.length < 5) destroyTexts.push(`${c.name}: ${rep.status} leaked=${rep.leaked} ${rep.warning ?? ''}`);
    }
    newOwn();
  };

  const step = async (): Promise<void> => {
    counts.ops++;
    Atomics.add(ctl, CTL.OPS, 1);
    const r = rnd();
    if (r < 0.38 || held.length === 0) {
      if (held.length < MAX_HELD) alloc();
      else freeIt(take()!, false);
    } else if (r < 0.56) freeIt(take()!, false);
    else if (r < 0.70) freeIt(take()!, true);
    else if (r < 0.76) publish();
    else if (r < 0.88) readSection();
    else if (r < 0.905) {
      phase(PH.barrier);
      if (rnd() < 0.5) a.kvfreeRcuBarrier();
      else await a.kvfreeRcuBarrierAsync();
      counts.barriers++;
    } else if (r < 0.93) {
      phase(PH.shrink);
      const c = [A, B, own ?? A][Math.floor(rnd() * 3)]!;
      c.shrink();
      counts.shrinks++;
    } else if (r < 0.935 && own) await destroyOwn();
    else alloc();
  };

  const main = async (): Promise<void> => {
    port.postMessage({ type: 'ready', slot: a.threadId });
    while (Atomics.load(ctl, CTL.STOP) === 0) {
      for (let k = 0; k < 32; k++) await step();
      book.beat();
      phase(PH.waiting);
      await new Promise((res) => setImmediate(res));
    }
    // Orderly end: unpublish, free everything, destroy the own cache, detach.
    phase(PH.final);
    for (let j = 0; j < PUB_PER_WORKER; j++) {
      const w = pubW(j);
      Atomics.add(ctl, w, 1);
      Atomics.store(ctl, w + 1, 0);
      Atomics.add(ctl, w, 1);
      const h = pubs[j];
      pubs[j] = undefined;
      if (h) freeIt(h, true);
    }
    while (held.length) freeIt(held.pop()!, rnd() < 0.3);
    if (own) await destroyOwn();
    const c = own!;
    own = undefined;
    const rep = await c.destroy();
    if (rep.status !== 'released') {
      counts.destroyLeaks += rep.leaked;
      destroyTexts.push(`${c.name}: ${rep.status} leaked=${rep.leaked}`);
    }
    phase(PH.detach);
    await a.kvfreeRcuBarrierAsync();
    a.detach();
    phase(PH.done);
    port.postMessage({ type: 'final', counts, warnings, warnTexts, destroyTexts, problems: book.counts });
  };
  main().catch((e: unknown) => {
    book.problem(P.workerError, `worker ${d.id}: ${String((e as Error)?.stack ?? e).split('\n').slice(0, 4).join(' | ')}`);
    port.postMessage({ type: 'error', message: `worker ${d.id}: ${String((e as Error)?.stack ?? e)}` });
  });
}
