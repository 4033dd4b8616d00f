// End-to-end test of the demo page (www/) in headless Chromium.
//
//   node --test tests/demo/demo.test.mjs
//
// Needs the built package (./scripts/build.sh -> pkg/), playwright-core from
// the repo root's node_modules, and Debian's Chromium at /usr/bin/chromium
// (override with CHROMIUM_PATH). A missing browser or package is a failure,
// not a skip. Screenshots go to artifacts/demo/*.png.
// Env: CHROMIUM_PATH, RATEWISE_PKG_DIR (serve another build at /pkg/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../js/chromium.mjs';
import { startMock } from '../mock/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// The package the page imports; RATEWISE_PKG_DIR tests another build of it.
const PKG = path.resolve(process.env.RATEWISE_PKG_DIR || path.join(ROOT, 'pkg'));
const ARTIFACTS = path.join(ROOT, 'artifacts', 'demo');
const LAUNCH_ARGS = CHROMIUM_ARGS;
// Chromium reports every non-2xx fetch as a console error; the simulation
// receives 429s on purpose, so those (and only those) are expected.
const EXPECTED_NETWORK_ERROR = /Failed to load resource: the server responded with a status of 429/;
// Screenshots: no sticky header painted mid-page, no pulsing badge.
const SHOT = { animations: 'disabled', style: '.site { position: static !important; }' };

let mock;
let browser;
let page;
const consoleErrors = [];
const pageErrors = [];
const resetSnapshots = [];

const tid = (id) => `[data-testid="${id}"]`;
const text = async (id) => (await page.locator(tid(id)).textContent()).trim();
const int = async (id) => {
  const t = await text(id);
  const n = Number.parseInt(t.replace(/[^\d]/g, ''), 10);
  assert.ok(Number.isInteger(n), `${id} should hold a number, got "${t}"`);
  return n;
};

function shot(name) {
  return path.join(ARTIFACTS, `${name}.png`);
}

async function waitForRun() {
  const status = page.locator(`${tid('sim-status')}:is([data-state="done"], [data-state="error"])`);
  await status.waitFor({ timeout: 30_000 });
  const state = await status.getAttribute('data-state');
  assert.equal(state, 'done', `the simulation failed: ${await status.textContent()}`);
}

/**
 * Runs the simulation with the given inputs. Returns the mock's own stats for
 * each contender, snapshotted in-process at the moment the page resets the
 * mock (the page resets before ratewise, before the status-only loop, and
 * once at the end), so they are the server's count for exactly that run.
 */
async function runSimulation({ requests, concurrency, limit, windowMs, quota, fallback = false, budget = false }) {
  await page.fill(tid('sim-requests'), String(requests));
  await page.fill(tid('sim-concurrency'), String(concurrency));
  await page.fill(tid('sim-limit'), String(limit));
  await page.fill(tid('sim-window'), String(windowMs));
  await page.locator(tid('sim-quota')).setChecked(quota, { force: true });
  await page.locator(tid('sim-fallback')).setChecked(fallback, { force: true });
  await page.locator(tid('sim-budget')).setChecked(budget, { force: true });
  resetSnapshots.length = 0;
  await page.click(tid('run-button'));
  await waitForRun();
  assert.equal(resetSnapshots.length, 3, 'the page resets the mock before each contender and after the run');
  return { ratewise: resetSnapshots[1], baseline: resetSnapshots[2] };
}

before(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}. Install Debian's chromium package (apt-get install chromium) ` +
        'or set CHROMIUM_PATH. This test does not skip without a browser.',
    );
  }
  // A concurrent ./scripts/build.sh deletes pkg/ for a few seconds: give it a moment.
  for (let i = 0; i < 40 && !fs.existsSync(path.join(PKG, 'browser.js')); i++) {
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!fs.existsSync(path.join(PKG, 'browser.js'))) {
    throw new Error(`${path.join(PKG, 'browser.js')} is missing: build the package first with ./scripts/build.sh`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  mock = await startMock({ static: path.join(ROOT, 'www'), mounts: { '/pkg/': PKG } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.route('**/__mock/reset', async (route) => {
    resetSnapshots.push(mock.stats());
    await route.continue();
  });
  await page.goto(`${mock.url}/`);
  await page.waitForSelector('html[data-ready]', { timeout: 15_000 });
});

after(async () => {
  await browser?.close();
  await mock?.close();
});

test('the gallery shows real responses, verbatim from tests/data/classify_cases.json', async () => {
  const cases = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/data/classify_cases.json'), 'utf8'));
  const { SAMPLES } = await import(pathToFileURL(path.join(ROOT, 'www/samples.js')).href);
  assert.ok(SAMPLES.length >= 10, 'the gallery has the documented errors');
  for (const sample of SAMPLES) {
    const c = cases.find((x) => x.name === sample.name);
    assert.ok(c, `no case named "${sample.name}" in classify_cases.json`);
    assert.deepEqual(sample.input, c.input, `sample ${sample.id} differs from its case`);
  }
  const options = await page.locator(`${tid('sample-select')} option`).evaluateAll((o) => o.map((x) => x.value));
  assert.deepEqual(options.sort(), SAMPLES.map((s) => s.id).sort());
});

test('the page loads with no console errors', async () => {
  assert.deepEqual(pageErrors, [], 'uncaught exceptions on load');
  assert.deepEqual(consoleErrors, [], 'console errors on load');
  assert.equal(await page.locator('#load-error').isHidden(), true, 'the load-error banner is hidden');
  assert.equal(await page.locator(tid('sim-throttle')).isEnabled(), true, 'the throttle switch is offered');
});

test('insufficient_quota: quota_exhausted, alert', async () => {
  await page.selectOption(tid('sample-select'), 'openai-insufficient-quota');
  assert.equal(await text('out-kind'), 'quota_exhausted');
  assert.equal(await text('out-action'), 'alert');
  assert.equal(await page.getAttribute(tid('out-action'), 'data-action'), 'alert');
  assert.equal(await text('out-provider'), 'openai');
  assert.match(await text('out-explain'), /alert a human/i);
  assert.match(await text('out-reason'), /insufficient_quota/);
  await page.locator(tid('panel-classifier')).screenshot({ path: shot('classifier-quota'), ...SHOT });
});

test("rate limit: rate_limit, retry, the sample's 20 s wait", async () => {
  await page.selectOption(tid('sample-select'), 'openai-rate-limit');
  assert.equal(await text('out-kind'), 'rate_limit');
  assert.equal(await text('out-action'), 'retry');
  assert.equal(await page.getAttribute(tid('out-wait'), 'data-ms'), '20000');
  assert.match(await text('out-wait'), /20000 ms/);
  await page.locator(tid('panel-classifier')).screenshot({ path: shot('classifier-rate-limit'), ...SHOT });

  await page.selectOption(tid('sample-select'), 'openai-rate-limit-headers');
  assert.equal(await text('out-kind'), 'rate_limit');
  assert.equal(await page.getAttribute(tid('out-wait'), 'data-ms'), '18642');
  const windows = await page.locator(`${tid('out-limits')} tr[data-window]`).count();
  assert.equal(windows, 2, 'the x-ratelimit requests and tokens windows are shown');
});

test('editing the body and headers updates the classification as you type', async () => {
  await page.selectOption(tid('sample-select'), 'openai-rate-limit');
  const body = page.locator(tid('input-body'));
  await body.fill('');
  assert.equal(await text('out-kind'), 'rate_limit', 'a bare 429 is a rate limit');
  assert.equal(await page.getAttribute(tid('out-wait'), 'data-ms'), '');
  await body.pressSequentially('{"error":{"type":"insufficient_quota"}}');
  assert.equal(await text('out-kind'), 'quota_exhausted');
  assert.equal(await text('out-action'), 'alert');
  assert.equal(await page.locator('#edited').isVisible(), true, 'the edited marker shows');

  await body.fill('');
  await page.locator(tid('input-headers')).fill('retry-after: 7');
  assert.equal(await page.getAttribute(tid('out-wait'), 'data-ms'), '7000');
  await page.locator(tid('input-headers')).fill('retry-after 7');
  assert.equal(await page.locator(tid('headers-warning')).isVisible(), true, 'a line without a colon is flagged');

  await page.locator(tid('input-status')).fill('401');
  assert.equal(await text('out-action'), 'fail');
  await page.locator(tid('input-status')).fill('99999');
  assert.equal(await page.getAttribute(tid('out-action'), 'data-action'), 'error');
  assert.match(await text('out-explain'), /RangeError/);
  await page.click('#restore');
  assert.equal(await text('out-kind'), 'rate_limit');
});

test('simulation: one lane per request per contender; network calls match the mock', async () => {
  const params = { requests: 8, concurrency: 4, limit: 4, windowMs: 1000, quota: false };
  const server = await runSimulation(params);

  for (const contender of ['ratewise', 'baseline']) {
    const lanes = page.locator(`${tid(`lanes-${contender}`)} > ${tid('lane')}`);
    assert.equal(await lanes.count(), params.requests, `${contender}: one lane per request`);
    const children = await page.locator(`${tid(`lanes-${contender}`)} > *`).count();
    assert.equal(children, params.requests, `${contender}: the lanes container holds only the lanes`);
    const calls = await lanes.evaluateAll((ls) => ls.reduce((n, l) => n + Number(l.dataset.calls), 0));
    const summary = await int(`summary-${contender}-calls`);
    assert.equal(summary, server[contender].requests, `${contender}: summary network calls = the mock's count`);
    assert.equal(calls, server[contender].requests, `${contender}: the lanes' attempts = the mock's count`);
    assert.equal(await int(`summary-${contender}-429s`), server[contender].byStatus['429'] ?? 0);
    assert.ok(server[contender].requests >= params.requests);
  }
  assert.equal(await page.locator(tid('lane')).count(), 2 * params.requests);
  assert.ok(server.baseline.byStatus['429'] > 0, 'the burst hit the limit, so there were retries to draw');
  assert.equal(await int('summary-ratewise-succeeded'), params.requests);
  assert.equal(await int('summary-ratewise-failures'), 0);
  assert.equal(await int('summary-ratewise-retries'), server.ratewise.requests - params.requests);
  assert.equal(await int('summary-baseline-retries'), server.baseline.requests - params.requests);
  // Every 429 the mock sent is drawn as a 429 mark, followed by a wait.
  for (const contender of ['ratewise', 'baseline']) {
    const box = tid(`lanes-${contender}`);
    assert.equal(await page.locator(`${box} .mark.r429`).count(), server[contender].byStatus['429'] ?? 0);
    assert.equal(await page.locator(`${box} .mark.ok`).count(), server[contender].byStatus['200'] ?? 0);
    assert.equal(await page.locator(`${box} .seg.wait`).count(), server[contender].byStatus['429'] ?? 0);
  }
  await page.locator(tid('panel-simulation')).screenshot({ path: shot('simulation-rate-limit'), ...SHOT });
});

test('quota mode: ratewise alerts after one call; the status-only loop keeps retrying', async () => {
  const params = { requests: 8, concurrency: 4, limit: 4, windowMs: 1000, quota: true };
  const server = await runSimulation(params);

  const rw = await int('summary-ratewise-calls');
  const base = await int('summary-baseline-calls');
  assert.equal(rw, server.ratewise.requests);
  assert.equal(base, server.baseline.requests);
  assert.ok(rw < base, `ratewise made ${rw} network calls, the status-only loop ${base}`);
  assert.equal(base, params.requests * 3, 'the status-only loop retried every request twice');
  assert.ok(rw <= params.requests, 'ratewise never retried an empty account');
  assert.ok((await int('summary-ratewise-alerts')) >= 1, 'onQuotaExhausted fired');

  const outcomes = await page
    .locator(`${tid('lanes-ratewise')} > ${tid('lane')}`)
    .evaluateAll((ls) => ls.map((l) => ({ outcome: l.dataset.outcome, calls: Number(l.dataset.calls) })));
  for (const lane of outcomes) {
    assert.equal(lane.outcome, 'alert');
    assert.ok(lane.calls <= 1, 'at most one network call per request');
  }
  // With the quota circuit breaker, only the first wave reaches the network.
  assert.ok(
    rw <= params.concurrency,
    `with the breaker, at most ${params.concurrency} calls reach the network (got ${rw})`,
  );
  assert.equal(await int('summary-ratewise-shortcircuits'), params.requests - rw, 'the rest were stopped with 0 calls');
  assert.match(await text('sim-verdict'), /alert/);
  await page.locator(tid('panel-simulation')).screenshot({ path: shot('simulation-quota'), ...SHOT });
});

test('fallback: the demo key is out of quota, the backup key answers, and each lane shows its route', async () => {
  const params = { requests: 8, concurrency: 4, limit: 100, windowMs: 1000, quota: false, fallback: true };
  const server = await runSimulation(params);

  assert.equal(await int('summary-ratewise-succeeded'), params.requests);
  assert.equal(await int('summary-ratewise-backup'), params.requests, 'every answer came through route 1');
  assert.equal(await text('summary-baseline-backup'), 'n/a');
  assert.equal(await int('summary-baseline-succeeded'), 0, 'the status-only loop has only the empty key');
  assert.equal(await int('summary-ratewise-alerts'), 1, 'one alert for the incident (firstReport)');
  const box = tid('lanes-ratewise');
  const lanes = await page
    .locator(`${box} > ${tid('lane')}`)
    .evaluateAll((ls) => ls.map((l) => [l.dataset.route, l.querySelector('.lane-calls').textContent]));
  assert.ok(
    lanes.every(([route, calls]) => route === '1' && calls.endsWith('×r1')),
    JSON.stringify(lanes),
  );
  // The empty key's answers are quota marks on route 0; the backup's are striped 200s on route 1.
  assert.equal(await page.locator(`${box} .mark.ok.via-route`).count(), server.ratewise.byStatus['200']);
  assert.equal(await page.locator(`${box} .mark.quota:not(.via-route)`).count(), server.ratewise.byStatus['429']);
  assert.equal(server.ratewise.byStatus['200'], params.requests);
  assert.ok(server.ratewise.byStatus['429'] <= params.concurrency, 'the breaker kept later calls off the empty key');
  assert.match(
    await page.locator(`${box} .mark.via-route`).first().getAttribute('title'),
    /route 1 \(the backup key\)/,
  );
  assert.match(await text('sim-verdict'), /through the backup key \(route 1\)/);
  assert.match(await text('code-ratewise'), /routes: \[\{ apiKey: 'sk-demo-backup' \}\]/);
  await page.locator(tid('panel-simulation')).screenshot({ path: shot('simulation-fallback'), ...SHOT });
});

test('runaway batch: the batch stops at its budget with no network call, interactive calls all answer, alerts at 50/80/95%', async () => {
  const params = { requests: 20, concurrency: 2, limit: 100, windowMs: 1000, quota: false, budget: true };
  const server = await runSimulation(params);
  const stopped = await int('summary-ratewise-budget');
  assert.ok(stopped >= 5 && stopped <= 11, `stopped at the cap: ${stopped}`);
  assert.equal(await text('summary-baseline-budget'), 'n/a');
  assert.equal(await int('summary-ratewise-succeeded'), params.requests - stopped);
  assert.equal(server.ratewise.requests, params.requests - stopped, 'a stopped call never reached the mock');
  assert.equal(server.baseline.requests, params.requests, 'the status-only loop sent them all');
  const box = tid('lanes-ratewise');
  const budgetLanes = await page.locator(`${box} > ${tid('lane')}[data-outcome="budget"]`).count();
  assert.equal(budgetLanes, stopped);
  assert.match(
    await page.locator(`${box} .end.blocked`).first().getAttribute('title'),
    /stopped before any network call: 429 budget_exhausted: the "batch" budget is spent/,
  );
  const verdictText = await text('sim-verdict');
  assert.match(verdictText, /^Runaway batch: its budget \(112 tokens a day\) stopped/);
  assert.match(verdictText, /the 5 interactive requests on their own budget all answered/);
  assert.match(verdictText, /onBudget alerted below the cap at 50%.*80%.*95%/);
  assert.equal(await page.locator(tid('sim-verdict')).getAttribute('data-mode'), 'budget');
  assert.match(await text('code-ratewise'), /budgets: \[\{ name: 'batch', tag: 'nightly-batch'/);
  await page.locator(tid('panel-simulation')).screenshot({ path: shot('simulation-budget'), ...SHOT });
  await page.locator(tid('sim-budget')).setChecked(false, { force: true });
});

test('phone width (375 px) and dark mode render without overflow', async () => {
  const phone = await browser.newPage({ viewport: { width: 375, height: 812 } });
  const errors = [];
  phone.on('pageerror', (e) => errors.push(e.message));
  phone.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await phone.goto(`${mock.url}/`);
  await phone.waitForSelector('html[data-ready]');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 375px`);
  await phone.screenshot({ path: shot('phone-375'), fullPage: true, ...SHOT });
  await phone.close();

  const dark = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' });
  dark.on('pageerror', (e) => errors.push(e.message));
  await dark.goto(`${mock.url}/#openai-rate-limit-headers`);
  await dark.waitForSelector('html[data-ready]');
  const bg = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = bg.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 120, `dark mode has a dark background (got ${bg})`);
  assert.equal(await dark.locator(tid('out-kind')).textContent(), 'rate_limit', 'a sample can be linked by #id');
  await dark.screenshot({ path: shot('dark-1280'), ...SHOT });
  await dark.close();
  assert.deepEqual(errors, []);
});

test('no uncaught errors, and no console errors but the simulated 429s', () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(
    consoleErrors.filter((m) => !EXPECTED_NETWORK_ERROR.test(m)),
    [],
  );
});
