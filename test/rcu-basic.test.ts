// Single-thread RCU behaviour: misuse refused, polled grace periods, callbacks, wrap.
import test from 'node:test';
import assert from 'node:assert/strict';
import { attachHarness, createHarness } from './helpers/rcu-harness.js';
import { COOKIE_COMPLETED } from '../src/rcu/index.js';
import { G_SEQ } from '../src/rcu/layout.js';

for (const flavour of ['memb', 'qsbr'] as const) {
  test(`${flavour}: misuse is refused`, async () => {
    const h = createHarness({ flavour });
    const { rcu } = attachHarness(h);
    // qsbr tracks read sections only with debug on (liburcu-qsbr: rcu_read_lock is a no-op).
    if (flavour === 'qsbr') rcu.setDebug(true);
    assert.throws(() => rcu.readUnlock(), /readUnlock\(\) without a matching readLock\(\)/);
    rcu.readLock();
    rcu.readLock();
    assert.equal(rcu.inReadSection, true);
    assert.throws(() => rcu.synchronize(), /synchronize\(\) inside a read-side critical section would deadlock/);
    assert.throws(() => rcu.barrier(), /barrier\(\) inside a read-side critical section would deadlock/);
    await assert.rejects(rcu.synchronizeAsync(), /synchronizeAsync\(\) inside a read-side critical section/);
    await assert.rejects(rcu.barrierAsync(), /barrierAsync\(\) inside a read-side critical section/);
    assert.throws(() => rcu.quiescentState(), /quiescentState\(\) inside a read-side critical section/);
    rcu.readUnlock();
    assert.equal(rcu.inReadSection, true);
    rcu.readUnlock();
    assert.equal(rcu.inReadSection, false);
    assert.throws(() => rcu.readUnlock(), /without a matching readLock/);
    // read(fn) returns fn's value and leaves the section even when fn throws.
    assert.equal(rcu.read(() => 42), 42);
    assert.throws(() => rcu.read(() => { throw new Error('inside'); }), /inside/);
    assert.equal(rcu.inReadSection, false);
    rcu.synchronize();
  });

  test(`${flavour}: debug mode reports a read section left open across an await`, async () => {
    const h = createHarness({ flavour, debug: true });
    const att = attachHarness(h);
    const { rcu } = att;
    rcu.readLock();
    await Promise.resolve();
    rcu.readUnlock();
    const w = att.warnings.filter((x) => x.kind === 'rcu-read-across-await');
    assert.equal(w.length, 1);
    assert.match(w[0]!.message, new RegExp(`^WARNING: suspicious RCU usage: read-side critical section of thread slot ${att.slot} left open across an await$`));
    // A section closed within its task is not reported.
    rcu.read(() => 1);
    await Promise.resolve();
    assert.equal(att.warnings.filter((x) => x.kind === 'rcu-read-across-await').length, 1);
    // read(fn) with an async fn is refused in debug mode.
    assert.throws(() => rcu.read(async () => 1), /cannot span an await/);
  });

  test(`${flavour}: polled grace periods`, async () => {
    const h = createHarness({ flavour });
    const { rcu } = attachHarness(h);
    const c1 = rcu.getState();
    assert.equal(rcu.pollState(c1), false);
    assert.equal(rcu.getState(), c1, 'getState does not start a GP');
    rcu.synchronize();
    assert.equal(rcu.pollState(c1), true);
    assert.equal(rcu.pollState(rcu.getCompletedState()), true);
    assert.equal(rcu.getCompletedState(), COOKIE_COMPLETED);
    // startPoll makes a GP happen without anyone blocking.
    const c2 = rcu.startPoll();
    assert.equal(rcu.pollState(c2), false);
    while (!rcu.pollState(c2)) await new Promise((r) => setTimeout(r, 1));
    // condSynchronize returns at once for a completed cookie and waits otherwise.
    rcu.condSynchronize(c2);
    const c3 = rcu.getState();
    rcu.condSynchronize(c3);
    assert.equal(rcu.pollState(c3), true);
  });

  test(`${flavour}: cookies stay right across the 32-bit wrap of the GP counter`, () => {
    const h = createHarness({ flavour });
    const { rcu, i32 } = attachHarness(h);
    const seqW = h.rcuBase + G_SEQ;
    assert.ok(Atomics.load(i32, seqW) < 0, 'the counter starts below the wrap');
    const held = rcu.getState();
    let crossed = false;
    let prev = Atomics.load(i32, seqW);
    for (let k = 0; k < 700; k++) {
      const c = rcu.getState();
      assert.equal(rcu.pollState(c), false);
      rcu.synchronize();
      assert.equal(rcu.pollState(c), true);
      assert.equal(rcu.pollState(held), true);
      const s = Atomics.load(i32, seqW);
      if (prev < 0 && s >= 0) crossed = true;
      prev = s;
    }
    assert.ok(crossed, 'the counter crossed 0');
    // Wrap to the int32 limit as well: start a fresh region right below 2^31.
    Atomics.store(i32, seqW, 0x7ffffff0 | 0);
    const c = rcu.getState();
    for (let k = 0; k < 8; k++) {
      rcu.synchronize();
      assert.equal(rcu.pollState(c), true);
    }
    assert.ok(Atomics.load(i32, seqW) < 0, 'wrapped past 2^31');
    assert.equal(rcu.pollState(rcu.getState()), false);
  });

  test(`${flavour}: call() runs callbacks in order on the owner, after a GP, never inside call()`, async () => {
    const h = createHarness({ flavour });
    const { rcu } = attachHarness(h);
    const order: number[] = [];
    const cookie = rcu.getState();
    for (let k = 0; k < 5; k++) rcu.call(() => {
      assert.equal(rcu.pollState(cookie), true, 'a GP elapsed before the callback');
      order.push(k);
    });
    assert.deepEqual(order, []);
    assert.equal(rcu.pendingCallbacks, 5);
    await rcu.barrierAsync();
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(rcu.pendingCallbacks, 0);
    // Without a barrier the pump runs them by itself.
    let ran = false;
    rcu.call(() => { ran = true; });
    while (!ran) await new Promise((r) => setTimeout(r, 1));
  });

  test(`${flavour}: barrier() runs this thread's callbacks inline; barrier inside a callback is refused`, () => {
    const h = createHarness({ flavour });
    const att = attachHarness(h);
    const { rcu } = att;
    let n = 0;
    for (let k = 0; k < 100; k++) rcu.call(() => { n++; });
    rcu.call(() => rcu.barrier());
    rcu.barrier();
    assert.equal(n, 100);
    const errs = att.warnings.filter((w) => w.kind === 'rcu-callback-error');
    assert.equal(errs.length, 1);
    assert.match(errs[0]!.message, /barrier\(\) inside an RCU callback would wait for itself/);
    // Nothing queued: barrier returns without a GP.
    const c = rcu.getState();
    rcu.barrier();
    assert.equal(rcu.pollState(c), false);
  });

  test(`${flavour}: detach() runs pending callbacks, then refuses further use`, () => {
    const h = createHarness({ flavour });
    const att = attachHarness(h);
    let n = 0;
    att.rcu.call(() => { n++; });
    att.detach();
    assert.equal(n, 1);
    assert.throws(() => att.rcu.readLock(), /detached/);
    assert.throws(() => att.rcu.synchronize(), /detached/);
    assert.throws(() => att.rcu.call(() => {}), /detached/);
  });
}

test('qsbr without debug: read sections cost nothing and are not tracked', () => {
  const h = createHarness({ flavour: 'qsbr' });
  const { rcu } = attachHarness(h);
  assert.equal(rcu.tracksSections, false);
  rcu.readLock();
  assert.equal(rcu.inReadSection, false);
  assert.equal(rcu.mayWaitImplicitly, false);
  rcu.readUnlock();
  rcu.readUnlock(); // not refused without debug
  assert.equal(rcu.read(() => 7), 7);
  rcu.synchronize();
  // The per-thread opt-in brings the checks back...
  rcu.setDebug(true);
  assert.equal(rcu.tracksSections, true);
  assert.throws(() => rcu.readUnlock(), /without a matching readLock/);
  rcu.readLock();
  assert.equal(rcu.inReadSection, true);
  assert.throws(() => rcu.setDebug(false), /inside a read-side critical section/);
  assert.throws(() => rcu.synchronize(), /would deadlock/);
  rcu.readUnlock();
  assert.equal(rcu.mayWaitImplicitly, true);
  // ...and can be switched off again.
  rcu.setDebug(false);
  rcu.readLock();
  assert.equal(rcu.inReadSection, false);
  rcu.synchronize();
});

test('qsbr with the arena debug option: sections are tracked', () => {
  const h = createHarness({ flavour: 'qsbr', debug: true });
  const { rcu } = attachHarness(h);
  assert.equal(rcu.tracksSections, true);
  rcu.readLock();
  assert.equal(rcu.inReadSection, true);
  assert.throws(() => rcu.synchronize(), /would deadlock/);
  rcu.readUnlock();
});

test('memb: read sections are always tracked', () => {
  const h = createHarness({ flavour: 'memb' });
  const { rcu } = attachHarness(h);
  assert.equal(rcu.tracksSections, true);
  assert.throws(() => rcu.readUnlock(), /without a matching readLock/);
  assert.equal(rcu.read(() => { assert.equal(rcu.inReadSection, true); return 3; }), 3);
  assert.equal(rcu.inReadSection, false);
});

test('qsbr: offline()/online() and readLock while offline (debug)', () => {
  const h = createHarness({ flavour: 'qsbr' });
  const { rcu } = attachHarness(h);
  rcu.setDebug(true);
  rcu.offline();
  assert.throws(() => rcu.readLock(), /offline/);
  assert.equal(rcu.inReadSection, false);
  rcu.synchronize();
  rcu.online();
  rcu.read(() => 0);
  rcu.readLock();
  assert.throws(() => rcu.offline(), /offline\(\) inside a read-side critical section/);
  rcu.readUnlock();
});
