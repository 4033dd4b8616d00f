// Loads a page in Debian's headless Chromium (through playwright-core) and
// returns what the page left in `window.__result`. Shared by the browser
// and Vite tiers.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless flags for this machine (shared with the demo's page test).
 * Without the background-networking ones Chromium keeps dialling out
 * through the machine's closed network.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // The shared suite collects garbage where it can (a stream read after its fetch function is gone).
  '--js-flags=--expose-gc',
];

/** Runs the page at `url` until it sets `window.__result`; `{ result, version }`. */
export async function runPage(url, { timeout = 60_000 } = {}) {
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath}: install Debian's chromium (scripts/setup.sh --browser)`);
  }
  const browser = await chromium.launch({
    executablePath,
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url);
    await page.waitForFunction(() => window.__result || null, null, { timeout }).catch(() => {});
    const result = await page.evaluate(() => window.__result);
    if (!result) throw new Error(`the page did not finish; page errors: ${errors.join('; ') || 'none'}`);
    return { result, version: browser.version() };
  } finally {
    await browser.close();
  }
}
