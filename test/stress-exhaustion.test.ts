/**
 * Issue 11 item 1: exhaustion with >= 2 workers and kfreeRcu corrupts nothing. The run
 * itself is in a driver worker (test/stress/exhaustion.ts) watched by this thread, so a
 * hang fails the test with the phase each thread was in. Short here (npm test); long
 * with `npm run stress` (SLABRCU_STRESS=1): hundreds of rounds.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { supervise } from './stress/supervise.js';
import { LONG, PROBLEM_NAMES } from './stress/shared.js';
import type { ExhaustResult } from './stress/exhaustion.js';

const env = (globalThis as { process: { env: Record<string, string | undefined> } }).process.env;
const ROUNDS = Number(env.SLABRCU_EXHAUST_ROUNDS ?? (LONG ? 400 : 30));
const SEED = Number(env.SLABRCU_SEED ?? 1);

for (const mode of ['lockstep', 'free'] as const) {
test(`exhaustion stress (${mode}): 2 workers, 2 caches + kmalloc, kfreeRcu, 6 MiB, ${ROUNDS} rounds: no double allocation, exact counts, validate clean`, async () => {
  const t0 = Date.now();
  const { result: r } = await supervise<ExhaustResult>({ scenario: 'exhaustion', params: { mode, rounds: ROUNDS, seed: SEED, workers: 2, headForm: env.SLABRCU_NO_HEAD !== '1', sheaves: env.SLABRCU_NO_SHEAVES !== '1' } });
  const summary = `exhaustion ${mode}: rounds=${r.roundsRun}/${r.roundsPlanned} allocated=${r.allocated} kfreeRcu=${r.rcu} exhaustions=${r.exhaustions} ` +
    `problems=${r.problems.reduce((s, n) => s + n, 0)} (${r.problems.map((n, k) => (n ? `${PROBLEM_NAMES[k]}: ${n}` : '')).filter(Boolean).join(', ') || 'none'}) ` +
    `failedRound=${r.failedRound} ${Date.now() - t0} ms`;
  console.log(summary);
  assert.equal(r.failedRound, -1, `${summary}\nfailed checks:\n  ${r.failures.join('\n  ')}\nproblem samples:\n  ${r.problemTexts.join('\n  ')}`);
  assert.equal(r.roundsRun, ROUNDS);
});
}
