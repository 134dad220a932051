/**
 * RCU CPU stall warnings (kernel: kernel/rcu/tree_stall.h, CONFIG_RCU_CPU_STALL_TIMEOUT).
 *
 * A grace-period driver that has waited longer than rcuStallTimeoutMs (default 21000 ms,
 * the kernel's 21 s) for some readers reports the slots that block it, then again every
 * 3 * timeout + 3 s (the kernel's re-warn interval) while the same GP keeps waiting.
 * "Jiffies" here are milliseconds (HZ=1000, so t=21016 reads as in a kernel log).
 *
 * No shared words: the detector is local to the thread that drives the GP; it only
 * reads the reader words and S_NCBS counters (Atomics.load) to describe the stall.
 */
import type { RcuHost } from './host.js';

export const DEFAULT_STALL_MS = 21000;

/**
 * How long past the stall timeout a bounded wait for a grace period (destroy(), the
 * kfree_rcu barriers) keeps waiting before it gives up: the GP driver's stall warning
 * (due at the timeout) comes first, then the waiter's own report.
 */
export const STALLED_WAIT_MARGIN_MS = 250;

/** The bound of one grace-period wait of destroy() and the kfree_rcu barriers: rcuStallTimeoutMs + 250 ms. */
export function stalledWaitMs(stallTimeoutMs: number): number {
  return stallTimeoutMs + STALLED_WAIT_MARGIN_MS;
}

/** The kernel's re-warn delay after a stall warning: 3 * timeout + 3 s. */
export function stallRewarnMs(timeoutMs: number): number {
  return 3 * timeoutMs + 3000;
}

export interface StalledSlot {
  slot: number;
  /** The reader word seen (memb: the phase it entered with; qsbr: its last quiescent-state counter). */
  ctr: number;
  gen: number;
  live: boolean;
  callbacks: number;
}

export interface StallInfo {
  flavour: 'memb' | 'qsbr';
  blocking: StalledSlot[];
  detectedBy: number;
  elapsedMs: number;
  gpSeq: number;
  queued: number;
  nrThreads: number;
  gpCtr: number;
}

/** The kernel's one-line form: `rcu: INFO: rcu_sched detected stalls on CPUs/tasks: { 3 } (detected by 1, t=21002 jiffies, g=..., q=... ncpus=...)`. */
export function stallMessage(i: StallInfo): string {
  const cpus = i.blocking.map((b) => b.slot).join(' ');
  return (
    `rcu: INFO: rcu_${i.flavour} detected stalls on CPUs/tasks: { ${cpus} } ` +
    `(detected by ${i.detectedBy}, t=${Math.round(i.elapsedMs)} jiffies, g=${i.gpSeq}, q=${i.queued} ncpus=${i.nrThreads})`
  );
}

/** The full block, one line per blocking slot, as tree_stall.h prints it. */
export function stallReport(i: StallInfo): string {
  const t = Math.round(i.elapsedMs);
  const lines = [`rcu: INFO: rcu_${i.flavour} detected stalls on CPUs/tasks:`];
  for (const b of i.blocking) {
    // Kernel flags: 'O' online, '!' no quiescent state reported for a long time. Here the
    // last flag is '!' when the thread table no longer shows the owner as live (a dead
    // worker nobody detached: arena.watch() it).
    const flags = `${b.live ? 'O' : '.'}..${b.live ? '.' : '!'}`;
    const what =
      i.flavour === 'memb'
        ? `in a read-side critical section (entered in phase ${(b.ctr >> 1) & 1}, current phase ${(i.gpCtr >> 1) & 1})`
        : `online, no quiescent state since ctr=${b.ctr} (GP needs ctr=${i.gpCtr})`;
    lines.push(`rcu: \t${b.slot}-${flags}: (${t} ticks this GP) gen=${b.gen} callbacks=${b.callbacks} ${what}${b.live ? '' : ' [thread not live]'}`);
  }
  lines.push(`rcu: \t(detected by ${i.detectedBy}, t=${t} jiffies, g=${i.gpSeq}, q=${i.queued} ncpus=${i.nrThreads})`);
  return lines.join('\n');
}

/** Per-GP stall timer of the driving thread. */
export class StallTimer {
  private readonly start: number;
  private next: number;
  warnings = 0;

  constructor(private readonly timeoutMs: number) {
    this.start = now();
    // A timeout <= 0 disables stall warnings (kernel: rcupdate.rcu_cpu_stall_suppress).
    this.next = timeoutMs > 0 ? this.start + timeoutMs : Infinity;
  }

  /** Milliseconds until the next warning is due (>= 0). */
  untilDue(): number {
    return Math.max(0, this.next - now());
  }

  elapsed(): number {
    return now() - this.start;
  }

  /** Whole milliseconds ("jiffies") since the GP began, taken when the last warning fell due. */
  firedJiffies = 0;

  /**
   * True (once per interval) when a warning is due now. The next one is due the re-warn
   * interval after *this* one's whole-millisecond time (kernel: jiffies_stall = jiffies +
   * 3 * timeout + 3, set when the stall is printed), so the t= of two reports always
   * differ by at least the interval, whatever the rounding.
   */
  due(): boolean {
    const t = now();
    if (t < this.next) return false;
    this.firedJiffies = Math.floor(t - this.start);
    this.next = this.start + this.firedJiffies + stallRewarnMs(this.timeoutMs);
    this.warnings++;
    return true;
  }
}

export function now(): number {
  return performance.now();
}

export function emitStall(host: RcuHost, info: StallInfo): void {
  host.warn('rcu-stall', stallMessage(info), stallReport(info));
}
