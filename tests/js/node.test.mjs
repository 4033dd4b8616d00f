// Node tier: the packed npm tarball, imported by name as users do, runs the
// shared suite plus Node-only checks (the real `openai` client, stream bodies).
import test from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { APICallError, generateText } from 'ai';
import * as ratewise from 'ratewise';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startMock } from '../mock/server.mjs';
import { tests, mockClient } from './suite.mjs';

// The shared suite collects garbage where the runtime lets it (a stream read after its fetch function is gone).
setFlagsFromString('--expose-gc');
globalThis.gc ??= runInNewContext('gc');

const server = await startMock();
const mock = mockClient(server.url);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

console.log(`# runtime: Node ${process.version}, wasm from the packed ratewise tarball`);

for (const [name, fn] of tests) test(name, () => fn({ ratewise, mock }));

const client = (options = {}) =>
  new OpenAI({
    apiKey: 'sk-test-key-never-logged',
    baseURL: `${server.url}/v1`,
    maxRetries: 0,
    fetch: ratewise.createFetch(options),
  });
const ask = (openai) =>
  openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

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

test('Vercel AI SDK: createOpenAI({ fetch }) rides out a rate limit', async () => {
  await mock.script([{ name: 'rate_limit', retryAfterMs: 30 }]);
  const provider = createOpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, fetch: ratewise.createFetch() });
  const { text } = await generateText({ model: provider.chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 });
  assert.equal(text, 'Hello from the mock');
  assert.equal((await mock.stats()).requests, 2);
});

test('Vercel AI SDK: its APICallError for insufficient_quota classifies as quota_exhausted, after one request', async () => {
  await mock.script(['insufficient_quota', 'insufficient_quota']);
  const provider = createOpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, fetch: ratewise.createFetch() });
  await assert.rejects(generateText({ model: provider.chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 }), (e) => {
    assert.ok(APICallError.isInstance(e), `got ${e?.name}`);
    const c = ratewise.classify(e);
    assert.deepEqual([c.kind, c.action, c.code], ['quota_exhausted', 'alert', 'insufficient_quota']);
    return true;
  });
  assert.equal((await mock.stats()).requests, 1);
});

test('@anthropic-ai/sdk: an empty credit balance is not retried, and its error classifies as quota_exhausted', async () => {
  await mock.script(['anthropic_credit', 'anthropic_credit']);
  const client = new Anthropic({
    apiKey: 'sk-ant-test',
    baseURL: server.url,
    maxRetries: 0,
    fetch: ratewise.createFetch(),
  });
  const ask = client.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 16,
    messages: [{ role: 'user', content: 'hi' }],
  });
  await assert.rejects(ask, (e) => {
    assert.equal(e.status, 400);
    assert.equal(ratewise.classify(e).kind, 'quota_exhausted');
    return true;
  });
  assert.equal((await mock.stats()).requests, 1);
});

test('@anthropic-ai/sdk: a 529 overloaded_error is retried', async () => {
  await mock.script([{ name: 'anthropic_overloaded', retryAfterMs: 20 }]);
  const client = new Anthropic({
    apiKey: 'sk-ant-test',
    baseURL: server.url,
    maxRetries: 0,
    fetch: ratewise.createFetch(),
  });
  const message = await client.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 16,
    messages: [{ role: 'user', content: 'hi' }],
  });
  assert.equal(message.role, 'assistant');
  assert.equal((await mock.stats()).requests, 2);
});

test('a fallback route with a baseURL sends the same path to another origin, with the same key and body', async () => {
  const backup = await startMock();
  try {
    await mock.config({ quota: true });
    const fetch = ratewise.createFetch({ routes: [{ baseURL: backup.url }] });
    const res = await fetch(`${server.url}/v1/chat/completions?trace=1`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-primary-0000' },
      body: JSON.stringify({ model: 'route-check' }),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).model, 'route-check');
    assert.equal((await mock.stats()).requests, 1, 'the primary was asked once');
    const [sent] = backup.stats().log;
    assert.equal(sent.path, '/v1/chat/completions', 'same path on the backup origin');
    assert.equal(sent.key, (await mock.stats()).log[0].key, 'same API key (as its hash)');
  } finally {
    await backup.close();
  }
});
