/**
 * examples/: each example runs against the built package (it imports `slabrcu` by name,
 * which resolves to this package by self-reference) and prints what it claims.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function example(name: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(ROOT, 'examples', name)], { cwd: ROOT, timeout: 100_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${name} failed: ${err.message}\n${stdout}\n${stderr}`));
      else {
        assert.equal(stderr, '', `${name} wrote to stderr`);
        resolve(stdout.trimEnd().split('\n'));
      }
    });
  });
}

test('examples/two-workers.mjs: a producer allocates, a consumer reads and frees, destroy releases', async () => {
  assert.deepEqual(await example('two-workers.mjs'), [
    'producer: allocated 1000 points',
    'consumer: sum of x + y = 1498500, freed 1000 points',
    'main: objects in use 0',
    'main: destroy -> released',
  ]);
});

test('examples/hash-table-service.mjs: readers never see a torn entry while a writer updates', async () => {
  assert.deepEqual(await example('hash-table-service.mjs'), [
    'writer: 2000 updates',
    'reader 1: 0 torn or freed entries seen',
    'reader 2: 0 torn or freed entries seen',
    'main: 100 sessions, 2000 hits in all',
    'main: destroy -> released',
  ]);
});

test('examples/destroy-in-flight.mjs: destroy with every kfreeRcu free in flight is deferred, then released', async () => {
  assert.deepEqual(await example('destroy-in-flight.mjs'), [
    'workers: 10000 objects handed to kfreeRcu',
    'main: in flight before destroy: 10000',
    'main: a new cache named module-objects exists while the old one is torn down',
    'main: destroy -> released, 0 leaked, deferred: true',
    'main: new cache destroy -> released',
  ]);
});
