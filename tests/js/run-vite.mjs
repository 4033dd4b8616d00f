// Bundler tier: builds tests/js/vite with Vite (the package's browser
// condition, its .wasm emitted as an asset), serves the output from the mock
// API's origin and runs it in Debian's Chromium through playwright-core.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium } from 'playwright-core';
import { startMock } from '../mock/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', '..', '.cache', 'vite-dist');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`Chromium not found at ${executablePath}: install Debian's chromium (scripts/setup.sh --browser)`);
  process.exit(1);
}

await build({ root: join(here, 'vite'), logLevel: 'warn', build: { outDir, emptyOutDir: true, target: 'es2022' } });
const mock = await startMock({ static: outDir });
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let result;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${mock.url}/index.html`);
  await page.waitForFunction(() => window.__result || null, null, { timeout: 30_000 }).catch(() => {});
  result = await page.evaluate(() => window.__result);
  if (!result) throw new Error(`the bundled page did not finish; page errors: ${errors.join('; ')}`);
} finally {
  await browser.close();
  await mock.close();
}
console.log('# runtime: Chromium, the package bundled by Vite');
for (const r of result.results) console.log(`${r.ok ? 'ok' : 'not ok'} - ${r.name}`);
console.log(`vite: ${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 && result.passed > 0 ? 0 : 1);
