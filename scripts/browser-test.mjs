#!/usr/bin/env node
// `npm run test:browser`: the core entry in a real browser with real Web Workers.
//
// Serves the repository (dist/ and test/browser/) with the two headers that make a page
// cross-origin isolated (SharedArrayBuffer needs them), opens test/browser/index.html in
// headless Chromium through playwright-core, and asserts on the checks the page records.
// Needs a Chromium: Debian `apt-get install chromium` (/usr/bin/chromium), or set
// CHROMIUM_PATH. Not part of `npm test`, which must run on machines without a browser.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const TYPES = { '.js': 'text/javascript', '.html': 'text/html', '.map': 'application/json' };

const executablePath = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) {
  console.error('test:browser: no Chromium found. Install one (Debian: apt-get install chromium) or set CHROMIUM_PATH.');
  process.exit(2);
}
if (!existsSync(join(root, 'dist/src/index.js'))) {
  console.error('test:browser: dist/ is missing: run `npm run build` first.');
  process.exit(2);
}

const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
  const file = join(root, path);
  const allowed = file.startsWith(join(root, 'dist')) || file.startsWith(join(root, 'test/browser'));
  try {
    if (!allowed) throw new Error('not served');
    const body = await readFile(file);
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address();

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
let failed = 0;
try {
  const page = await browser.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[page ${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[page error] ${e.message}`));
  await page.goto(`http://127.0.0.1:${port}/test/browser/index.html`);
  await page.waitForFunction(() => globalThis.__result?.done === true, null, { timeout: 60_000 });
  const result = await page.evaluate(() => globalThis.__result);
  const version = browser.version();
  console.log(`Chromium ${version}: ${result.checks.length} checks`);
  for (const c of result.checks) {
    console.log(`${c.ok ? 'ok    ' : 'FAILED'} ${c.name}${c.detail && !c.ok ? ` (${c.detail})` : ''}`);
    if (!c.ok) failed++;
  }
  if (result.error) {
    console.log(`FAILED: the page threw: ${result.error}`);
    failed++;
  }
  // The page records 15 checks when it runs to the end.
  if (result.checks.length < 15) {
    console.log(`FAILED: only ${result.checks.length} checks ran`);
    failed++;
  }
  if (failed) for (const l of logs) console.log(l);
} finally {
  await browser.close();
  server.close();
}
console.log(failed ? `${failed} failed` : 'all passed');
process.exit(failed ? 1 : 0);
