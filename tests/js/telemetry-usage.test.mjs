// The usage joined to telemetry, with the REAL OpenTelemetry SDK against the mock API: with
// telemetry on, the usage tap is on, and the call span ends when the answer's body ends (read
// whole, streamed, or cancelled), carrying the GenAI usage attributes, gen_ai.response.model, .id and
// ratewise.cost_usd, while the gen_ai.client.inference.usage.* counters get their points. A body
// never read ends its span at `bodyWaitMs`, or when its tap is evicted; no span is left open.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createFetch } from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { sdk } from './otel-sdk.mjs';
import { mockClient } from './suite.mjs';

const server = await startMock({ streamGapMs: 5 });
const mock = mockClient(server.url);
const CHAT = `${server.url}/v1/chat/completions`;
const PORT = Number(new URL(server.url).port);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

const settled = () => new Promise((resolve) => setTimeout(resolve, 0));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const PRICES = { 'gpt-4o-mini': { input: 1, output: 2 } };
const chat = (body = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-usage-join' },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body }),
});
const usageKeys = (attributes) =>
  Object.fromEntries(
    Object.entries(attributes).filter(([k]) => k.startsWith('gen_ai.usage.') || k.startsWith('ratewise.usage.')),
  );
const BASE = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o-mini',
  'server.address': '127.0.0.1',
  'server.port': PORT,
};

test('a JSON answer: the span ends when the body is read, with the answer model, usage, cost and counters', async () => {
  // The answer names a dated model: gen_ai.response.model is it; the attempt event's `model` is the request's.
  const body = JSON.stringify({
    id: 'chatcmpl-join',
    object: 'chat.completion',
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: 120,
      completion_tokens: 30,
      total_tokens: 150,
      prompt_tokens_details: { cached_tokens: 100 },
      completion_tokens_details: { reasoning_tokens: 20 },
    },
  });
  await mock.script([{ status: 200, headers: { 'content-type': 'application/json' }, chunks: [body] }]);
  const o = sdk();
  const events = [];
  const fetch = createFetch({ telemetry: o.telemetry, prices: PRICES, onEvent: (e) => events.push(e) });
  const res = await fetch(CHAT, chat());
  await settled();
  assert.deepEqual(o.calls(), [], 'the call span waits for the body');
  assert.equal(o.open.size, 1);
  assert.equal(await res.text(), body, 'the caller reads the same bytes');
  await settled();
  const [call] = o.calls();
  assert.ok(call, 'the span ended with the body');
  assert.equal(o.open.size, 0);
  const used = events.find((e) => e.type === 'usage');
  assert.deepEqual(
    events.map((e) => [e.type, e.model]),
    [
      ['attempt', 'gpt-4o-mini'],
      ['usage', 'gpt-4o-mini-2024-07-18'],
    ],
  );
  assert.equal(call.attributes['gen_ai.response.model'], 'gpt-4o-mini-2024-07-18');
  // The answer's id, on the span and the usage event (never on a metric point: one value per call).
  assert.equal(call.attributes['gen_ai.response.id'], 'chatcmpl-join');
  assert.equal(used.responseId, 'chatcmpl-join');
  assert.equal(call.attributes['gen_ai.request.model'], 'gpt-4o-mini');
  assert.equal(call.attributes['ratewise.cost_usd'], used.costUsd);
  assert.ok(used.costUsd > 0);
  assert.deepEqual(usageKeys(call.attributes), {
    'gen_ai.usage.input_tokens': 120,
    'gen_ai.usage.output_tokens': 30,
    'gen_ai.usage.cache_read.input_tokens': 100,
    'gen_ai.usage.reasoning.output_tokens': 20,
    'ratewise.usage.end': 'complete',
  });
  const p = await o.points();
  // A scripted answer carries no OpenAI header: the mock's host is named by nothing.
  const attrs = { ...BASE, 'gen_ai.provider.name': 'unknown', 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18' };
  assert.deepEqual(p['gen_ai.client.inference.usage.input_tokens'], [[attrs, 120]]);
  assert.deepEqual(p['gen_ai.client.inference.usage.output_tokens'], [[attrs, 30]]);
  assert.deepEqual(p['gen_ai.client.inference.usage.cache_read.input_tokens'], [[attrs, 100]]);
  assert.deepEqual(p['gen_ai.client.inference.usage.reasoning.output_tokens'], [[attrs, 20]]);
  assert.deepEqual(
    p['gen_ai.client.inference.duration'].map(([a, h]) => [a, h.count]),
    [[attrs, 1]],
  );
});

test('a streamed answer: the span ends with the stream, its usage from the last chunk', async () => {
  const o = sdk();
  const fetch = createFetch({ telemetry: o.telemetry, prices: PRICES });
  const res = await fetch(CHAT, chat({ stream: true, stream_options: { include_usage: true } }));
  assert.equal(res.headers.get('content-type').split(';')[0], 'text/event-stream');
  const reader = res.body.getReader();
  const first = await reader.read();
  assert.ok(!first.done);
  await settled();
  assert.deepEqual(o.calls(), [], 'open while the stream runs');
  const decoder = new TextDecoder();
  let text = decoder.decode(first.value, { stream: true });
  for (let part = await reader.read(); !part.done; part = await reader.read()) {
    text += decoder.decode(part.value, { stream: true });
  }
  await settled();
  const [call] = o.calls();
  assert.ok(call);
  assert.equal(o.open.size, 0);
  assert.equal(call.attributes['gen_ai.request.stream'], true);
  assert.equal(call.attributes['gen_ai.response.model'], 'gpt-4o-mini');
  // The mock's chunks all carry the completion's id (chatcmpl-…): the span has that exact id.
  const id = JSON.parse(text.split('\n')[0].slice('data: '.length)).id;
  assert.match(id, /^chatcmpl-[A-Za-z0-9]{29}$/);
  assert.equal(call.attributes['gen_ai.response.id'], id);
  const output = call.attributes['gen_ai.usage.output_tokens'];
  assert.ok(output > 1, `${output}`);
  assert.deepEqual(usageKeys(call.attributes), {
    'gen_ai.usage.input_tokens': 9,
    'gen_ai.usage.output_tokens': output,
    'gen_ai.usage.cache_read.input_tokens': 0,
    'gen_ai.usage.reasoning.output_tokens': 0,
    'ratewise.usage.end': 'complete',
  });
  assert.ok(Math.abs(call.attributes['ratewise.cost_usd'] - (9 * 1 + output * 2) / 1e6) < 1e-12);
  const p = await o.points();
  assert.deepEqual(
    p['gen_ai.client.inference.usage.output_tokens'].map(([, v]) => v),
    [output],
  );
});

test('a cancelled stream ends its span at once, charged for what was produced (estimated)', async () => {
  const o = sdk();
  const fetch = createFetch({ telemetry: o.telemetry });
  const res = await fetch(CHAT, chat({ stream: true }));
  const reader = res.body.getReader();
  await reader.read();
  await reader.cancel();
  await settled();
  const [call] = o.calls();
  assert.ok(call, 'ended by the cancel');
  assert.equal(o.open.size, 0);
  assert.equal(call.attributes['ratewise.usage.end'], 'cancelled');
  assert.equal(call.attributes['ratewise.usage.estimated'], true);
  assert.equal(call.status.code, 0, 'a cancel by the caller is not an error');
});

test('a body never read: the span ends at bodyWaitMs, at the headers, marked pending; the counters still count it', async () => {
  const o = sdk();
  const fetch = createFetch({ telemetry: { ...o.telemetry, bodyWaitMs: 30 } });
  const before = Date.now();
  const res = await fetch(CHAT, chat());
  const headersAt = Date.now();
  await sleep(80);
  const [call] = o.calls();
  assert.ok(call, 'ended by the bound');
  assert.equal(o.open.size, 0);
  assert.deepEqual(usageKeys(call.attributes), { 'ratewise.usage.pending': true });
  const end = call.endTime[0] * 1e3 + call.endTime[1] / 1e6;
  assert.ok(end >= before - 1 && end <= headersAt + 5, 'it ends at the time of the headers, not of the bound');
  // Read later: no second end, but the tokens are counted.
  await res.text();
  await settled();
  assert.equal(o.calls().length, 1);
  const p = await o.points();
  assert.deepEqual(
    p['gen_ai.client.inference.usage.input_tokens'].map(([, v]) => v),
    [9],
  );
});

test('an evicted tap (the 1025th unread body) ends the oldest call span; none stays open', async () => {
  const o = sdk();
  const answer = () =>
    new Response(JSON.stringify({ model: 'gpt-4o-mini', usage: { prompt_tokens: 1, completion_tokens: 1 } }), {
      headers: { 'content-type': 'application/json' },
    });
  const fetch = createFetch({ telemetry: o.telemetry, fetch: async () => answer() });
  const unread = [];
  for (let i = 0; i < 1024; i += 1) unread.push(await fetch('https://api.openai.com/v1/chat/completions', chat()));
  await settled();
  assert.equal(o.calls().length, 0);
  assert.equal(o.open.size, 1024);
  unread.push(await fetch('https://api.openai.com/v1/chat/completions', chat()));
  await settled();
  const ended = o.calls();
  assert.equal(ended.length, 1, 'the oldest, evicted');
  assert.equal(ended[0].attributes['ratewise.usage.end'], 'cancelled');
  for (const res of unread) await res.body.cancel();
  await settled();
  assert.equal(o.open.size, 0);
});

test('usage: false keeps the tap off: the span ends with the headers, without usage', async () => {
  const o = sdk();
  const events = [];
  const fetch = createFetch({ telemetry: o.telemetry, usage: false, onEvent: (e) => events.push(e) });
  const res = await fetch(CHAT, chat());
  await settled();
  const [call] = o.calls();
  assert.ok(call);
  assert.deepEqual(usageKeys(call.attributes), {});
  assert.equal(call.attributes['gen_ai.response.model'], undefined);
  assert.equal(call.attributes['gen_ai.response.id'], undefined);
  await res.text();
  await settled();
  assert.deepEqual(
    events.map((e) => e.type),
    ['attempt'],
    'no usage event',
  );
});

test('telemetry.bodyWaitMs is checked', () => {
  for (const bad of [-1, 'x', 2 ** 31]) {
    assert.throws(() => createFetch({ telemetry: { bodyWaitMs: bad } }), /telemetry\.bodyWaitMs/);
  }
});
