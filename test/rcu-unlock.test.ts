// memb readUnlock() paths: 'x64' (plain load + plain release store under x86-TSO, whose
// wake of a sleeping GP driver can be lost) and 'portable' (Atomics.exchange). Both must
// make a grace period wait for a reader in another thread; a lost wake must cost only a
// short nap. The read-side methods must stay on per-mode prototypes (the qsbr no-op is
// free only as a constant method, see src/rcu/index.ts).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Arena } from '../src/arena.js';
import { TSO_HOST, defaultUnlockPath } from '../src/rcu/index.js';
import { S_FAST } from '../src/rcu/layout.js';
import { makeEnv } from './helpers/rcu-env.js';
import { RcuWorker } from './helpers/rcu-workers.js';

const paths = TSO_HOST ? (['x64', 'portable'] as const) : (['portable'] as const);

test('unlock path: default, switching, S_FAST, refusals', () => {
  const arena = Arena.create({ bytes: 4 << 20, maxThreads: 4, rcu: 'memb' });
  const { rcu, i32 } = arena;
  const fastW = rcu.core.sw(rcu.slot, S_FAST);
  assert.equal(rcu.unlockPath, defaultUnlockPath());
  if (process.env.SLABRCU_RCU_UNLOCK !== 'portable') assert.equal(rcu.unlockPath, TSO_HOST ? 'x64' : 'portable');
  for (const p of paths) {
    rcu.setUnlockPath(p);
    assert.equal(rcu.unlockPath, p);
    assert.equal(Atomics.load(i32, fastW), p === 'x64' ? 1 : 0);
    // Nesting, the reader word, misuse: the same on both paths.
    rcu.readLock();
    rcu.readLock();
    assert.notEqual(Atomics.load(i32, rcu.readerW), 0);
    assert.throws(() => rcu.setUnlockPath('portable'), /inside a read-side critical section/);
    rcu.readUnlock();
    assert.notEqual(Atomics.load(i32, rcu.readerW), 0, 'still nested');
    rcu.readUnlock();
    assert.equal(Atomics.load(i32, rcu.readerW), 0);
    assert.throws(() => rcu.readUnlock(), /readUnlock\(\) without a matching readLock\(\)/);
    assert.equal(rcu.read(() => 42), 42);
    assert.equal(rcu.inReadSection, false);
    rcu.synchronize();
  }
  assert.throws(() => rcu.setUnlockPath('arm' as never), RangeError);
  if (!TSO_HOST) assert.throws(() => rcu.setUnlockPath('x64'), RangeError);
  arena.detach();
  assert.throws(() => rcu.readLock(), /detached/);
});

test('read-side methods are prototype constants, never own (reassigned) fields', () => {
  for (const flavour of ['memb', 'qsbr'] as const) {
    const arena = Arena.create({ bytes: 4 << 20, maxThreads: 4, rcu: flavour });
    const { rcu } = arena;
    const check = (): void => {
      for (const m of ['readLock', 'readUnlock', 'read']) {
        assert.equal(Object.hasOwn(rcu, m), false, `${flavour}: ${m} is an own field`);
        assert.equal(Object.hasOwn(Object.getPrototypeOf(rcu) as object, m), true, `${flavour}: ${m} not on the mode prototype`);
      }
    };
    check();
    const before = Object.getPrototypeOf(rcu) as object;
    rcu.setDebug(true);
    check();
    assert.notEqual(Object.getPrototypeOf(rcu), before, 'setDebug swaps the prototype');
    rcu.readLock();
    assert.equal(rcu.inReadSection, true);
    rcu.readUnlock();
    rcu.setDebug(false);
    assert.equal(Object.getPrototypeOf(rcu), before);
    if (flavour === 'qsbr') {
      rcu.readLock();
      assert.equal(rcu.inReadSection, false, 'qsbr without debug: no tracking');
      rcu.readUnlock();
    }
    arena.detach();
    check();
  }
});

for (const path of paths) {
  for (const how of ['synchronize', 'synchronizeAsync'] as const) {
    test(`memb, ${path} unlock: ${how}() waits for a reader in a worker`, async () => {
      const env = makeEnv('arena', { flavour: 'memb' });
      const w = await RcuWorker.start(env);
      try {
        assert.equal(await w.cmd('set-unlock', { value: path === 'x64' ? 1 : 0 }), path);
        for (let round = 0; round < 3; round++) {
          const start = env.scratch(10);
          const left = start + 1;
          Atomics.store(env.i32, start, 0);
          Atomics.store(env.i32, left, 0);
          const held = w.cmd('hold-for-sync', { word: start }) as Promise<{ sawWaiter: boolean; path: string }>;
          await w.next('locked');
          Atomics.store(env.i32, start, 1);
          if (how === 'synchronize') env.rcu.synchronize();
          else await env.rcu.synchronizeAsync();
          // The worker sets `left` just before it leaves its section: a GP that returned
          // without waiting for it would see 0 here (the worker waits up to 500 ms first).
          assert.equal(Atomics.load(env.i32, left), 1, `${how}() returned before the reader left its section`);
          const r = await held;
          assert.equal(r.path, path);
          assert.equal(r.sawWaiter, true, 'the GP driver slept on the reader with MEMB_WAITER set');
        }
      } finally {
        await w.terminate();
        env.close();
      }
    });
  }
}

test('memb, x64 unlock: a lost wake does not lose the grace period: synchronize() returns once the reader left', { skip: !TSO_HOST && 'x64 only' }, async () => {
  const env = makeEnv('arena', { flavour: 'memb' });
  const w = await RcuWorker.start(env);
  try {
    assert.equal(await w.cmd('set-unlock', { value: 1 }), 'x64');
    const start = env.scratch(10);
    const left = start + 1;
    // n: 1 = the worker leaves without waking us, as when our MEMB_WAITER CAS lands
    // between its plain load and its plain store.
    const held = w.cmd('hold-for-sync', { word: start, n: 1 }) as Promise<{ sawWaiter: boolean }>;
    await w.next('locked');
    Atomics.store(env.i32, start, 1);
    env.rcu.synchronize();
    assert.equal(Atomics.load(env.i32, left), 1, 'synchronize() returned before the reader left');
    assert.equal((await held).sawWaiter, true);
    // The driver naps 0.25 ms doubling to 4 ms between scans (rcu/core.ts FAST_NAP_*), so the
    // GP ends a few ms after the reader left instead of waiting for a wake that never comes.
    // How long that takes is a latency, not a property: it is not asserted here (no timing
    // thresholds in tests).
  } finally {
    await w.terminate();
    env.close();
  }
});
