/**
 * The README's Troubleshooting table lists every warning kind the library can raise
 * (SLAB_WARNING_KINDS; the type SlabWarningKind makes every producer use one of them).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SLAB_WARNING_KINDS } from '../src/index.js';

const README = fs.readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

test('README Troubleshooting has a row for every SlabWarningKind, in one naming style', () => {
  const section = README.slice(README.indexOf('## Troubleshooting'), README.indexOf('\n## ', README.indexOf('## Troubleshooting') + 3));
  assert.ok(section.length > 100, 'a Troubleshooting section');
  for (const k of SLAB_WARNING_KINDS) {
    assert.match(k, /^[a-z]+(-[a-z]+)*$/, `${k}: lower-case words joined by -`);
    assert.ok(section.includes(`| \`${k}\` |`), `Troubleshooting lists ${k}`);
  }
  const rows = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...rows].sort(), [...SLAB_WARNING_KINDS].sort(), 'one row per kind, no other rows');
});
