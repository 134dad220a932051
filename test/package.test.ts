/**
 * The package as a user gets it: `npm pack` of a copy of the repository without dist/ (the
 * `prepare` script must build it), then a fresh consumer project that installs the tarball
 * and compiles against it with `strict` and `skipLibCheck: false`, for `nodenext` and
 * `bundler` resolution, and runs the nodenext build.
 *
 * No network: the consumer gets a package-lock.json made from the repository's own lock
 * (the runtime dependencies at the versions `npm ci` put in the npm cache), and installs
 * with --offline. Only if that fails (an empty cache) does it retry with --prefer-offline,
 * which needs the npm registry. TypeScript and @types/node come from this repository's
 * node_modules by path.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TYPES = path.join(ROOT, 'node_modules', '@types');
const NPM_CLI = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath) ? process.env.npm_execpath : undefined;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment for child npm runs: none of the outer `npm test`'s lifecycle variables. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_(lifecycle|package|config_(global|prefix|local_prefix|user_agent))/i.test(k)) env[k] = v;
  env.npm_config_audit = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_update_notifier = 'false';
  return env;
}

function run(file: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: cleanEnv(), maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0, stdout, stderr });
    });
  });
}

/** npm through the same npm that runs the tests when there is one, else `npm` on PATH. */
function npm(args: string[], cwd: string): Promise<Run> {
  if (NPM_CLI) return run(process.execPath, [NPM_CLI, ...args], cwd);
  return run(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, cwd);
}

function ok(r: Run, what: string): string {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  [k: string]: unknown;
}

/** A consumer lockfile: the tarball, plus the repository lock's non-dev packages at the same paths. */
function consumerLock(tgzName: string, tgzBytes: Buffer, pkg: { version: string; dependencies?: Record<string, string> }): object {
  const repoLock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { slabrcu: `file:${tgzName}` } },
    'node_modules/slabrcu': {
      version: pkg.version,
      resolved: `file:${tgzName}`,
      integrity: `sha512-${createHash('sha512').update(tgzBytes).digest('base64')}`,
      license: 'MIT',
      ...(pkg.dependencies ? { dependencies: pkg.dependencies } : {}),
    },
  };
  for (const [k, v] of Object.entries(repoLock.packages)) {
    if (k === '' || v.dev === true || !k.startsWith('node_modules/')) continue;
    packages[k] = v;
  }
  return { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

const CONSUMER_MAIN = `import { Arena, SLAB_HWCACHE_ALIGN, type Cache, type DestroyReport, type SlabWarning, type SlabWarningKind } from 'slabrcu';
import { startRcuWorker, type RcuWorkerHandle } from 'slabrcu/node';

const warnings: SlabWarningKind[] = [];
const arena: Arena = Arena.create({ bytes: 4 << 20, onWarning: (w: SlabWarning) => { warnings.push(w.kind); } });
const cache: Cache = arena.createCache('consumer-node', { size: 48, flags: SLAB_HWCACHE_ALIGN });
const found: Cache | undefined = arena.findCache('consumer-node');
if (found === undefined) throw new Error('findCache found nothing');
const ptrs: number[] = [];
for (let i = 0; i < 100; i++) {
  const p = cache.alloc();
  if (p === 0) throw new Error('arena exhausted');
  arena.i32[p >> 2] = i;
  ptrs.push(p);
}
let sum = 0;
for (const p of ptrs) sum += arena.i32[p >> 2]!;
for (const p of ptrs.slice(0, 50)) cache.free(p);
for (const p of ptrs.slice(50)) arena.kfreeRcu(p);
const pendingBefore = arena.kfreeRcuPending();
const report: DestroyReport = await cache.destroy();
const start: (a: Arena) => Promise<RcuWorkerHandle> = startRcuWorker;
console.log(JSON.stringify({ sum, pendingBefore, status: report.status, leaked: report.leaked, warnings, threadId: arena.threadId, reports: arena.reports.length, startRcuWorker: typeof start }));
`;

const CONSUMER_TSCONFIG_BASE = {
  target: 'ES2022',
  lib: ['ES2024'],
  strict: true,
  skipLibCheck: false,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  typeRoots: [TYPES],
  types: ['node'],
};

test('npm pack of a fresh copy builds and ships dist/; a strict consumer compiles (nodenext, bundler) and runs', { timeout: 180_000 }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slabrcu-pack-'));
  try {
    // 1. A copy of the repository as a clone has it: no dist/, node_modules linked.
    const copy = path.join(tmp, 'repo');
    const skip = new Set(['node_modules', 'dist', '.git', 'docs']);
    fs.cpSync(ROOT, copy, { recursive: true, filter: (src) => !skip.has(path.relative(ROOT, src).split(path.sep)[0]!) });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
    assert.equal(fs.existsSync(path.join(copy, 'dist')), false);

    // 2. npm pack: `prepare` must build dist/.
    const packOut = ok(await npm(['pack', '--json', '--pack-destination', tmp], copy), 'npm pack');
    const json = packOut.slice(packOut.indexOf('[\n'));
    const [info] = JSON.parse(json) as { filename: string; files: { path: string }[] }[];
    assert.ok(info, 'npm pack --json printed the package');
    const files = new Set(info.files.map((f) => f.path));
    for (const f of [
      'package.json', 'README.md', 'LICENSE', 'CHANGELOG.md',
      'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/node.js', 'dist/src/node.d.ts',
      'dist/src/cli/main.js', 'dist/src/rcu/worker-main.js', 'src/index.ts',
    ]) {
      assert.ok(files.has(f), `the tarball has ${f}`);
    }
    assert.ok(![...files].some((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.startsWith('test/')), 'no tests or benches in the tarball');
    // Every source map's sources are in the tarball.
    const maps = [...files].filter((f) => f.endsWith('.map'));
    assert.ok(maps.length > 20, `source maps shipped (${maps.length})`);
    for (const m of maps) {
      const map = JSON.parse(fs.readFileSync(path.join(copy, m), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const s of map.sources) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(m), map.sourceRoot ?? '', s));
        assert.ok(files.has(target), `${m}: source ${s} (${target}) is in the tarball`);
      }
    }

    // 3. A fresh consumer project installs the tarball (offline when the npm cache allows).
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    const tgz = path.join(app, info.filename);
    fs.copyFileSync(path.join(tmp, info.filename), tgz);
    const pkg = JSON.parse(fs.readFileSync(path.join(copy, 'package.json'), 'utf8')) as { version: string; dependencies?: Record<string, string> };
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
    fs.writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify(consumerLock(info.filename, fs.readFileSync(tgz), pkg), null, 2));
    let inst = await npm(['install', `./${info.filename}`, '--offline', '--no-audit', '--no-fund'], app);
    if (inst.code !== 0) {
      t.diagnostic('offline install failed (npm cache lacks the dependencies); retrying with --prefer-offline');
      inst = await npm(['install', `./${info.filename}`, '--prefer-offline', '--no-audit', '--no-fund'], app);
    }
    ok(inst, 'npm install of the tarball');
    assert.ok(fs.existsSync(path.join(app, 'node_modules', 'slabrcu', 'dist', 'src', 'index.js')));
    assert.ok(fs.existsSync(path.join(app, 'node_modules', 'slabrcu', 'src', 'arena.ts')), 'sources ship with the maps');
    const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'slabrcu', 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    assert.ok('./package.json' in installed.exports);

    // 4. Compile: nodenext (emit and run), bundler (type-check), and the core entry without Node types.
    fs.writeFileSync(path.join(app, 'main.ts'), CONSUMER_MAIN);
    fs.writeFileSync(path.join(app, 'core.ts'), `import { Arena, RcuHashTable, objectTracks, type TrackInfo } from 'slabrcu';\n` +
      `export function make(): [Arena, typeof RcuHashTable, TrackInfo | undefined] { const a = Arena.create(); return [a, RcuHashTable, objectTracks(a, 0).alloc]; }\n`);
    const configs: Record<string, object> = {
      'tsconfig.nodenext.json': { compilerOptions: { ...CONSUMER_TSCONFIG_BASE, module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out' }, files: ['main.ts'] },
      'tsconfig.bundler.json': { compilerOptions: { ...CONSUMER_TSCONFIG_BASE, module: 'esnext', moduleResolution: 'bundler', noEmit: true }, files: ['main.ts'] },
      // The core entry type-checks without @types/node (it is browser-safe).
      'tsconfig.core.json': { compilerOptions: { ...CONSUMER_TSCONFIG_BASE, types: [], lib: ['ES2024', 'DOM'], module: 'esnext', moduleResolution: 'bundler', noEmit: true }, files: ['core.ts'] },
    };
    for (const [name, cfg] of Object.entries(configs)) fs.writeFileSync(path.join(app, name), JSON.stringify(cfg, null, 2));
    const builds = await Promise.all(Object.keys(configs).map((name) => run(process.execPath, [TSC, '-p', name], app)));
    Object.keys(configs).forEach((name, k) => ok(builds[k]!, `tsc -p ${name}`));

    // 5. Run the nodenext build.
    const out = ok(await run(process.execPath, [path.join('out', 'main.js')], app), 'node out/main.js');
    const res = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.deepEqual(res, { sum: 4950, pendingBefore: 50, status: 'released', leaked: 0, warnings: [], threadId: 0, reports: 0, startRcuWorker: 'function' });

    // 6. CommonJS: require() of this ESM-only package works where Node has require(esm) (20.19+).
    const [maj, min] = process.versions.node.split('.').map(Number) as [number, number];
    if (maj > 20 || (maj === 20 && min >= 19)) {
      const cjs = ok(await run(process.execPath, ['-e', "const s = require('slabrcu'); const a = s.Arena.create({ bytes: 1 << 20 }); console.log(typeof s.Arena, a.threadId)"], app), 'require(slabrcu)');
      assert.match(cjs, /^function 0$/m);
    }
    // And import() from CommonJS, on every supported version.
    const dyn = ok(await run(process.execPath, ['-e', "import('slabrcu/node').then((s) => console.log(typeof s.Arena, typeof s.startRcuWorker))"], app), 'import() from CommonJS');
    assert.match(dyn, /^function function$/m);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
