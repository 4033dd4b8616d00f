// Runs the wasm-bindgen tests of `tests/browser.rs` in headless Chromium.
//
// wasm-bindgen-test-runner drives Chromium through ChromeDriver by default;
// on the CI machine that WebDriver session hung before the page loaded, twice
// in a row. Here the runner only serves the test page (its interactive mode,
// `NO_HEADLESS=1`) and playwright-core loads it, through a proxy (below), with the same flags as every
// other browser tier, reads the report the page writes, and fails the run on
// a failed test, a page error or a timeout, saying which.
import { spawn } from 'node:child_process';
import { Agent, createServer as createHttpServer, request } from 'node:http';
import { createServer } from 'node:net';
import { CHROMIUM_ARGS } from './chromium.mjs';
import { chromium } from 'playwright-core';

const TIMEOUT_MS = 240_000;

/** A free port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const address = `127.0.0.1:${port}`;
const runner = spawn('cargo', ['test', '--target', 'wasm32-unknown-unknown', '--test', 'browser'], {
  env: {
    ...process.env,
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER: 'wasm-bindgen-test-runner',
    NO_HEADLESS: '1',
    WASM_BINDGEN_TEST_ADDRESS: address,
  },
  stdio: ['ignore', 'pipe', 'inherit'],
  detached: true,
});
const stopRunner = () => {
  try {
    process.kill(-runner.pid, 'SIGTERM');
  } catch {
    // already gone
  }
};
process.on('exit', stopRunner);

let failure;
const timer = setTimeout(() => {
  failure = `no report within ${TIMEOUT_MS / 1000} s`;
}, TIMEOUT_MS);

// Wait until the runner serves the page (after compiling the tests).
const served = await new Promise((resolve) => {
  let out = '';
  runner.stdout.on('data', (chunk) => {
    out += chunk;
    if (out.includes(`http://${address}`)) resolve(true);
  });
  runner.once('exit', () => {
    if (!out.includes(`http://${address}`)) process.stdout.write(out);
    resolve(false);
  });
});
if (!served) {
  clearTimeout(timer);
  console.error('wasm-bindgen-test-runner exited before serving the test page');
  process.exit(1);
}

// The runner's file server stalls when Chromium asks it for several files at
// once (the six JS snippets the crate imports: two of them never came back in
// one run out of two). A proxy in front of it asks for one file at a time.
const one = new Agent({ keepAlive: false, maxSockets: 1 });
const proxy = createHttpServer((req, res) => {
  const upstream = request(
    { host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers, agent: one },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', (e) => res.destroy(e));
  req.pipe(upstream);
});
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const pageUrl = `http://127.0.0.1:${proxy.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: CHROMIUM_ARGS,
});
console.log(
  `wasm-bindgen tests in headless Chromium ${browser.version()} (playwright-core), page ${pageUrl} (through a proxy to the runner at ${address})`,
);
const errors = [];
let report = '';
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  // DEBUG_PAGE=1 logs every request the page makes and its console.
  if (process.env.DEBUG_PAGE) {
    page.on('request', (r) => console.log('req', r.url()));
    page.on('requestfinished', (r) => console.log('done', r.url()));
    page.on('requestfailed', (r) => console.log('failed', r.url(), r.failure()?.errorText));
    page.on('console', (m) => console.log('console', m.text().slice(0, 200)));
  }
  await page.goto(pageUrl, { waitUntil: 'commit' });
  while (!failure) {
    report = (await page.locator('#output').textContent()) ?? '';
    if (/test result: (ok|FAILED)/.test(report)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
} catch (e) {
  failure = `the page could not be driven: ${e.message}`;
} finally {
  clearTimeout(timer);
  await browser.close();
  proxy.close();
  stopRunner();
}

console.log(report.trim());
if (!failure && !/test result: ok\./.test(report)) failure = 'a test failed';
if (failure) {
  console.error(`wasm-bindgen tests in Chromium: ${failure}; page errors: ${errors.join('; ') || 'none'}`);
  process.exit(1);
}
