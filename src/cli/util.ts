/**
 * CLI plumbing: the version (from package.json, read at run time), colours (a terminal
 * only, never with NO_COLOR), and which errors are the user's (one line, exit 2) rather
 * than bugs (a stack trace, exit 1).
 */
import { readFileSync } from 'node:fs';

/** The package version, read from the package.json next to dist/ (src/cli -> ../../..). */
export function packageVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'slabrcu' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}

/** Colours on this stream? Only a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColor(stream: { isTTY?: boolean } | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream?.isTTY === true;
}

/** A mistake in what the user asked for: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * The library's and the CLI's argument errors: UsageError, and the RangeErrors the
 * library throws for out-of-range options ("runTorture: readers must be an integer in
 * 1..32", "unknown bench section(s): x"). V8's own RangeErrors (stack overflow, invalid
 * array length) are bugs, not user errors, and keep their stack.
 */
export function isUserError(e: unknown): e is Error {
  if (e instanceof UsageError) return true;
  if (!(e instanceof RangeError)) return false;
  return /^(slabrcu|runTorture|runDemo|runBench|unknown bench section)/.test(e.message);
}
