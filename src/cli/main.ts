#!/usr/bin/env node
/**
 * The `slabrcu` command: demo, bench, torture.
 *
 * Every command takes --json: then stdout carries exactly one JSON document (the
 * summary) and nothing else, so it can be piped into jq or read by a test; the story
 * and progress go nowhere (progress bars are drawn only on a terminal anyway).
 *
 * Exit codes: 0 done, 1 the run itself failed (bad reads, torture failures), 2 a usage
 * error: an unknown command or option (the help follows the one-line error), or an
 * argument out of range (one line on stderr, no stack).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { DEMO_MAX_WORKERS, runDemo } from '../demo/run.js';
import { demoJsonHelp } from '../demo/json-fields.js';
import { BENCH_SECTIONS, reportBenchToConsole } from './bench.js';
import { runTortureCli, TORTURE_MAX_READERS } from './torture.js';
import { isUserError, packageVersion } from './util.js';

function intIn(name: string, lo: number, hi: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < lo || n > hi) {
      throw new InvalidArgumentError(`${name} must be an integer in ${lo}..${hi}`);
    }
    return n;
  };
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

function benchSections(v: string): string[] {
  const ids = v.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = ids.filter((id) => !BENCH_SECTIONS.includes(id));
  if (ids.length === 0 || unknown.length) {
    throw new InvalidArgumentError(`unknown bench section(s): ${unknown.join(', ') || "''"} (known: ${BENCH_SECTIONS.join(', ')})`);
  }
  return ids;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('slabrcu')
    .description('The Linux SLUB slab allocator, RCU, batched kfree_rcu() and asynchronous kmem_cache_destroy() over one SharedArrayBuffer shared by worker threads.')
    .version(packageVersion(), '-V, --version', 'print the version (from package.json)')
    .helpOption('-h, --help', 'show this help; `slabrcu <command> --help` for a command')
    .exitOverride()
    .addHelpText('after', '\nWithout a command, runs `slabrcu demo`.\nExit codes: 0 done, 1 the run failed (bad reads, torture failures), 2 usage error.');

  program
    .command('demo')
    .description('worker threads share an RCU hash table of sessions; then the cache is destroyed with kfreeRcu frees in flight (the default command; about 20 s)')
    .addOption(new Option('-w, --workers <n>', `worker threads, 1..${DEMO_MAX_WORKERS} (the demo arena's thread slots, less the main thread's); half writers, the rest readers`)
      .argParser(intIn('--workers', 1, DEMO_MAX_WORKERS)).default(4))
    .addOption(new Option('-d, --duration <seconds>', 'seconds of traffic before the unload, > 0').argParser(positiveNumber('--duration')).default(18))
    .option('--leak', 'one writer forgets to free 3 sessions: shows the leak warning and where the leaked objects were allocated')
    .option('--json', 'print only a machine-readable summary (fields below)')
    .addHelpText('after', () => demoJsonHelp(Math.max(60, Math.min(process.stdout.columns ?? 80, 100))))
    .action(async (o: { workers: number; duration: number; leak?: boolean; json?: boolean }) => {
      const summary = await runDemo({ workers: o.workers, duration: o.duration, leak: o.leak === true, out: o.json ? undefined : process.stdout });
      if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      if (summary.badReads > 0) process.exitCode = 1;
    });

  program
    .command('bench')
    .description('run the benchmarks and write bench/results.md and bench/*.svg (from a clone of the repository); --quick writes to bench/quick/ instead')
    .option('--only <ids>', `comma-separated sections, any of ${BENCH_SECTIONS.join(', ')}`, benchSections)
    .option('--quick', 'short runs for a smoke test (figures are not representative); written to bench/quick/, never over bench/results.md')
    .option('--out <dir>', 'write results.md and the charts here instead')
    .option('--json', 'print only the results as JSON')
    .action(async (o: { only?: string[]; quick?: boolean; out?: string; json?: boolean }) => {
      process.exitCode = await reportBenchToConsole(o);
    });

  program
    .command('torture')
    .description('rcutorture: readers check the age of what they see while writers replace it; --broken must make it fail')
    .addOption(new Option('-f, --flavour <flavour>', 'RCU flavour').choices(['memb', 'qsbr']).default('memb'))
    .addOption(new Option('-s, --seconds <s>', 'how long to run, > 0').argParser(positiveNumber('--seconds')).default(10))
    .addOption(new Option('-r, --readers <n>', `reader threads, 1..${TORTURE_MAX_READERS}`).argParser(intIn('--readers', 1, TORTURE_MAX_READERS)).default(2))
    .option('--broken', 'a deliberately broken RCU mode: the torture test must report failures')
    .addOption(new Option('--unlock <path>', 'memb readUnlock path of the readers (default: x64 on x64 CPUs, else portable)').choices(['x64', 'portable']))
    .option('--json', 'print only the result as JSON')
    .action(async (o: { flavour: 'memb' | 'qsbr'; seconds: number; readers: number; broken?: boolean; json?: boolean; unlock?: 'x64' | 'portable' }) => {
      process.exitCode = await runTortureCli({ flavour: o.flavour, seconds: o.seconds, readers: o.readers, broken: o.broken === true, json: o.json === true, unlock: o.unlock });
    });

  return program;
}

const UNKNOWN = new Set(['commander.unknownCommand', 'commander.unknownOption', 'commander.excessArguments']);

/** Run the CLI on argv (process.argv shape). Resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const args = argv.slice(2);
  // No command at all: the demo (what `npm start` runs). Anything else goes to commander,
  // so an unknown command or option is an error with the top-level help, not the demo's.
  if (args.length === 0) args.push('demo');
  const program = buildProgram();
  try {
    await program.parseAsync(args, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed the one-line message (or the help, or the version).
      if (e.exitCode === 0) return 0;
      if (UNKNOWN.has(e.code)) {
        // An unknown command or option: the help of the level where it was typed (a
        // command's unknown option: that command's help, with a pointer to the rest).
        const sub = e.code === 'commander.unknownCommand' ? undefined : program.commands.find((c) => c.name() === args[0]);
        process.stderr.write('\n' + (sub ? sub.helpInformation() + `\nAll commands: ${program.name()} --help\n` : program.helpInformation()));
      }
      return 2;
    }
    if (isUserError(e)) {
      process.stderr.write(`slabrcu: ${e.message.replace(/^slabrcu: /, '')}\n`);
      return 2;
    }
    throw e;
  }
}

// Run when this file is the entry point (node dist/src/cli/main.js, or the npm bin link).
function isEntry(entry: string | undefined): boolean {
  if (entry === undefined) return false;
  for (const f of [entry, `${entry}.js`]) {
    try {
      if (pathToFileURL(realpathSync(f)).href === import.meta.url) return true;
    } catch {
      // not this spelling
    }
  }
  return false;
}

if (isEntry(process.argv[1])) {
  // `slabrcu --help | head`: the reader went away; that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  process.exitCode = await main(process.argv);
}
