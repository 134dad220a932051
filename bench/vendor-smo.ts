/**
 * @daneren2005/shared-memory-objects ships TypeScript sources only (package.json main:
 * ./src/main.ts, extensionless imports, Vite's import.meta.env), which Node 20 cannot
 * import. The benchmark uses its thread-safe allocator, MemoryBuffer (a fork of
 * @thi.ng/malloc MemPool with a lock around malloc/free; MemoryHeap builds on it), and
 * transpiles the three files that module needs, once, with the project's TypeScript,
 * into dist/bench/vendor-smo/ (imports get their .js; `self`, which Node 20 lacks, is
 * globalThis, so its lock spins instead of Atomics.wait as it does outside a browser
 * worker). Nothing of the package's code changes otherwise.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FILES = ['memory-buffer.ts', 'lock/simple-lock.ts', 'utils/typedarray.js'];
const OUT = fileURLToPath(new URL('./vendor-smo/', import.meta.url));

export interface SmoMemoryBuffer {
  buf: ArrayBufferLike;
  malloc(bytes: number): number;
  free(ptr: number): boolean;
}
export type SmoMemoryBufferCtor = new (opts: { buf?: ArrayBufferLike; skipInitialization?: boolean; compact?: boolean; split?: boolean }) => SmoMemoryBuffer;

/** The package's source directory, or a reason it is unavailable. */
function srcDir(): string {
  // The exports map names ./src/main.ts only (not package.json): resolve that.
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@daneren2005/shared-memory-objects'));
}

/** URL of the transpiled memory-buffer.js (builds it on first use). Throws if the package is missing. */
export function smoModuleUrl(): string {
  const main = join(OUT, 'memory-buffer.js');
  if (!existsSync(main)) {
    const require = createRequire(import.meta.url);
    const ts = require('typescript') as typeof import('typescript');
    const src = srcDir();
    for (const f of FILES) {
      let text = readFileSync(join(src, f), 'utf8');
      if (f.endsWith('.ts')) {
        text = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      }
      text = text.replace(/from '(\.\.?\/[^']+?)(\.js)?'/g, "from '$1.js'");
      if (f === 'lock/simple-lock.ts') text = 'const self = globalThis;\n' + text;
      const out = join(OUT, f.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, text);
    }
  }
  return pathToFileURL(main).href;
}

export async function loadSmo(): Promise<SmoMemoryBufferCtor> {
  const m = (await import(smoModuleUrl())) as { default: SmoMemoryBufferCtor };
  return m.default;
}
