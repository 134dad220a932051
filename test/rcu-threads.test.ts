// RCU across real worker threads on one SharedArrayBuffer (harness arena).
import test from 'node:test';
import assert from 'node:assert/strict';
import { attachHarness, createHarness, scratch } from './helpers/rcu-harness.js';
import { RcuWorker } from './helpers/rcu-workers.js';

for (const flavour of ['memb', 'qsbr'] as const) {
  test(`${flavour}: synchronize() waits for a reader in another thread`, async () => {
    const h = createHarness({ flavour });
    const me = attachHarness(h);
    const w = await RcuWorker.start(h);
    try {
      const flag = scratch(h, 1);
      // The worker enters a section and leaves it only after our GP sleeps waiting for it.
      const held = w.cmd(flavour === 'memb' ? 'hold-until-waited' : 'busy-until-waited', { word: flag });
      await w.next(flavour === 'memb' ? 'locked' : 'busy');
      me.rcu.synchronize();
      assert.equal(Atomics.load(me.i32, flag), 1, 'the GP ended after the reader left');
      await held;
      // Same with synchronizeAsync.
      Atomics.store(me.i32, flag, 0);
      const held2 = w.cmd(flavour === 'memb' ? 'hold-until-waited' : 'busy-until-waited', { word: flag });
      await w.next(flavour === 'memb' ? 'locked' : 'busy');
      await me.rcu.synchronizeAsync();
      assert.equal(Atomics.load(me.i32, flag), 1);
      await held2;
    } finally {
      await w.terminate();
    }
  });

  test(`${flavour}: a worker terminated inside a read section stops blocking synchronizeAsync once detached`, async () => {
    const h = createHarness({ flavour });
    const me = attachHarness(h);
    const w = await RcuWorker.start(h);
    const never = scratch(h, 2);
    if (flavour === 'memb') {
      assert.equal(await w.cmd('lock'), true);
      void w.cmd('busy-until-word', { word: never }).catch(() => {});
    } else {
      void w.cmd('busy-until-word', { word: never }).catch(() => {});
    }
    await w.next('busy');
    let done = false;
    const p = me.rcu.synchronizeAsync().then(() => { done = true; });
    // Let the GP start and go to sleep on the reader.
    while (Atomics.load(me.i32, me.rcu.core.futexW) !== -1) await new Promise((r) => setTimeout(r, 1));
    assert.equal(done, false);
    // arena.watch: when the worker exits, its slot is detached for it.
    await w.terminate();
    assert.equal(me.detachDead(w.slot, w.gen), 0);
    await p;
    assert.equal(done, true);
    // The slot no longer blocks anything; a second detach is a no-op.
    me.rcu.synchronize();
    assert.equal(me.detachDead(w.slot, w.gen), 0);
  });

  test(`${flavour}: barrier() and barrierAsync() wait for callbacks queued on other threads`, async () => {
    const h = createHarness({ flavour });
    const me = attachHarness(h);
    const a = await RcuWorker.start(h);
    const b = await RcuWorker.start(h);
    try {
      const ca = scratch(h, 10);
      const cb = scratch(h, 11);
      const mine = scratch(h, 12);
      for (let round = 0; round < 3; round++) {
        assert.equal(await a.cmd('call', { n: 50, word: ca }), 50);
        assert.equal(await b.cmd('call', { n: 70, word: cb }), 70);
        for (let k = 0; k < 5; k++) me.rcu.call(() => void Atomics.add(me.i32, mine, 1));
        if (round === 1) await me.rcu.barrierAsync();
        else me.rcu.barrier();
        assert.equal(Atomics.load(me.i32, ca), 50 * (round + 1));
        assert.equal(Atomics.load(me.i32, cb), 70 * (round + 1));
        assert.equal(Atomics.load(me.i32, mine), 5 * (round + 1));
      }
      // A worker's own barrier waits for the main thread's callbacks (served by our pump).
      const mc = scratch(h, 13);
      for (let k = 0; k < 10; k++) me.rcu.call(() => void Atomics.add(me.i32, mc, 1));
      await a.cmd('barrierAsync');
      assert.equal(Atomics.load(me.i32, mc), 10);
      // Barriers from two threads at once.
      await a.cmd('call', { n: 20, word: ca });
      await b.cmd('call', { n: 20, word: cb });
      await Promise.all([a.cmd('barrier'), b.cmd('barrierAsync'), me.rcu.barrierAsync()]);
      assert.equal(Atomics.load(me.i32, ca), 170);
      assert.equal(Atomics.load(me.i32, cb), 230);
    } finally {
      await a.terminate();
      await b.terminate();
    }
  });

  test(`${flavour}: a dead thread's callbacks are dropped and barrier does not wait for them`, async () => {
    const h = createHarness({ flavour });
    const me = attachHarness(h);
    const a = await RcuWorker.start(h);
    const ca = scratch(h, 20);
    // Keep the worker from draining: it is busy (no event loop) after queuing.
    await a.cmd('call', { n: 7, word: ca });
    void a.cmd('busy-until-word', { word: scratch(h, 21) }).catch(() => {});
    await a.next('busy');
    let finished = false;
    const p = me.rcu.barrierAsync().then(() => { finished = true; });
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(finished, false, 'barrier waits for the live, busy thread');
    await a.terminate();
    assert.equal(me.detachDead(a.slot, a.gen), 7, 'seven closures lost');
    await p;
    assert.equal(Atomics.load(me.i32, ca), 0);
  });
}

test('qsbr: an idle online thread is forced through a quiescent state; offline threads never block', async () => {
  const h = createHarness({ flavour: 'qsbr' });
  const me = attachHarness(h);
  const w = await RcuWorker.start(h);
  try {
    // Idle on its event loop: the REQ_RCU request makes it report a quiescent state.
    me.rcu.synchronize();
    await me.rcu.synchronizeAsync();
    // Offline and busy: does not block.
    await w.cmd('offline');
    const stop = scratch(h, 30);
    const busy = w.cmd('busy-until-word', { word: stop });
    await w.next('busy');
    me.rcu.synchronize();
    await me.rcu.synchronizeAsync();
    Atomics.store(me.i32, stop, 1);
    await busy;
    // Back online, busy without quiescent state: blocks until it reports one.
    await w.cmd('online');
    const flag = scratch(h, 31);
    const held = w.cmd('busy-until-waited', { word: flag });
    await w.next('busy');
    me.rcu.synchronize();
    assert.equal(Atomics.load(me.i32, flag), 1);
    await held;
    // A worker's synchronize() while the main thread is idle: our pump serves its request.
    assert.equal(await w.cmd('synchronize'), true);
  } finally {
    await w.terminate();
  }
});

test('memb: GP sharing — concurrent synchronize() calls from three threads all complete', async () => {
  const h = createHarness({ flavour: 'memb' });
  const me = attachHarness(h);
  const ws = await Promise.all([RcuWorker.start(h), RcuWorker.start(h)]);
  try {
    const jobs: Promise<unknown>[] = [];
    for (let k = 0; k < 50; k++) for (const w of ws) jobs.push(w.cmd(k % 2 ? 'synchronize' : 'synchronizeAsync'));
    for (let k = 0; k < 50; k++) await me.rcu.synchronizeAsync();
    await Promise.all(jobs);
  } finally {
    await Promise.all(ws.map((w) => w.terminate()));
  }
});
