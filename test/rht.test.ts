import test from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Arena, RcuHashTable, defineStruct } from '../src/index.js';
import { SESSION_CACHE, Session, initSession, sessionValid } from '../src/demo/session.js';

const WORKER = new URL('./workers/rht-worker.js', import.meta.url);

function setup(opts: { keys: number; buckets?: number; flags?: number }) {
  const arena = Arena.create({ bytes: 32 << 20 });
  const cache = arena.createCache(SESSION_CACHE, { size: Session.size, align: Session.align, flags: opts.flags });
  const table = RcuHashTable.create(arena, { struct: Session, key: 'id', next: 'next', buckets: opts.buckets ?? 256 });
  for (let k = 1; k <= opts.keys; k++) {
    const p = cache.alloc();
    initSession(arena, p, k, 0);
    assert.equal(table.insert(p), true);
  }
  return { arena, cache, table };
}

type Msg = Record<string, unknown> & { kind: string };

function spawn(arena: Arena, data: Record<string, unknown>): { w: Worker; next: () => Promise<Msg>; exited: Promise<number> } {
  const w = new Worker(WORKER, { workerData: { sab: arena.sab, ...data } });
  arena.watch(w);
  const queue: Msg[] = [];
  const waiters: ((m: Msg) => void)[] = [];
  w.on('message', (m: Msg) => (waiters.length ? waiters.shift()!(m) : queue.push(m)));
  const exited = new Promise<number>((resolve, reject) => {
    w.once('error', reject);
    w.once('exit', resolve);
  });
  return { w, exited, next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))) };
}

test('insert, lookup, update, remove, clear keep counts and contents consistent', async () => {
  const { arena, cache, table } = setup({ keys: 500, buckets: 16 });
  assert.equal(table.buckets, 16);
  assert.equal(table.count, 500);
  arena.rcu.read(() => {
    for (let k = 1; k <= 500; k++) assert.ok(sessionValid(arena, table.lookup(k), k), `key ${k}`);
    assert.equal(table.lookup(501), 0);
  });
  // A duplicate key is refused and stays the caller's.
  const dup = cache.alloc();
  initSession(arena, dup, 7, 0);
  assert.equal(table.insert(dup), false);
  cache.free(dup);

  const old = arena.rcu.read(() => table.lookup(7));
  const nw = table.update(7, () => cache.alloc(), (p) => Session.set(arena, p, 'hits', 41));
  assert.notEqual(nw, 0);
  assert.notEqual(nw, old);
  assert.equal(arena.rcu.read(() => table.lookup(7)), nw);
  assert.equal(Session.get(arena, nw, 'hits'), 41);
  assert.equal(table.update(9999, () => cache.alloc(), () => {}), 0, 'absent key: nothing allocated');

  // replace() refuses a stale old pointer (someone replaced it already).
  const fresh = cache.alloc();
  initSession(arena, fresh, 7, 1);
  assert.equal(table.replace(old, fresh), false);
  assert.equal(table.replace(nw, fresh), true);
  assert.throws(() => table.replace(fresh, arena.rcu.read(() => table.lookup(8))), /different key/);

  assert.equal(table.remove(8), true);
  assert.equal(table.remove(8), false);
  assert.equal(arena.rcu.read(() => table.lookup(8)), 0);
  let seen = 0;
  arena.rcu.read(() => table.forEach(() => seen++));
  assert.equal(seen, 499);
  assert.deepEqual(table.stats(), { buckets: 16, count: 499, inserts: 500, removes: 1, replaces: 2 });

  // Everything released went through kfreeRcu: after the barrier the cache holds exactly the linked entries.
  await arena.kvfreeRcuBarrierAsync();
  assert.equal(cache.stats().objects, 499);
  assert.equal(table.clear(), 499);
  await arena.kvfreeRcuBarrierAsync();
  assert.equal(cache.stats().objects, 0);
  assert.equal(table.count, 0);
  table.destroy();
  assert.throws(() => table.insert(cache.alloc()), /after destroy/);
  assert.throws(() => RcuHashTable.attach(arena, table.ptr), /no RCU hash table/);
});

test('bad table definitions are refused', () => {
  const arena = Arena.create({ bytes: 8 << 20 });
  const S = defineStruct({ key: 'u32', value: 'f64', next: 'ptr', other: 'u32' });
  // @ts-expect-error: value is not a 32-bit field
  assert.throws(() => RcuHashTable.create(arena, { struct: S, key: 'value', next: 'next' }), /32-bit integer/);
  assert.throws(() => RcuHashTable.create(arena, { struct: S, key: 'key', next: 'other' }), /must be a 'ptr' field/);
  assert.throws(() => RcuHashTable.create(arena, { struct: S, key: 'key', next: 'next', buckets: 0 }), /buckets/);
  const t = RcuHashTable.create(arena, { struct: S, key: 'key', next: 'next', buckets: 1000 });
  assert.equal(t.buckets, 1024);
  arena.detach();
});

test('an entry removed while a reader holds it is neither freed nor reused until the reader leaves', async () => {
  const { arena, cache, table } = setup({ keys: 1 });
  const ctl = new SharedArrayBuffer(4);
  const r = spawn(arena, { ctl, table: table.ptr, mode: 'hold', ops: 0, keys: 1, id: 1 });
  const held = await r.next();
  assert.equal(held.before, true);
  const p = held.p as number;
  assert.equal(table.remove(1), true); // kfreeRcu(p): must wait for the reader
  assert.equal(arena.rcu.read(() => table.lookup(1)), 0, 'new readers no longer find it');
  // If p had been freed already it would be at the head of this thread's freelist:
  // allocate and scribble over a batch of objects, as a busy program would.
  const fillers: number[] = [];
  for (let i = 0; i < 64; i++) {
    const q = cache.alloc();
    assert.notEqual(q, p, 'the removed entry was handed out again inside a read section');
    arena.u8.fill(0xee, q, q + Session.size);
    fillers.push(q);
  }
  Atomics.store(new Int32Array(ctl), 0, 1);
  Atomics.notify(new Int32Array(ctl), 0);
  const done = await r.next();
  assert.equal(done.after, true, 'the reader saw the entry intact after it was removed');
  await r.exited;
  await arena.kvfreeRcuBarrierAsync();
  assert.equal(cache.stats().objects, fillers.length, 'freed once the grace period ended');
  for (const q of fillers) cache.free(q);
  assert.equal(cache.stats().objects, 0);
});

test('readers and writers on workers: no reader ever sees a freed or half-built entry; counts add up', async () => {
  const KEYS = 2000;
  const { arena, cache, table } = setup({ keys: KEYS, buckets: 512 });
  const ctl = new SharedArrayBuffer(4);
  const common = { ctl, table: table.ptr, keys: KEYS };
  const readers = [1, 2].map((id) => spawn(arena, { ...common, mode: 'reader', ops: 200_000, id }));
  const writers = [3, 4].map((id) => spawn(arena, { ...common, mode: 'writer', ops: 20_000, id }));
  const rres = await Promise.all(readers.map((r) => r.next()));
  const wres = await Promise.all(writers.map((w) => w.next()));
  await Promise.all([...readers, ...writers].map((x) => x.exited));
  for (const r of rres) {
    assert.equal(r.errors, 0, 'a reader saw a bad entry');
    assert.equal((r.hits as number) + (r.misses as number), 200_000);
  }
  const updates = wres.reduce((s, w) => s + (w.updates as number), 0);
  const reinserts = wres.reduce((s, w) => s + (w.reinserts as number), 0);
  assert.ok(updates > 0);
  const st = table.stats();
  assert.equal(st.count, st.inserts - st.removes);
  assert.equal(st.inserts, KEYS + reinserts);
  assert.equal(st.replaces, updates);
  let walked = 0;
  arena.rcu.read(() => table.forEach((p) => {
    walked++;
    assert.ok(sessionValid(arena, p, Session.get(arena, p, 'id')));
  }));
  assert.equal(walked, st.count);
  // Every replaced or removed entry was kfreeRcu'd: after the barrier only linked ones are allocated.
  await arena.kvfreeRcuBarrierAsync();
  assert.equal(cache.stats().objects, st.count);
});
