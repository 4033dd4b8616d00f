// fetch.health(): one JSON-ready snapshot (breakers, learned limits, queue, coordinator) for a
// status route, with keys only as hashes.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createFetch } from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';

const server = await startMock();
const mock = mockClient(server.url);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

const KEY = 'sk-proj-health0123456789abcdefghijklmnop';
const ask = (fetch) =>
  fetch(mock.chat, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });

test('a fresh instance is healthy and empty; the snapshot survives JSON', () => {
  const health = createFetch().health();
  assert.equal(typeof health.atMs, 'number');
  assert.deepEqual(JSON.parse(JSON.stringify(health)), health);
  assert.deepEqual(
    { ...health, atMs: 0 },
    {
      ok: true,
      atMs: 0,
      breakers: [],
      limits: [],
      queue: { running: 0, waiting: 0 },
      coordinator: { configured: false, errors: 0 },
      budgets: [],
      calls: { total: 0, attempts: 0, retries: 0 },
    },
  );
});

test('the limits learned from the headers, per key hash; an open quota breaker makes it not ok', async () => {
  await mock.config({ limit: 50, windowMs: 60_000 });
  const fetch = createFetch();
  assert.equal((await ask(fetch)).status, 200);
  const learned = fetch.health();
  assert.equal(learned.ok, true);
  assert.equal(learned.limits.length, 1);
  const [limit] = learned.limits;
  assert.match(limit.key, /^[0-9a-f]{8}$/);
  assert.deepEqual(limit.requests, { limit: 50, remaining: 49 });
  assert.equal(limit.tokens.limit, 150000);
  assert.deepEqual([limit.inputTokens, limit.outputTokens, limit.inFlight, limit.waiting], [null, null, 0, 0]);
  assert.deepEqual(learned.calls, { total: 1, attempts: 1, retries: 0 });

  await mock.config({ quota: true });
  assert.equal((await ask(fetch)).status, 429);
  const tripped = fetch.health();
  assert.equal(tripped.ok, false);
  assert.deepEqual(
    tripped.breakers.map((b) => [b.kind, b.state, b.key]),
    [['quota', 'open', limit.key]],
  );
  const text = JSON.stringify(tripped);
  assert.ok(!text.includes(KEY) && !text.includes('health0123'), text);
  fetch.resetBreaker();
  assert.equal(fetch.health().ok, true);
});

test('the queue: calls running and waiting for a slot', async () => {
  await mock.config({ latencyMs: 100 });
  const fetch = createFetch({ maxConcurrency: 1 });
  const calls = [ask(fetch), ask(fetch), ask(fetch)];
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(fetch.health().queue, { running: 1, waiting: 2 });
  await Promise.all(calls);
  assert.deepEqual(fetch.health().queue, { running: 0, waiting: 0 });
});
