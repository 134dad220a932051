/**
 * `slabrcu torture`: runs runTorture() from src/rcu/torture.ts (the RCU engineer's
 * rcutorture) with a progress bar over the run time on a terminal. Imported lazily, so
 * the CLI works (and says so) before that module exists.
 */
import cliProgress from 'cli-progress';

/** runTorture's limit on reader threads. */
export const TORTURE_MAX_READERS = 32;

export interface TortureCliOptions {
  flavour: 'memb' | 'qsbr';
  /** memb readers' unlock path (undefined: the CPU's default). */
  unlock?: 'x64' | 'portable';
  seconds: number;
  readers: number;
  broken: boolean;
  json: boolean;
}

type RunTorture = (o: { flavour: 'memb' | 'qsbr'; seconds: number; readers: number; broken: boolean; unlock?: 'x64' | 'portable' }) => Promise<unknown>;

/** Did the run fail? Understands the usual result shapes: { ok }, { passed }, { failures }, { errors }. */
export function tortureFailed(r: unknown): boolean {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  if (o.ok === false || o.passed === false) return true;
  for (const k of ['failures', 'errors', 'violations', 'tooOld']) {
    const v = o[k];
    if (typeof v === 'number' && v > 0) return true;
    if (Array.isArray(v) && v.length > 0) return true;
  }
  return false;
}

export async function runTortureCli(o: TortureCliOptions): Promise<number> {
  let runTorture: RunTorture;
  try {
    const mod = (await import(new URL('../rcu/torture.js', import.meta.url).href)) as { runTorture?: RunTorture };
    if (typeof mod.runTorture !== 'function') throw new Error('src/rcu/torture.ts does not export runTorture()');
    runTorture = mod.runTorture;
  } catch (e) {
    process.stderr.write(`slabrcu torture: not available in this build (${(e as Error).message.split('\n')[0]})\n`);
    return 2;
  }
  const bar = process.stdout.isTTY && !o.json
    ? new cliProgress.SingleBar({ format: ' torture {bar} {value}/{total} s', hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined;
  const t0 = Date.now();
  bar?.start(Math.ceil(o.seconds), 0);
  const timer = bar ? setInterval(() => bar.update(Math.min(Math.ceil(o.seconds), Math.floor((Date.now() - t0) / 1000))), 250) : undefined;
  let result: unknown;
  try {
    result = await runTorture({ flavour: o.flavour, seconds: o.seconds, readers: o.readers, broken: o.broken, unlock: o.unlock });
  } finally {
    if (timer) clearInterval(timer);
    bar?.update(Math.ceil(o.seconds));
    bar?.stop();
  }
  const failed = tortureFailed(result);
  if (o.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else {
    process.stdout.write(`rcutorture (${o.flavour}${o.flavour === 'memb' ? `, ${String((result as { unlock?: string } | undefined)?.unlock ?? o.unlock ?? 'default')} unlock` : ''}${o.broken ? ', BROKEN mode' : ''}, ${o.readers} readers, ${o.seconds}s): ${failed ? 'FAILED' : 'passed'}\n`);
    if (result && typeof result === 'object') {
      for (const [k, v] of Object.entries(result as Record<string, unknown>)) {
        if (typeof v !== 'object' || v === null) process.stdout.write(`  ${k}: ${String(v)}\n`);
        else if (Array.isArray(v)) process.stdout.write(`  ${k}: ${v.length > 8 ? `${v.length} entries` : JSON.stringify(v)}\n`);
      }
    }
  }
  return failed ? 1 : 0;
}
