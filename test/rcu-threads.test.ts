// RCU across real worker threads on one SharedArrayBuffer: on a real Arena
// (Arena.attach in the workers, arena.watch for dead ones) and on the stand-alone harness.
import test from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, type EnvKind } from './helpers/rcu-env.js';
import { RcuWorker } from './helpers/rcu-workers.js';

const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolve once some thread is blocked in Atomics.wait on word w, i.e. a *blocking* waiter
 * re-registers after being woken. A first notify drains any Atomics.waitAsync waiter of a
 * thread that cannot run its event loop (it cannot re-register until that thread returns);
 * from then on a notify that wakes someone proves a synchronous waiter is there. Polls a
 * condition (the runner's timeout is the hang guard); never sleeps to order events.
 */
async function blockedOn(i32: Int32Array, w: number): Promise<void> {
  Atomics.notify(i32, w);
  while (Atomics.notify(i32, w) === 0) await tick();
}

for (const kind of ['arena', 'harness'] as EnvKind[]) {
  for (const flavour of ['memb', 'qsbr'] as const) {
    const name = `${kind}/${flavour}`;

    test(`${name}: synchronize() waits for a reader in another thread`, async () => {
      const env = makeEnv(kind, { flavour });
      const w = await RcuWorker.start(env);
      try {
        const flag = env.scratch(1);
        // The worker enters a section (qsbr: stays online without a quiescent state) and
        // leaves it only after our GP went to sleep waiting for it.
        const op = flavour === 'memb' ? 'hold-until-waited' : 'busy-until-waited';
        const ev = flavour === 'memb' ? 'locked' : 'busy';
        const held = w.cmd(op, { word: flag });
        await w.next(ev);
        env.rcu.synchronize();
        assert.equal(Atomics.load(env.i32, flag), 1, 'the GP ended after the reader left');
        await held;
        Atomics.store(env.i32, flag, 0);
        const held2 = w.cmd(op, { word: flag });
        await w.next(ev);
        await env.rcu.synchronizeAsync();
        assert.equal(Atomics.load(env.i32, flag), 1);
        await held2;
      } finally {
        await w.terminate();
        env.close();
      }
    });

    test(`${name}: a worker terminated inside a read section stops blocking synchronizeAsync once detached`, async () => {
      const env = makeEnv(kind, { flavour });
      const w = await RcuWorker.start(env);
      if (flavour === 'memb') assert.equal(await w.cmd('lock'), true);
      void w.cmd('busy-until-word', { word: env.scratch(2) }).catch(() => {});
      await w.next('busy');
      let done = false;
      const p = env.rcu.synchronizeAsync().then(() => {
        done = true;
      });
      // Let the GP start and go to sleep on the reader.
      while (Atomics.load(env.i32, env.rcu.core.futexW) !== -1) await tick();
      assert.equal(done, false);
      await w.terminate(); // arena.watch detaches the slot on 'exit'
      await p;
      assert.equal(done, true);
      if (kind === 'harness') assert.equal(env.lastDropped, 0);
      env.rcu.synchronize();
      env.close();
    });

    test(`${name}: barrier() and barrierAsync() wait for callbacks queued on other threads`, async () => {
      const env = makeEnv(kind, { flavour });
      const a = await RcuWorker.start(env);
      const b = await RcuWorker.start(env);
      try {
        const [ca, cb, mine, mc] = [10, 11, 12, 13].map((i) => env.scratch(i)) as [number, number, number, number];
        for (let round = 0; round < 3; round++) {
          assert.equal(await a.cmd('call', { n: 50, word: ca }), 50);
          assert.equal(await b.cmd('call', { n: 70, word: cb }), 70);
          for (let k = 0; k < 5; k++) env.rcu.call(() => void Atomics.add(env.i32, mine, 1));
          if (round === 1) await env.rcu.barrierAsync();
          else env.rcu.barrier();
          assert.equal(Atomics.load(env.i32, ca), 50 * (round + 1));
          assert.equal(Atomics.load(env.i32, cb), 70 * (round + 1));
          assert.equal(Atomics.load(env.i32, mine), 5 * (round + 1));
        }
        // A worker's barrier waits for the main thread's callbacks (acknowledged by our pump).
        for (let k = 0; k < 10; k++) env.rcu.call(() => void Atomics.add(env.i32, mc, 1));
        await a.cmd('barrierAsync');
        assert.equal(Atomics.load(env.i32, mc), 10);
        // Barriers from three threads at once.
        await a.cmd('call', { n: 20, word: ca });
        await b.cmd('call', { n: 20, word: cb });
        await Promise.all([a.cmd('barrier'), b.cmd('barrierAsync'), env.rcu.barrierAsync()]);
        assert.equal(Atomics.load(env.i32, ca), 170);
        assert.equal(Atomics.load(env.i32, cb), 230);
      } finally {
        await a.terminate();
        await b.terminate();
        env.close();
      }
    });

    test(`${name}: a blocking synchronize() takes over the GP its own thread's async driver holds`, async () => {
      // The async driver keeps the GP mutex across awaits; a synchronous wait on the same
      // thread that waited for the mutex would wait for itself (the barrier hang).
      const env = makeEnv(kind, { flavour });
      const a = await RcuWorker.start(env);
      const b = await RcuWorker.start(env);
      try {
        const stop = env.scratch(40);
        let blocker: Promise<unknown>;
        if (flavour === 'memb') {
          assert.equal(await b.cmd('lock'), true);
          blocker = Promise.resolve();
        } else {
          blocker = b.cmd('busy-until-word', { word: stop });
          await b.next('busy');
        }
        const done = a.cmd('sync-over-own-async');
        await a.next('taking-over');
        // a is inside synchronize() now, its blocking driver asleep on G_FUTEX waiting for b.
        await blockedOn(env.i32, env.rcu.core.futexW);
        if (flavour === 'memb') assert.equal(await b.cmd('unlock'), false);
        else Atomics.store(env.i32, stop, 1);
        await blocker;
        let timer: NodeJS.Timeout | undefined;
        const hung = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('synchronize() waited for its own thread\'s async GP driver')), 5000);
        });
        try {
          assert.equal(await Promise.race([done, hung]), true);
        } finally {
          clearTimeout(timer);
        }
      } finally {
        await a.terminate();
        await b.terminate();
        env.close();
      }
    });

    test(`${name}: a dead thread's callbacks are dropped and barrier stops waiting for it`, async () => {
      const env = makeEnv(kind, { flavour });
      const a = await RcuWorker.start(env);
      const ca = env.scratch(20);
      // Queue callbacks and go busy in one command: its event loop never runs, so its
      // callbacks cannot run (as two commands, the callbacks could run in between).
      void a.cmd('call-then-busy-until-word', { n: 7, word: ca, value: env.scratch(21) }).catch(() => {});
      await a.next('busy');
      let finished = false;
      const p = env.rcu.barrierAsync().then(() => {
        finished = true;
      });
      // The barrier checked, found the busy thread's callbacks pending, and sleeps: on the
      // barrier futex for its acknowledgement, or (qsbr: the busy thread also stalls GPs)
      // on G_FUTEX driving the GP those callbacks need. Woken twice, it re-checks and goes
      // on waiting. (Nothing else in this thread waits on either word.)
      const core = env.rcu.core;
      for (let k = 0; k < 2; k++) {
        while (Atomics.notify(env.i32, core.barrierFutexW) + Atomics.notify(env.i32, core.futexW) === 0) await tick();
      }
      assert.equal(finished, false, 'barrier waits for the live, busy thread');
      await a.terminate();
      await p;
      assert.equal(Atomics.load(env.i32, ca), 0, 'the closures of the dead thread never ran');
      if (kind === 'harness') assert.equal(env.lastDropped, 7, 'detachDeadSlot counts the lost callbacks');
      env.close();
    });
  }

  test(`${kind}/qsbr: an idle online thread is forced through a quiescent state; offline threads never block`, async () => {
    const env = makeEnv(kind, { flavour: 'qsbr' });
    const w = await RcuWorker.start(env);
    try {
      // Idle on its event loop: the REQ_RCU request makes it report a quiescent state.
      env.rcu.synchronize();
      await env.rcu.synchronizeAsync();
      // Offline and busy: does not block.
      await w.cmd('offline');
      const stop = env.scratch(30);
      const busy = w.cmd('busy-until-word', { word: stop });
      await w.next('busy');
      env.rcu.synchronize();
      await env.rcu.synchronizeAsync();
      Atomics.store(env.i32, stop, 1);
      await busy;
      // Back online, busy without a quiescent state: blocks until it reports one.
      await w.cmd('online');
      const flag = env.scratch(31);
      const held = w.cmd('busy-until-waited', { word: flag });
      await w.next('busy');
      env.rcu.synchronize();
      assert.equal(Atomics.load(env.i32, flag), 1);
      await held;
      // A worker's synchronize() while the main thread idles: our pump serves its request.
      assert.equal(await w.cmd('synchronize'), true);
    } finally {
      await w.terminate();
      env.close();
    }
  });

  test(`${kind}/memb: concurrent synchronize() calls from three threads share and complete`, async () => {
    const env = makeEnv(kind, { flavour: 'memb' });
    const ws = await Promise.all([RcuWorker.start(env), RcuWorker.start(env)]);
    try {
      const seq0 = env.rcu.core.seq();
      const jobs: Promise<unknown>[] = [];
      for (let k = 0; k < 50; k++) for (const w of ws) jobs.push(w.cmd(k % 2 ? 'synchronize' : 'synchronizeAsync'));
      const mine: boolean[] = [];
      for (let k = 0; k < 50; k++) {
        const cookie = env.rcu.getState();
        await env.rcu.synchronizeAsync();
        mine.push(env.rcu.pollState(cookie));
      }
      // Every call, in every thread, returned only after a full grace period since it began.
      assert.deepEqual(await Promise.all(jobs), jobs.map(() => true));
      assert.deepEqual(mine, mine.map(() => true));
      // Our 50 calls were sequential, so they needed 50 distinct grace periods at least;
      // the 150 calls shared them (a GP ends 4 sequence steps later).
      const gps = Math.floor(((env.rcu.core.seq() | 3) - (seq0 | 3)) / 4);
      assert.ok(gps >= 50 && gps <= 300, `${gps} grace periods for 150 synchronize() calls`);
    } finally {
      await Promise.all(ws.map((w) => w.terminate()));
      env.close();
    }
  });
}
