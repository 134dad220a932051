/**
 * Worker of the exhaustion stress (test/stress/exhaustion.ts, issue 11 item 1). Driven by
 * messages from the driver, one round at a time:
 * - {type:'alloc'}: allocate from cache A, cache B and kmalloc (random sizes) until each
 *   has returned 0; claim, tag. Reply 'allocated' with counts, and hand a quarter of the
 *   objects to the peer (remote frees).
 * - {type:'release', remote}: kfreeRcu a fraction (some with rcuHeadOffset), free or
 *   kfree the rest, then free the peer's objects. Reply 'released'.
 * Public API only. (Does nothing when run as a main module.)
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena, type SlabWarning } from '../../src/index.js';
import { Book, type Held, type Shared, prng, tagOf } from '../stress/shared.js';
import { PH } from '../stress/supervise.js';

export interface ExhaustWorkerData {
  sab: SharedArrayBuffer;
  shared: Shared;
  id: number;
  widx: number;
  seed: number;
  caches: [string, string];
  kfreeFraction: number;
  /** use kfreeRcu(ptr, 4) on some objects (default true) */
  headForm: boolean;
  /** free-running mode: rings (this worker's inbox, the peer's inbox) */
  inbox?: SharedArrayBuffer;
  outbox?: SharedArrayBuffer;
  peerId?: number;
}

const KM_SIZES = [8, 24, 40, 64, 96, 200, 500, 1000, 2000, 3000, 8000, 12000];
const MAX_ALLOCS = 1_000_000;

if (!isMainThread && parentPort) {
  const port = parentPort;
  const d = workerData as ExhaustWorkerData;
  const a = Arena.attach(d.sab);
  const warnings: SlabWarning[] = [];
  a.onWarning((w) => warnings.push(w));
  const book = new Book(a, d.shared, d.id);
  const caches = [a.findCache(d.caches[0])!, a.findCache(d.caches[1])!];
  const rnd = prng(d.seed);
  let seq = 1;
  let held: Held[] = [];
  const phase = (p: number): void => book.setPhase(d.widx, p);

  const freeOne = (h: Held, holder: number, allowRcu: boolean): string => {
    if (!book.check(h, holder, `release by ${d.id}`)) return 'skipped';
    if (allowRcu && rnd() < d.kfreeFraction) {
      book.releaseRcu(h);
      phase(PH.kfreeRcu);
      // the 2-argument form on a word the tags do not use (object length >= 16)
      if (d.headForm && h.len >= 16 && rnd() < 0.3) a.kfreeRcu(h.ptr, 4);
      else a.kfreeRcu(h.ptr);
      return 'rcu';
    }
    book.releaseFree(h);
    if (h.kind === 2 || rnd() < 0.2) {
      phase(PH.kfree);
      a.kfree(h.ptr);
    } else {
      phase(PH.free);
      caches[h.kind]!.free(h.ptr);
    }
    return 'free';
  };

  // Free-running mode: the peer's objects arrive through an inbox ring in shared memory
  // (Int32 words: [0] head (producer), [1] tail (consumer), then cap records of 4 words).
  const inbox = d.inbox ? new Int32Array(d.inbox) : undefined;
  const outbox = d.outbox ? new Int32Array(d.outbox) : undefined;
  const RING = 1 << 15;
  const pushOut = (h: Held): boolean => {
    if (!outbox) return false;
    const head = outbox[0]!;
    if (head - Atomics.load(outbox, 1) >= RING) return false;
    const w = 2 + (head % RING) * 4;
    outbox[w] = h.ptr;
    outbox[w + 1] = h.len;
    outbox[w + 2] = h.tag;
    outbox[w + 3] = h.kind;
    Atomics.store(outbox, 0, head + 1);
    return true;
  };
  const drainIn = (): number => {
    if (!inbox) return 0;
    const head = Atomics.load(inbox, 0);
    let tail = inbox[1]!;
    let n = 0;
    phase(PH['remote-free']);
    while (tail < head) {
      const w = 2 + (tail % RING) * 4;
      const h: Held = { ptr: inbox[w]!, len: inbox[w + 1]!, tag: inbox[w + 2]!, kind: inbox[w + 3]! };
      tail++;
      freeOne(h, d.peerId!, true);
      n++;
    }
    Atomics.store(inbox, 1, tail);
    return n;
  };
  /** One allocation from source src (0, 1: the two caches; 2: kmalloc of a random size): [ptr, length]. */
  const allocFrom = (src: number): [number, number] => {
    if (src < 2) {
      phase(PH.alloc);
      return [caches[src]!.alloc(), caches[src]!.objectSize];
    }
    const len = KM_SIZES[Math.floor(rnd() * KM_SIZES.length)]!;
    phase(PH.kmalloc);
    return [a.kmalloc(len), len];
  };
  const freeRunning = async (rounds: number): Promise<{ allocated: number; rcu: number; zeros: number }> => {
    const tot = { allocated: 0, rcu: 0, zeros: 0 };
    for (let r = 0; r < rounds; r++) {
      const exhausted = [false, false, false];
      let n = 0;
      while (n < MAX_ALLOCS && !(exhausted[0] && exhausted[1] && exhausted[2])) {
        let src = Math.floor(rnd() * 3);
        while (exhausted[src]) src = (src + 1) % 3;
        const [p, len] = allocFrom(src);
        n++;
        if ((n & 255) === 0) {
          book.beat();
          drainIn();
        }
        if (p === 0) {
          exhausted[src] = true;
          tot.zeros++;
          continue;
        }
        if (!book.claim(p, len, src < 2 ? `cache ${caches[src]!.name}.alloc()` : `kmalloc(${len})`)) continue;
        const h: Held = { ptr: p, len, tag: tagOf(d.id, seq++), kind: src };
        book.write(h);
        tot.allocated++;
        if (rnd() < 0.25 && pushOut(h)) continue;
        held.push(h);
      }
      for (let i = held.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [held[i], held[j]] = [held[j]!, held[i]!];
      }
      for (const h of held) {
        if (freeOne(h, d.id, true) === 'rcu') tot.rcu++;
        if ((++n & 255) === 0) book.beat();
      }
      held = [];
      drainIn();
      phase(PH.waiting);
      await new Promise((res) => setImmediate(res)); // let the kfree_rcu pump run
    }
    return tot;
  };

  port.on('message', (m: { type: string; remote?: Held[]; remoteHolder?: number; rounds?: number }) => {
    try {
      if (m.type === 'run') {
        void freeRunning(m.rounds!).then((tot) => {
          port.postMessage({ type: 'ran', tot, problems: book.counts, texts: book.texts.splice(0), warnings: warnings.splice(0).map((w) => `${w.kind}: ${w.message}`) });
        }, (e: unknown) => port.postMessage({ type: 'error', message: `worker ${d.id}: ${String((e as Error)?.stack ?? e)}` }));
      } else if (m.type === 'flush-inbox') {
        drainIn();
        phase(PH.waiting);
        port.postMessage({ type: 'flushed' });
      } else if (m.type === 'alloc') {
        const exhausted = [false, false, false];
        const counts = { a: 0, b: 0, km: 0, kmLarge: 0, zeros: 0 };
        let n = 0;
        while (n < MAX_ALLOCS && !(exhausted[0] && exhausted[1] && exhausted[2])) {
          let src = Math.floor(rnd() * 3);
          while (exhausted[src]) src = (src + 1) % 3;
          const [p, len] = allocFrom(src);
          n++;
          if ((n & 255) === 0) book.beat();
          if (p === 0) {
            exhausted[src] = true;
            counts.zeros++;
            continue;
          }
          if (!book.claim(p, len, src < 2 ? `cache ${caches[src]!.name}.alloc()` : `kmalloc(${len})`)) continue; // not used again
          const h: Held = { ptr: p, len, tag: tagOf(d.id, seq++), kind: src };
          book.write(h);
          held.push(h);
          if (src === 0) counts.a++;
          else if (src === 1) counts.b++;
          else if (len <= 8192) counts.km++;
          else counts.kmLarge++;
        }
        phase(PH.waiting);
        // A quarter goes to the peer (still claimed by us: the peer checks our id).
        const remote: Held[] = [];
        const keep: Held[] = [];
        for (const h of held) (rnd() < 0.25 ? remote : keep).push(h);
        held = keep;
        port.postMessage({ type: 'allocated', counts, remote, allocCalls: n, problems: book.counts, texts: book.texts.splice(0), warnings: warnings.splice(0).map((w) => `${w.kind}: ${w.message}`) });
      } else if (m.type === 'release') {
        // shuffle
        for (let i = held.length - 1; i > 0; i--) {
          const j = Math.floor(rnd() * (i + 1));
          [held[i], held[j]] = [held[j]!, held[i]!];
        }
        const out = { rcu: 0, free: 0, remote: 0, skipped: 0 };
        let n = 0;
        for (const h of held) {
          const r = freeOne(h, d.id, true);
          if (r === 'rcu') out.rcu++;
          else if (r === 'free') out.free++;
          else out.skipped++;
          if ((++n & 255) === 0) book.beat();
        }
        held = [];
        phase(PH['remote-free']);
        for (const h of m.remote ?? []) {
          const r = freeOne(h, m.remoteHolder!, true);
          if (r === 'skipped') out.skipped++;
          else out.remote++;
          if ((++n & 255) === 0) book.beat();
        }
        phase(PH.waiting);
        port.postMessage({ type: 'released', out, problems: book.counts, texts: book.texts.splice(0), warnings: warnings.splice(0).map((w) => `${w.kind}: ${w.message}`) });
      } else if (m.type === 'exit') {
        phase(PH.detach);
        a.detach();
        phase(PH.done);
        port.postMessage({ type: 'detached', warnings: warnings.splice(0).map((w) => `${w.kind}: ${w.message}`) });
        port.close();
      }
    } catch (e) {
      port.postMessage({ type: 'error', message: `worker ${d.id}: ${String((e as Error)?.stack ?? e)}` });
    }
  });
  port.postMessage({ type: 'ready', slot: a.threadId });
}
