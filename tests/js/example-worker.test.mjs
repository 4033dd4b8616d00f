// workerd tier: examples/worker/src/index.js, the README's Worker, run in the
// real workerd against the local mock API: an answer, a quota failure that
// alerts through ctx.waitUntil, invocations in parallel on the module-scope
// instance, and the subrequest count of each invocation.
import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';
import { CROSS_REQUEST_WARNINGS, startWorkers } from './workerd-harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const KEY = 'sk-proj-EXAMPLESECRET0123456789';
const server = await startMock();
const mock = mockClient(server.url);
// The same Worker as two services (two isolates), sharing the coordinator A
// defines; and as two more, C and D, bound to no coordinator, for comparison.
const entry = join(root, 'examples', 'worker', 'src', 'index.js');
const bindings = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: KEY };
const RATEWISE = { className: 'RatewiseCoordinator', service: 'a' };
const worker = await startWorkers({
  name: 'example-worker',
  workers: [
    { name: 'a', entry, bindings, durableObjects: ['RatewiseCoordinator'], namespaces: { RATEWISE } },
    { name: 'b', entry, bindings, namespaces: { RATEWISE } },
    { name: 'c', entry, bindings },
    { name: 'd', entry, bindings },
    // A key nothing has been heard from, for the first calls of an empty account.
    { name: 'e', entry, bindings: { ...bindings, OPENAI_API_KEY: 'sk-proj-FRESHKEY0123456789abcd' } },
    {
      name: 'f',
      entry,
      bindings: { ...bindings, OPENAI_API_KEY: 'sk-proj-FRESHKEY0123456789wxyz' },
      namespaces: { RATEWISE },
    },
  ],
});
test.after(async () => {
  await worker.stop();
  await server.close();
});
test.beforeEach(() => mock.reset());

const ask = (isolate = 'a') =>
  fetch(worker.urls[isolate], {
    method: 'POST',
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });

const waitForLog = async (text) => {
  for (let i = 0; i < 50 && !worker.log().includes(text); i++) await new Promise((r) => setTimeout(r, 20));
  return worker.log().includes(text);
};

/** K calls split across two isolates against a limit of L per second: the 429s, calls and wall time. */
async function splitBatch([x, y], { k = 40, l = 5 } = {}) {
  await mock.reset();
  await mock.config({ limit: l, windowMs: 1000, shape: 'fixed', latencyMs: 30 });
  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: k }, (_, i) => ask(i % 2 ? y : x)));
  const wall = Date.now() - started;
  const stats = await mock.stats();
  await mock.config({ limit: null });
  return {
    ok: answers.filter((r) => r.status === 200).length,
    r429: stats.byStatus[429] ?? 0,
    requests: stats.requests,
    floor: (k / l - 1) * 1000,
    wall,
  };
}

// First, while the coordinator knows nothing of the key: it starts cold, as in production.
test('a batch split across two isolates stays under one limit with the coordinator, not without', async () => {
  const shared = await splitBatch(['a', 'b']);
  const alone = await splitBatch(['c', 'd']);
  console.log(
    `# 40 calls over two isolates, 5 per second: with the coordinator ${shared.r429} 429s in ${shared.requests} ` +
      `calls (${(shared.wall / shared.floor).toFixed(2)}× floor), without ${alone.r429} in ${alone.requests} ` +
      `(${(alone.wall / alone.floor).toFixed(2)}× floor)`,
  );
  assert.equal(shared.ok, 40, JSON.stringify(shared));
  assert.ok(shared.r429 * 20 <= shared.requests, `≤ 5% 429s with the coordinator: ${JSON.stringify(shared)}`);
  assert.ok(alone.r429 >= 3 * Math.max(1, shared.r429), `many more without: ${JSON.stringify(alone)}`);
  for (const bad of CROSS_REQUEST_WARNINGS) assert.ok(!worker.log().includes(bad), `workerd logged "${bad}"`);
});

test('the example Worker answers through ratewise, one subrequest per call', async () => {
  const res = await ask();
  assert.equal(res.status, 200);
  assert.equal((await res.json()).object, 'chat.completion');
  assert.ok(await waitForLog('subrequests {"limit":40,"spent":1}'), worker.log());
});

test('a streamed answer keeps its text/event-stream content type through the example Worker', async () => {
  const res = await fetch(worker.urls.a, {
    method: 'POST',
    body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  assert.match(await res.text(), /data: \[DONE\]/);
});

test('a rate limit is retried inside the invocation, each retry counted', async () => {
  await mock.script([{ name: 'rate_limit', retryAfterMs: 50 }]);
  const res = await ask();
  assert.equal(res.status, 200);
  assert.ok(await waitForLog('subrequests {"limit":40,"spent":2}'), worker.log());
});

test('parallel invocations share the module-scope instance; none is cancelled as hung', async () => {
  await mock.config({ latencyMs: 100 });
  const answers = await Promise.all(Array.from({ length: 12 }, () => ask()));
  assert.deepEqual(
    answers.map((r) => r.status),
    Array(12).fill(200),
  );
  for (const bad of CROSS_REQUEST_WARNINGS) assert.ok(!worker.log().includes(bad), `workerd logged "${bad}"`);
});

for (const [isolate, how] of [
  ['e', 'alone'],
  ['f', 'with the coordinator'],
]) {
  test(`ten parallel first invocations on an empty account, ${how}: one network call, one alert (firstReport)`, async () => {
    await mock.config({ quota: true, latencyMs: 50 });
    const alerts = () => worker.log().split('alert: ').length - 1;
    const before = alerts();
    const answers = await Promise.all(Array.from({ length: 10 }, () => ask(isolate)));
    assert.deepEqual(
      answers.map((r) => r.status),
      Array(10).fill(503),
    );
    await waitForLog('alert: You exceeded');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await mock.stats()).requests, 1, 'one call reached the server; the others waited for its answer');
    assert.equal(alerts() - before, 1, `one alert: ${worker.log()}`);
    for (const bad of CROSS_REQUEST_WARNINGS) assert.ok(!worker.log().includes(bad), `workerd logged "${bad}"`);
  });
}

// Last: the quota breaker stays open for this key, in both isolates.
test('an empty account found by one isolate fails fast in the other, which sends nothing', async () => {
  await mock.config({ quota: true });
  const res = await ask('a');
  assert.equal(res.status, 503);
  assert.match((await res.json()).error, /out of quota/);
  assert.ok(await waitForLog('alert: You exceeded your current quota'), worker.log());
  assert.equal((await mock.stats()).requests, 1);
  const other = await ask('b');
  assert.equal(other.status, 503);
  assert.equal((await mock.stats()).requests, 1, 'isolate B made no request: the coordinator told it');
  assert.ok(!worker.log().includes(KEY), 'the API key never reaches the log');
});
