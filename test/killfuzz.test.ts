/**
 * Issue 11 item 2: kill fuzz. Three watched workers over every API loop, terminate()d at
 * random moments and respawned (test/stress/killfuzz.ts, in a supervised driver worker).
 * Short here; `npm run stress` (SLABRCU_STRESS=1): 1000+ kills. Prints `kills=N problems=M`.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { supervise } from './stress/supervise.js';
import { LONG, problemSummary } from './stress/shared.js';
import type { KillResult } from './stress/killfuzz.js';

const env = (globalThis as { process: { env: Record<string, string | undefined> } }).process.env;
const KILLS = Number(env.SLABRCU_KILLS ?? (LONG ? 1200 : 150));
const SEED = Number(env.SLABRCU_SEED ?? 7);

test(`kill fuzz: 3 workers, ${KILLS} kills at random points: nothing handed out twice, no reuse before a GP, header intact, validate clean, destroy released`, async () => {
  const t0 = Date.now();
  // No heartbeat for 60 s = a hang. A barrier waits legitimately up to destroyFlushTimeoutMs
  // (5 s) + rcuStallTimeoutMs (21 s) + 250 ms, and a lock a dead thread left up to its
  // 10 s lease: 30 s could call a slow but bounded wait a hang.
  const { result: r } = await supervise<KillResult>({ scenario: 'killfuzz', params: { kills: KILLS, seed: SEED }, stallMs: 60_000 });
  const problems = r.problemCount + r.failures.length;
  const summary = `kills=${r.kills} problems=${problems} (${problemSummary(r.problems)}; failed checks ${r.failures.length}) ` +
    `heldAtDeath=${r.heldAtDeath} inFlightBound=${r.inFlightBound} leaked=${r.leakedTotal} kmallocExtra=${r.kmallocExtra} ` +
    `destroy: ${r.destroy.filter((d) => d.status !== 'released').length} of ${r.destroy.length} caches not released ${JSON.stringify(r.destroy.filter((d) => d.status !== 'released').slice(0, 8))} ` +
    `warnings=${JSON.stringify(r.warnings)} ops=${r.ops} ${Date.now() - t0} ms`;
  console.log(summary);
  const detail = `${summary}\nfailed checks:\n  ${r.failures.join('\n  ')}\nworker errors:\n  ${r.errors.join('\n  ')}\nsamples:\n  ${r.problemTexts.join('\n  ')}`;
  assert.equal(r.kills, KILLS);
  assert.equal(problems, 0, detail);
  assert.deepEqual(r.errors, [], detail);
});
