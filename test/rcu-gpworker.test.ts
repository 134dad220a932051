// startRcuWorker(): a background thread drives grace periods for async waiters.
import test from 'node:test';
import assert from 'node:assert/strict';
import { startRcuWorker } from '../src/node.js';
import { makeEnv } from './helpers/rcu-env.js';
import { RcuWorker } from './helpers/rcu-workers.js';
import { gpHolder } from '../src/rcu/gpmutex.js';

for (const flavour of ['memb', 'qsbr'] as const) {
  test(`${flavour}: the RCU worker runs the GPs of synchronizeAsync, call and startPoll`, async () => {
    const env = makeEnv('arena', { flavour });
    const rcu = env.rcu;
    const h = await startRcuWorker(env.arena!);
    const reader = await RcuWorker.start(env);
    try {
      assert.equal(rcu.core.driverPresent(), true);
      // A reader holds a section; the GP that waits for it is the RCU worker's.
      const flag = env.scratch(1);
      // The reader leaves only after the GP waits for it *and* we have seen who holds the
      // GP mutex (`go`): otherwise the whole GP can begin and end between two polls.
      const go = env.scratch(2);
      const held = reader.cmd(flavour === 'memb' ? 'hold-until-waited' : 'busy-until-waited', { word: flag, go });
      await reader.next(flavour === 'memb' ? 'locked' : 'busy');
      const p = rcu.synchronizeAsync();
      while (gpHolder(env.i32, rcu.core.mutexW) === -1) await new Promise((r) => setTimeout(r, 1));
      assert.equal(gpHolder(env.i32, rcu.core.mutexW), h.slot, 'the RCU worker holds the GP mutex');
      Atomics.store(env.i32, go, 1);
      await p;
      assert.equal(Atomics.load(env.i32, flag), 1);
      await held;
      // Callbacks and polled GPs complete through it as well.
      let ran = 0;
      for (let k = 0; k < 10; k++) rcu.call(() => void ran++);
      await rcu.barrierAsync();
      assert.equal(ran, 10);
      const c = rcu.startPoll();
      while (!rcu.pollState(c)) await new Promise((r) => setTimeout(r, 1));
      // A second driver is refused.
      await assert.rejects(startRcuWorker(env.arena!), /already runs/);
      await h.stop();
      assert.equal(rcu.core.driverPresent(), false);
      // Without it, async waiters drive GPs themselves.
      await rcu.synchronizeAsync();
    } finally {
      await reader.terminate();
      await h.stop();
      env.close();
    }
  });
}

test('a terminated RCU worker is detached and async waiters fall back to driving GPs', async () => {
  const env = makeEnv('arena', { flavour: 'memb' });
  const h = await startRcuWorker(env.arena!);
  assert.equal(env.rcu.core.driverPresent(), true);
  await h.worker.terminate();
  assert.equal(env.rcu.core.driverPresent(), false);
  await env.rcu.synchronizeAsync();
  env.close();
});
