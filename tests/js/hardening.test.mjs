// Node tier: the second hardening pass (issue 19) where it needs Node: the official SDKs at their
// default retries, and stub fetches that make broken servers deterministic. Each test failed on
// the main it was written against.
import test from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import * as ratewise from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';

const server = await startMock();
const mock = mockClient(server.url);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

const many = (step, n = 20) => Array.from({ length: n }, () => step);

test('an answer ratewise gave up on carries x-should-retry: false, so openai at its default maxRetries does not repeat it all (3 network calls, not 9)', async () => {
  await mock.script(many({ name: 'rate_limit', retryAfterMs: 5 }));
  const openai = new OpenAI({
    apiKey: 'sk-test-key-never-logged',
    baseURL: `${server.url}/v1`,
    fetch: ratewise.createFetch({ maxRetries: 2, baseDelayMs: 1 }),
  });
  await assert.rejects(
    openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e.status === 429,
  );
  assert.equal((await mock.stats()).requests, 3);
});

test('@anthropic-ai/sdk at its default maxRetries does not repeat what ratewise retried (3 network calls, not 9)', async () => {
  await mock.script(many({ name: 'anthropic_overloaded', retryAfterMs: 5 }));
  const client = new Anthropic({
    apiKey: 'sk-ant-test',
    baseURL: server.url,
    fetch: ratewise.createFetch({ maxRetries: 2, baseDelayMs: 1 }),
  });
  await assert.rejects(
    client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e.status === 529,
  );
  assert.equal((await mock.stats()).requests, 3);
});

test('x-should-retry: false is on every failed answer, with status, body and url kept; a success is untouched', async () => {
  const fetch = ratewise.createFetch({ maxRetries: 1, baseDelayMs: 1 });
  await mock.script(['invalid_api_key']);
  const rejected = await fetch(mock.chat, { method: 'POST', body: '{}' });
  assert.equal(rejected.status, 401);
  assert.equal(rejected.headers.get('x-should-retry'), 'false');
  assert.equal(rejected.url, mock.chat);
  assert.match(await rejected.text(), /invalid_api_key|Incorrect API key/);
  await mock.script(many('server_error', 2));
  const down = await fetch(mock.chat, { method: 'POST', body: '{}' });
  assert.equal([down.status, down.headers.get('x-should-retry')].join(), '500,false');
  await down.arrayBuffer();
  const fine = await fetch(mock.chat, { method: 'POST', body: '{}' });
  assert.equal(fine.status, 200);
  assert.equal(fine.headers.get('x-should-retry'), null, 'a success is passed through as it came');
});

test("classify() unwraps the AI SDK's RetryError (generateText's own retries spent) and classifies its last error", async () => {
  const { createOpenAI } = await import('@ai-sdk/openai');
  const { generateText, RetryError } = await import('ai');
  await mock.config({ quota: true });
  const openai = createOpenAI({
    apiKey: 'sk-test-key-never-logged',
    baseURL: `${server.url}/v1`,
    fetch: ratewise.createFetch(),
  });
  const error = await generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 1 }).catch((e) => e);
  assert.ok(RetryError.isInstance(error), `a RetryError: ${error?.name}`);
  const c = ratewise.classify(error);
  assert.deepEqual([c.kind, c.action, c.status], ['quota_exhausted', 'alert', 429]);
});

test('once per incident outside the hook: of 10 concurrent calls on an empty account, one network call, and one error and one event carry firstReport', async () => {
  await mock.config({ quota: true, latencyMs: 30 });
  const events = [];
  const fetch = ratewise.createFetch({ throwOnError: true, onEvent: (e) => events.push(e) });
  const init = { method: 'POST', headers: { authorization: 'Bearer sk-first-report-0001' }, body: '{}' };
  const errors = await Promise.all(Array.from({ length: 10 }, () => fetch(mock.chat, init).catch((e) => e)));
  assert.ok(errors.every((e) => ratewise.isQuotaExhaustedError(e)));
  assert.equal(errors.filter((e) => e.firstReport === true).length, 1, 'one error is the first report');
  assert.ok(
    errors.every((e) => typeof e.firstReport === 'boolean'),
    'every error says',
  );
  assert.equal(events.filter((e) => e.firstReport === true).length, 1, 'one event is the first report');
  assert.equal((await mock.stats()).requests, 1, 'the other calls waited for the first answer');
});
