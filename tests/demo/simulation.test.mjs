// The demo's simulation logic (www/simulation.js) in Node, with no browser: the pure helpers
// on hand-made runs, then both contenders against the real mock API, with ratewise from the
// built package (./scripts/build.sh -> pkg/; RATEWISE_PKG_DIR tests another build).
//
//   node --test tests/demo/simulation.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startMock } from '../mock/server.mjs';
import {
  attemptClass,
  attemptTitle,
  BATCH_TAG,
  budgetsFor,
  clampParams,
  INTERACTIVE_TAG,
  compareSummaries,
  laneSignature,
  mockControl,
  newRun,
  niceStep,
  prepareMock,
  ratewiseCode,
  runBaseline,
  runRatewise,
  scaleMs,
  statusOnlyDelay,
  statusOnlyRetryable,
  summarize,
  verdict,
  warmUp,
} from '../../www/simulation.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PKG = path.resolve(process.env.RATEWISE_PKG_DIR || path.join(ROOT, 'pkg'));

let mock;
let ratewise;
before(async () => {
  const entry = path.join(PKG, 'node.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: build the package first with ./scripts/build.sh`);
  ratewise = await import(pathToFileURL(entry).href);
  mock = await startMock();
});
after(() => mock?.close());

const params = (over = {}) =>
  clampParams({ requests: 8, concurrency: 4, limit: 4, windowMs: 1000, retries: 2, latencyMs: 0, ...over });

test('clampParams: whole numbers within bounds, defaults for junk, switches kept', () => {
  const p = clampParams({
    requests: '999',
    concurrency: '0',
    limit: 'x',
    windowMs: 12.6,
    retries: -3,
    latencyMs: '40',
  });
  assert.deepEqual(p, {
    quota: false,
    throttle: true,
    fallback: false,
    budget: false,
    requests: 200,
    concurrency: 1,
    limit: 5,
    windowMs: 100,
    retries: 0,
    latencyMs: 40,
  });
  assert.equal(clampParams({ quota: true, throttle: false }).throttle, false);
  assert.equal(clampParams({ quota: true }).quota, true);
  assert.equal(clampParams({ fallback: 'on' }).fallback, true);
});

test("statusOnlyRetryable and statusOnlyDelay follow openai-node's rules", () => {
  const res = (status, headers = {}) => ({ status, headers: new Headers(headers) });
  assert.equal(statusOnlyRetryable(res(429)), true);
  assert.equal(statusOnlyRetryable(res(503)), true);
  assert.equal(statusOnlyRetryable(res(400)), false);
  assert.equal(statusOnlyRetryable(res(400, { 'x-should-retry': 'true' })), true);
  assert.equal(statusOnlyRetryable(res(429, { 'x-should-retry': 'false' })), false);

  assert.equal(statusOnlyDelay(new Headers({ 'retry-after-ms': '250' }), 2, 2), 250);
  assert.equal(statusOnlyDelay(new Headers({ 'retry-after': '3' }), 2, 2), 3000);
  const date = new Date(Date.now() + 5000).toUTCString();
  const fromDate = statusOnlyDelay(new Headers({ 'retry-after': date }), 2, 2);
  assert.ok(fromDate > 3000 && fromDate <= 5000, `an HTTP-date hint: ${fromDate} ms`);
  // No hint: 0.5 s * 2^n, less up to 25 % jitter, at most 8 s.
  assert.equal(
    statusOnlyDelay(new Headers(), 2, 2, () => 0),
    500,
  );
  assert.equal(
    statusOnlyDelay(new Headers(), 1, 2, () => 1),
    750,
  );
  assert.equal(
    statusOnlyDelay(new Headers(), 0, 10, () => 0),
    8000,
  );
});

test('timeline geometry: tick steps, the shared scale, attempt classes, lane signatures', () => {
  assert.equal(niceStep(1000), 200);
  assert.equal(niceStep(60_000, 4), 15000);
  assert.equal(niceStep(10_000_000), 120000);
  const a = newRun('ratewise', params(), { start: 0 });
  const b = newRun('baseline', params(), { start: 100 });
  assert.equal(scaleMs({ ratewise: null, baseline: null }, 0), 1200, 'at least 1 s, rounded up to a tick');
  a.end = 2000;
  assert.equal(scaleMs({ ratewise: a, baseline: b }, 4100), 4500, 'the unfinished run counts up to now');

  const att = (o) => ({ start: 0, end: 10, status: 429, kind: null, decision: null, ...o });
  assert.equal(attemptClass('ratewise', att({ end: null })), 'pending');
  assert.equal(attemptClass('ratewise', att({ status: 200 })), 'ok');
  assert.equal(attemptClass('ratewise', att({ kind: 'quota_exhausted' })), 'quota');
  assert.equal(attemptClass('ratewise', att({ kind: 'rate_limit' })), 'r429');
  assert.equal(attemptClass('baseline', att({ kind: 'HTTP 429' })), 'r429', 'the loop cannot tell a quota 429');
  assert.equal(attemptClass('baseline', att({ status: 500 })), 'err');

  const lane = a.lanes[0];
  const before = laneSignature(lane);
  lane.attempts.push(att({ end: null }));
  assert.notEqual(laneSignature(lane), before, 'a new attempt redraws the lane');
});

test('summary rows and the comparison, from hand-made runs', () => {
  const rw = newRun('ratewise', params({ requests: 2 }), { start: 0 });
  const base = newRun('baseline', params({ requests: 2 }), { start: 0 });
  assert.equal(summarize(rw).wall, null, 'nothing is final before the run ends');
  assert.deepEqual(compareSummaries({ ratewise: summarize(rw), baseline: summarize(base) }), []);

  for (const l of rw.lanes) Object.assign(l, { outcome: 'ok', attempts: [{}] });
  for (const l of base.lanes) Object.assign(l, { outcome: 'failed', attempts: [{}, {}, {}] });
  Object.assign(rw, { end: 1000, server: { requests: 2, byStatus: { 200: 2 } } });
  Object.assign(base, { end: 3000, server: { requests: 6, byStatus: { 429: 6 } } });
  const s = { ratewise: summarize(rw), baseline: summarize(base) };
  assert.deepEqual(
    { ...s.ratewise },
    {
      wall: 1000,
      calls: 2,
      r429: 0,
      retries: 0,
      succeeded: 2,
      failures: 0,
      alerts: 0,
      shortcircuits: 0,
      blocked: 0,
      backup: 0,
      budgetStopped: 0,
      clientCalls: 0,
    },
  );
  assert.equal(s.baseline.alerts, 'n/a');
  const better = Object.fromEntries(compareSummaries(s).map((c) => [c.key, c.better]));
  assert.deepEqual(better, {
    wall: 'ratewise',
    calls: 'ratewise',
    r429: 'ratewise',
    retries: 'ratewise',
    failures: 'ratewise',
    succeeded: 'ratewise',
  });
  const v = verdict(s, { ratewise: rw, baseline: base });
  assert.equal(v.mode, 'rate');
  assert.match(v.text, /^Rate limit of 4 per 1\u00a0s: ratewise finished in 1\.00 s with 2 network calls and 0 429s/);
  assert.match(v.text, /gave up on 2 requests\./);
});

test('the code box shows the options runRatewise passes', () => {
  const code = ratewiseCode(params({ requests: 150 }));
  assert.match(code, /maxRetries: 2,/);
  assert.match(code, /maxConcurrency: 4,/);
  assert.match(code, /maxQueue: 150,/);
  assert.match(code, /throttle: true,/);
  assert.match(code, /quotaCooldownMs: 60_000,/);
});

test('warmUp runs ratewise against a stub, with no network', async () => {
  await warmUp(ratewise.createFetch);
});

/** Runs one contender the way the page does, and returns its run with the mock's stats. */
async function simulate(contender, p) {
  const env = { baseUrl: mock.url };
  await prepareMock(p, env);
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const run = newRun(contender, p, { start: now() });
  if (contender === 'ratewise') {
    await runRatewise(run, {
      ...env,
      now,
      createFetch: ratewise.createFetch,
      isQuotaExhaustedError: ratewise.isQuotaExhaustedError,
    });
  } else {
    await runBaseline(run, { ...env, now });
  }
  run.server = await mockControl('stats', undefined, env);
  return run;
}

test('a rate limit: every request succeeds through both; the lanes count what the mock served', async () => {
  const p = params();
  const runs = { ratewise: await simulate('ratewise', p), baseline: await simulate('baseline', p) };
  for (const run of Object.values(runs)) {
    const calls = run.lanes.reduce((n, l) => n + l.attempts.length, 0);
    assert.equal(calls, run.server.requests, `${run.contender}: one attempt per request the mock saw`);
    assert.equal(run.clientCalls, run.server.requests);
    assert.ok(run.end >= run.start);
  }
  assert.ok(runs.baseline.server.byStatus['429'] > 0, 'the burst of 8 hit the limit of 4');
  assert.ok(
    runs.ratewise.lanes.every((l) => l.outcome === 'ok'),
    'ratewise waited out the limit',
  );
  assert.equal(runs.ratewise.stats.calls, p.requests);
  const s = { ratewise: summarize(runs.ratewise), baseline: summarize(runs.baseline) };
  assert.equal(s.ratewise.succeeded, p.requests);
  assert.equal(verdict(s, runs).mode, 'rate');
});

test('at the page defaults, ratewise is no slower than the status-only loop and makes fewer calls', async () => {
  const p = clampParams({}); // 20 requests, 5 at a time, 5 per 1 s, 2 retries, 40 ms latency
  // Both take about 3.2 s, ratewise with 20 calls, the loop with 35: a difference under 100 ms is
  // a tie on the page (compareSummaries). One run on a loaded machine can land either way, so a
  // second pair is run before calling ratewise slower.
  let last;
  for (let pair = 0; pair < 2; pair++) {
    const runs = { ratewise: await simulate('ratewise', p), baseline: await simulate('baseline', p) };
    const s = { ratewise: summarize(runs.ratewise), baseline: summarize(runs.baseline) };
    assert.equal(s.ratewise.succeeded, p.requests);
    assert.equal(s.ratewise.r429, 0, 'released at each reset, no 429');
    assert.ok(s.ratewise.calls < s.baseline.calls, `${s.ratewise.calls} calls against ${s.baseline.calls}`);
    last = { s, runs };
    if (s.ratewise.wall <= s.baseline.wall + 100) break;
  }
  const { s, runs } = last;
  assert.ok(
    s.ratewise.wall <= s.baseline.wall + 100,
    `ratewise ${Math.round(s.ratewise.wall)} ms, the loop ${Math.round(s.baseline.wall)} ms`,
  );
  const better = compareSummaries(s);
  assert.ok(!better.some((c) => c.key === 'wall' && c.better === 'baseline'), 'the loop is not shown as faster');
  assert.match(verdict(s, runs).text, /as fast as the retries with fewer calls\.$/);
});

test('an empty account: ratewise alerts after the first wave; the loop retries every request', async () => {
  const p = params({ quota: true });
  const runs = { ratewise: await simulate('ratewise', p), baseline: await simulate('baseline', p) };
  const rw = runs.ratewise;
  assert.ok(rw.alerts >= 1, 'onQuotaExhausted fired for a real quota answer');
  assert.ok(
    rw.server.requests <= p.concurrency,
    `the breaker kept later calls off the network (${rw.server.requests})`,
  );
  assert.ok(rw.lanes.every((l) => l.outcome === 'alert' && l.attempts.length <= 1));
  assert.equal(rw.lanes.filter((l) => l.blocked).length, p.requests - rw.server.requests);
  assert.ok(Array.isArray(rw.breaker) && rw.breaker.length === 1, 'fetch.breaker() lists the open key');
  assert.equal(runs.baseline.server.requests, p.requests * (p.retries + 1), 'the loop retried every 429');
  const v = verdict({ ratewise: summarize(rw), baseline: summarize(runs.baseline) }, runs);
  assert.equal(v.mode, 'quota');
  assert.match(v.text, /^Empty account: ratewise raised the alert/);
  assert.match(v.text, /fetch\.breaker\(\) lists 1 key as open/);
});

test('the fallback route: the demo key is out of quota, the backup key answers every request, and each lane says which route', async () => {
  const p = params({ fallback: true });
  assert.equal(p.fallback, true);
  assert.match(ratewiseCode(p), /routes: \[\{ apiKey: 'sk-demo-backup' \}\],/);
  const runs = { ratewise: await simulate('ratewise', p), baseline: await simulate('baseline', p) };
  const rw = runs.ratewise;
  assert.ok(
    rw.lanes.every((l) => l.outcome === 'ok' && l.route === 1),
    'every request answered, on route 1',
  );
  const attempts = rw.lanes.flatMap((l) => l.attempts);
  assert.equal(attempts.length, rw.server.requests, 'one attempt per request the mock saw');
  const primary = attempts.filter((a) => a.route === 0);
  assert.ok(
    primary.length >= 1 && primary.length <= p.concurrency,
    `only the first wave tried the empty key: ${primary.length}`,
  );
  assert.ok(primary.every((a) => a.kind === 'quota_exhausted' && a.status === 429));
  assert.ok(attempts.filter((a) => a.route === 1).every((a) => a.status === 200));
  assert.equal(rw.alerts, 1, 'one alert: firstReport, once per incident');
  assert.deepEqual(rw.stats.byRoute, [0, p.requests], 'stats().byRoute');
  assert.match(attemptTitle('ratewise', primary[0], 1), /HTTP 429 · quota_exhausted/);
  assert.match(attemptTitle('ratewise', rw.lanes[0].attempts.at(-1), 2), /route 1 \(the backup key\)/);
  assert.ok(
    runs.baseline.lanes.every((l) => l.outcome === 'failed'),
    'one key: the status-only loop fails every request',
  );
  const s = { ratewise: summarize(rw), baseline: summarize(runs.baseline) };
  assert.equal(s.ratewise.backup, p.requests);
  assert.equal(s.baseline.backup, 'n/a');
  const v = verdict(s, runs);
  assert.equal(v.mode, 'fallback');
  assert.match(
    v.text,
    new RegExp(
      `^The demo key is out of quota: ratewise answered ${p.requests} requests of ${p.requests}, ${p.requests} through the backup key`,
    ),
  );
  const lane = rw.lanes[0];
  const before = laneSignature(lane);
  lane.attempts.at(-1).route = 0;
  assert.notEqual(laneSignature(lane), before, 'a lane is redrawn when its route changes');
});

test('the runaway batch: its budget stops it at its cap with no network call, interactive traffic is untouched, alerts at 50/80/95%', async () => {
  const p = params({ budget: true, requests: 20, concurrency: 2, limit: 100 });
  const [batchBudget, interactiveBudget] = budgetsFor(p);
  // 15 batch requests (every fourth is interactive): the batch may spend 8 answers' worth.
  assert.deepEqual(
    [batchBudget.name, batchBudget.tag, batchBudget.limitTokens, batchBudget.alertAt],
    ['batch', BATCH_TAG, 14 * 8, [0.5, 0.8, 0.95]],
  );
  assert.equal(interactiveBudget.tag, INTERACTIVE_TAG);
  assert.match(ratewiseCode(p), /budgets: \[\{ name: 'batch', tag: 'nightly-batch', limitTokens: 112/);
  assert.match(ratewiseCode(p), /onBudget,/);
  const runs = { ratewise: await simulate('ratewise', p), baseline: await simulate('baseline', p) };
  const rw = runs.ratewise;
  const batch = rw.lanes.filter((l) => l.tag === BATCH_TAG);
  const interactive = rw.lanes.filter((l) => l.tag === INTERACTIVE_TAG);
  assert.deepEqual([batch.length, interactive.length], [15, 5]);
  assert.ok(
    interactive.every((l) => l.outcome === 'ok'),
    'interactive traffic on its own budget is untouched',
  );
  const stopped = batch.filter((l) => l.outcome === 'budget');
  const answered = batch.filter((l) => l.outcome === 'ok');
  assert.equal(stopped.length + answered.length, batch.length, 'a batch request answered or was stopped');
  // A call reserves its estimate (input estimate + max_tokens, less than the 14 it uses), so each call
  // in flight may overshoot by one reservation's error: at most `concurrency` answers past 8.
  const most = 8 + p.concurrency;
  assert.ok(answered.length >= 4 && answered.length <= most, `the batch ran until its cap: ${answered.length}`);
  assert.ok(stopped.length >= 15 - most, `and was stopped there: ${stopped.length}`);
  assert.ok(
    stopped.every((l) => l.attempts.length === 0 && l.blocked && /budget_exhausted/.test(l.detail)),
    'a stopped request made no network call',
  );
  assert.equal(rw.server.requests, answered.length + interactive.length, 'the mock saw only what went');
  // Alerts below the cap, once each, in order, each with its forecast (a time, ms since the epoch).
  const thresholds = rw.budgetAlerts.filter((a) => a.budget === 'batch' && a.threshold !== null);
  assert.deepEqual(
    thresholds.map((a) => a.threshold),
    [0.5, 0.8, 0.95],
  );
  assert.ok(thresholds.every((a) => a.forecast === null || a.forecast > Date.now() - 60_000));
  assert.ok(
    thresholds.some((a) => typeof a.forecast === 'number'),
    'a forecast once the batch has a burn rate',
  );
  // No threshold alert for interactive traffic. Its forecast alert may fire: the burn rate is measured from
  // the day window's start, so in the first ~2 hours of a UTC day the demo's spend projects past the cap.
  assert.ok(
    !rw.budgetAlerts.some((a) => a.budget === 'interactive' && a.threshold !== null),
    'the interactive budget never neared its cap',
  );
  // The status-only loop has no budget: every request went.
  assert.equal(runs.baseline.server.requests, p.requests);
  const s = { ratewise: summarize(rw), baseline: summarize(runs.baseline) };
  assert.equal(s.ratewise.budgetStopped, stopped.length);
  assert.equal(s.ratewise.failures, 0, 'a request its budget stopped is not a failure');
  assert.equal(s.baseline.budgetStopped, 'n/a');
  const v = verdict(s, runs);
  assert.equal(v.mode, 'budget');
  assert.match(
    v.text,
    new RegExp(
      `^Runaway batch: its budget \\(112 tokens a day\\) stopped ${stopped.length} requests of 15 at the cap, with no network call; the 5 interactive requests on their own budget all answered\\. onBudget alerted below the cap at 50%`,
    ),
  );
  assert.match(v.text, /95%/);
  assert.match(v.text, /The status-only loop has no budget: it sent all 20 requests\.$/);
});
