// Chromium tier: Debian's headless Chromium, driven by playwright-core, loads
// a page that imports the packed package through an import map and runs the
// shared suite against the mock API (same origin, so CORS is exercised too
// by the exposed-headers configuration of the mock).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startMock } from '../mock/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`Chromium not found at ${executablePath}: install Debian's chromium (scripts/setup.sh --browser)`);
  process.exit(1);
}

const mock = await startMock({
  static: join(here, 'browser'),
  mounts: { '/pkg/': join(here, 'node_modules', 'ratewise'), '/tests/': here },
});
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
  await page.waitForFunction(() => window.__result || null, null, { timeout: 60_000 }).catch(() => {});
  result = await page.evaluate(() => window.__result);
  if (!result) throw new Error(`the suite did not finish; page errors: ${errors.join('; ')}`);
  result.runtime = `Chromium ${browser.version()} (headless)`;
} finally {
  await browser.close();
  await mock.close();
}

console.log(`# runtime: ${result.runtime}, wasm from the packed ratewise tarball (browser condition, import map)`);
for (const r of result.results) {
  console.log(r.ok ? `ok - ${r.name}` : `not ok - ${r.name}\n  ${r.error.split('\n').join('\n  ')}`);
}
console.log(`chromium: ${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 && result.passed > 0 ? 0 : 1);
