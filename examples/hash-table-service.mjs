// A small "session service": sessions live in an RcuHashTable in the arena. One writer
// worker updates them by copy, update, publish (the old copy goes to kfreeRcu), two reader
// workers look them up without locks inside RCU read sections and check every copy they
// see is whole (a torn or freed entry would fail the check).
// Run from a clone after `npm run build`: node examples/hash-table-service.mjs
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena, RcuHashTable, defineStruct } from 'slabrcu';

const Session = defineStruct({ id: 'u32', hits: 'u32', check: 'u32', next: 'ptr' });
const KEYS = 100;
const UPDATES_PER_KEY = 20;
const checkOf = (id, hits) => (Math.imul(id, 0x9e3779b1) ^ hits) >>> 0;

if (isMainThread) {
  const arena = Arena.create({ bytes: 16 << 20 });
  const cache = arena.createCache('session', { size: Session.size, align: Session.align });
  const table = RcuHashTable.create(arena, { struct: Session, key: 'id', next: 'next', buckets: 64 });
  for (let id = 1; id <= KEYS; id++) {
    const p = cache.alloc();
    Session.write(arena, p, { id, hits: 0, check: checkOf(id, 0), next: 0 });
    table.insert(p);
  }
  const stop = new Int32Array(new SharedArrayBuffer(4)); // readers run until the writer is done
  const start = (role) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { sab: arena.sab, table: table.ptr, stop: stop.buffer, role } });
    arena.watch(w);
    return new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  };
  const readers = [start('reader'), start('reader')];
  const writer = await start('writer');
  Atomics.store(stop, 0, 1);
  console.log(`writer: ${writer.updates} updates`);
  for (const [i, r] of (await Promise.all(readers)).entries()) {
    console.log(`reader ${i + 1}: ${r.torn} torn or freed entries seen`);
  }
  const total = arena.rcu.read(() => {
    let sum = 0;
    table.forEach((p) => { sum += Session.get(arena, p, 'hits'); });
    return sum;
  });
  console.log(`main: ${table.count} sessions, ${total} hits in all`);
  table.destroy(); // unlinks every entry (kfreeRcu) and frees the table
  console.log(`main: destroy -> ${(await cache.destroy()).status}`);
} else {
  const arena = Arena.attach(workerData.sab);
  const table = RcuHashTable.attach(arena, workerData.table);
  const stop = new Int32Array(workerData.stop);
  if (workerData.role === 'writer') {
    const cache = arena.findCache('session');
    if (cache === undefined) throw new Error('no cache named session');
    let updates = 0;
    for (let round = 1; round <= UPDATES_PER_KEY; round++) {
      for (let id = 1; id <= KEYS; id++) {
        const nw = table.update(id, () => cache.alloc(), (entry) => {
          Session.set(arena, entry, 'hits', round);
          Session.set(arena, entry, 'check', checkOf(id, round));
        });
        if (nw !== 0) updates++;
      }
    }
    arena.detach();
    parentPort.postMessage({ updates });
  } else {
    let torn = 0;
    let lookups = 0;
    // At least one pass over every key, then until the writer is done.
    do {
      arena.rcu.read(() => {
        for (let id = 1; id <= KEYS; id++) {
          const p = table.lookup(id);
          lookups++;
          if (p === 0 || Session.get(arena, p, 'id') !== id || Session.get(arena, p, 'check') !== checkOf(id, Session.get(arena, p, 'hits'))) torn++;
        }
      });
      await new Promise((resolve) => setImmediate(resolve)); // an event-loop turn: serve the arena's requests
    } while (Atomics.load(stop, 0) === 0);
    arena.detach();
    parentPort.postMessage({ torn, lookups });
  }
}
