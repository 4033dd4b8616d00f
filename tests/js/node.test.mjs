// Node tier: the packed npm tarball, imported by name as users do, runs the
// shared suite plus Node-only checks (the real `openai` client, stream bodies).
import test from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import * as ratewise from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { tests, mockClient } from './suite.mjs';

const server = await startMock();
const mock = mockClient(server.url);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

console.log(`# runtime: Node ${process.version}, wasm from the packed ratewise tarball`);

for (const [name, fn] of tests) test(name, () => fn({ ratewise, mock }));

const client = (options = {}) =>
  new OpenAI({ apiKey: 'sk-test-key-never-logged', baseURL: `${server.url}/v1`, maxRetries: 0, fetch: ratewise.createFetch(options) });
const ask = (openai) => openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

test('openai client: a 429 rate_limit_exceeded followed by a 200 succeeds', async () => {
  await mock.script([{ name: 'rate_limit', retryAfterMs: 50 }]);
  const completion = await ask(client());
  assert.equal(completion.choices[0].message.role, 'assistant');
  assert.equal((await mock.stats()).requests, 2);
});

test('openai client: insufficient_quota raises its RateLimitError after exactly one request', async () => {
  await mock.script(['insufficient_quota', 'insufficient_quota']);
  let hook = 0;
  await assert.rejects(ask(client({ onQuotaExhausted: () => void hook++ })), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}`);
    assert.equal(e.code, 'insufficient_quota');
    assert.equal(ratewise.classify(e).kind, 'quota_exhausted', 'classify() reads the SDK error too');
    return true;
  });
  assert.equal((await mock.stats()).requests, 1);
  assert.equal(hook, 1);
});

test('a ReadableStream body is sent once and never re-sent empty', async () => {
  await mock.script(['server_error']);
  const body = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode('{"model":"stream-body"}'));
      c.close();
    },
  });
  const fetch = ratewise.createFetch({ throwOnError: true, baseDelayMs: 1 });
  await assert.rejects(fetch(mock.chat, { method: 'POST', body, duplex: 'half' }), (e) => {
    assert.equal(e.reason, 'body_not_replayable');
    assert.match(e.message, /ReadableStream/);
    return true;
  });
  assert.equal((await mock.stats()).requests, 1);
});

test('stats() counts calls, retries, time waited and breaker answers', async () => {
  await mock.script([{ name: 'rate_limit', retryAfterMs: 30 }, 'insufficient_quota']);
  const fetch = ratewise.createFetch();
  await fetch(mock.chat, { method: 'POST', body: '{}' }); // rate limit, then quota: trips the breaker
  await fetch(mock.chat, { method: 'POST', body: '{}' }); // answered by the open breaker
  const s = fetch.stats();
  assert.deepEqual(
    { calls: s.calls, attempts: s.attempts, retries: s.retries, waitedMs: s.waitedMs, byKind: s.byKind },
    { calls: 2, attempts: 3, retries: 1, waitedMs: 30, byKind: { rate_limit: 1, quota_exhausted: 2 } },
  );
  assert.deepEqual([s.networkCalls, s.shortCircuits, s.byRoute], [2, 1, [2]]);
  assert.equal((await mock.stats()).requests, 2);
});
