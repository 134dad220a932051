#!/usr/bin/env node
/**
 * The `slabrcu` command: demo, bench, torture.
 *
 * Every command takes --json: then stdout carries exactly one JSON document (the
 * summary) and nothing else, so it can be piped into jq or read by a test; the story
 * and progress go nowhere (progress bars are drawn only on a terminal anyway).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { runDemo } from '../demo/run.js';
import { reportBenchToConsole } from './bench.js';
import { runTortureCli } from './torture.js';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('slabrcu')
    .description('The Linux SLUB slab allocator, RCU, batched kfree_rcu() and asynchronous kmem_cache_destroy() over one SharedArrayBuffer shared by worker threads.')
    .version('0.1.0')
    .showHelpAfterError();

  program
    .command('demo', { isDefault: true })
    .description('worker threads share an RCU hash table of sessions; then the cache is destroyed with kfreeRcu frees in flight (the default command; about 20 s)')
    .addOption(new Option('-w, --workers <n>', 'worker threads (half writers, the rest readers)').argParser(positiveInt('--workers')).default(4))
    .addOption(new Option('-d, --duration <seconds>', 'seconds of traffic before the unload').argParser(positiveNumber('--duration')).default(18))
    .option('--leak', 'one writer forgets to free a few sessions: shows the leak warning and the leaked objects with their allocation traces')
    .option('--json', 'print only a machine-readable summary')
    .action(async (o: { workers: number; duration: number; leak?: boolean; json?: boolean }) => {
      const summary = await runDemo({ workers: o.workers, duration: o.duration, leak: o.leak === true, out: o.json ? undefined : process.stdout });
      if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      if (summary.badReads > 0) process.exitCode = 1;
    });

  program
    .command('bench')
    .description('run the benchmarks and write bench/results.md and bench/*.svg (from a clone of the repository)')
    .option('--only <ids>', 'comma-separated sections (slab, rcu, kfree, debug)', (v: string) => v.split(',').filter(Boolean))
    .option('--quick', 'short runs for a smoke test (figures are not representative)')
    .option('--out <dir>', 'write results.md and the charts here instead of bench/')
    .option('--json', 'print only the results as JSON')
    .action(async (o: { only?: string[]; quick?: boolean; out?: string; json?: boolean }) => {
      process.exitCode = await reportBenchToConsole(o);
    });

  program
    .command('torture')
    .description('rcutorture: readers check the age of what they see while writers replace it; --broken must make it fail')
    .addOption(new Option('-f, --flavour <flavour>', 'RCU flavour').choices(['memb', 'qsbr']).default('memb'))
    .addOption(new Option('-s, --seconds <s>', 'how long to run').argParser(positiveNumber('--seconds')).default(10))
    .addOption(new Option('-r, --readers <n>', 'reader threads').argParser(positiveInt('--readers')).default(2))
    .option('--broken', 'a deliberately broken RCU mode: the torture test must report failures')
    .addOption(new Option('--unlock <path>', 'memb readUnlock path of the readers (default: x64 on x64 CPUs, else portable)').choices(['x64', 'portable']))
    .option('--json', 'print only the result as JSON')
    .action(async (o: { flavour: 'memb' | 'qsbr'; seconds: number; readers: number; broken?: boolean; json?: boolean; unlock?: 'x64' | 'portable' }) => {
      process.exitCode = await runTortureCli({ flavour: o.flavour, seconds: o.seconds, readers: o.readers, broken: o.broken === true, json: o.json === true, unlock: o.unlock });
    });

  return program;
}

await buildProgram().parseAsync(process.argv);
