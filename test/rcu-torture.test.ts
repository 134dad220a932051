// The rcutorture "age" stress on real workers: a correct RCU passes, a broken one is caught.
import test from 'node:test';
import assert from 'node:assert/strict';
import { runTorture, RCU_STRESS_PIPE_LEN } from '../src/rcu/torture.js';
import { TSO_HOST } from '../src/rcu/index.js';

// memb runs with both readUnlock() paths (x64: plain release store, x64 hosts only;
// portable: Atomics.exchange); qsbr read sections have no shared store.
const modes: { flavour: 'memb' | 'qsbr'; unlock?: 'x64' | 'portable' }[] = [
  ...(TSO_HOST ? [{ flavour: 'memb' as const, unlock: 'x64' as const }] : []),
  { flavour: 'memb', unlock: 'portable' },
  { flavour: 'qsbr' },
];

for (const { flavour, unlock } of modes) {
  const name = unlock ? `${flavour}/${unlock} unlock` : flavour;
  test(`torture ${name}: 2 readers + 1 writer, no reader sees an element older than one GP`, async () => {
    const r = await runTorture({ flavour, seconds: 1, readers: 2, ...(unlock ? { unlock } : {}) });
    if (unlock) assert.equal(r.unlock, unlock);
    assert.equal(r.histogram.length, RCU_STRESS_PIPE_LEN + 1);
    assert.ok(r.reads > 0 && r.updates > 0, r.summary);
    assert.equal(r.histogram.reduce((a, b) => a + b, 0), r.reads);
    assert.equal(r.failures, 0, r.summary);
    assert.equal(r.mbErrors, 0, r.summary);
    assert.equal(r.passed, true, r.summary);
    assert.match(r.summary, /^rcu_stress_count: \d+ \d+ 0 0 0 0 0 0 0 0 0$/m);
  });

  test(`torture ${name}: the broken mode (GPs that skip the wait) is caught`, async () => {
    const r = await runTorture({ flavour, seconds: 1, readers: 2, broken: true, ...(unlock ? { unlock } : {}) });
    assert.ok(r.failures > 0, r.summary);
    assert.equal(r.passed, false);
    assert.match(r.summary, /^!!! \d+ reads saw an element older than one grace period/m);
    assert.match(r.summary, /FAILURE$/);
  });
}
