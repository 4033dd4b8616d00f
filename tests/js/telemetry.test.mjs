// createFetch({ telemetry }) with the REAL OpenTelemetry SDK (sdk-trace-base's in-memory
// exporter, sdk-metrics' reader) against the mock API: the exact span tree, attributes,
// span events and metric points of a retried call, a call the quota breaker answers, a
// fallback route and aborted calls; no span left open; no secret in any attribute.
import test from 'node:test';
import assert from 'node:assert/strict';
import { context, metrics, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { classify, createFetch } from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { sdk } from './otel-sdk.mjs';
import { mockClient } from './suite.mjs';
import { usageAttributes, DURATION_BUCKETS } from '../../pkg-template/telemetry.js';

const server = await startMock();
const mock = mockClient(server.url);
const CHAT = `${server.url}/v1/chat/completions`;
const PORT = Number(new URL(server.url).port);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

const send = (fetch, headers = {}, init = {}, body = {}) =>
  fetch(CHAT, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-telemetry', ...headers },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body }),
    ...init,
  });
/** The usage tap hands the core what was read a microtask later, then the span ends. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));
/** A call whose body is read whole, as a caller would: its call span has ended when it resolves. */
const ask = async (...args) => {
  const res = await send(...args);
  await res.arrayBuffer();
  await settled();
  return res;
};

/** The call span and its children, in start order. */
function tree(spans) {
  const root = spans.filter((s) => !s.parentSpanContext);
  assert.equal(root.length, 1, `one call span, got ${spans.map((s) => s.name)}`);
  const id = root[0].spanContext().spanId;
  const children = spans.filter((s) => s.parentSpanContext?.spanId === id);
  children.sort((a, b) => a.attributes['ratewise.attempt'] - b.attributes['ratewise.attempt']);
  assert.equal(children.length + 1, spans.length, 'every other span is a child of the call span');
  return { call: root[0], children };
}

const GEN_AI = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o-mini',
  'server.address': '127.0.0.1',
  'server.port': PORT,
};

test('two 429s then a success: one CLIENT span, three HTTP children, two backoff events, the metrics', async () => {
  await mock.script([
    { name: 'rate_limit', retryAfterMs: 20 },
    { name: 'rate_limit', retryAfterMs: 30 },
  ]);
  const o = sdk();
  const events = [];
  const fetch = createFetch({
    telemetry: { tracer: o.tracer, meter: o.meter },
    onEvent: (e) => events.push(e),
    prices: { 'gpt-4o-mini': { input: 1, output: 2 } },
  });
  const res = await ask(fetch);
  // Telemetry turned the usage tap on: the usage event came when the body was read.
  const used = events.find((e) => e.type === 'usage');
  assert.ok(used, 'a usage event');
  assert.ok(Math.abs(used.costUsd - 19e-6) < 1e-12, `${used.costUsd}`);
  assert.equal(res.status, 200);
  const { call, children } = tree(o.spans());
  assert.equal(call.name, 'chat gpt-4o-mini');
  assert.equal(call.kind, 2, 'CLIENT');
  assert.equal(call.status.code, 0, 'unset: a success');
  // The two backoffs, and whatever the throttle held a retry (a millisecond or two under load).
  const waited = call.attributes['ratewise.waited_ms'];
  assert.ok(waited >= 50 && waited < 100, `${waited} ms`);
  assert.deepEqual(call.attributes, {
    ...GEN_AI,
    'ratewise.lane': 'interactive',
    'ratewise.waited_ms': waited,
    'ratewise.attempts': 3,
    'ratewise.route': 0,
    'ratewise.source': 'network',
    'ratewise.stop': 'success',
    'ratewise.request_id': events[2].requestId,
    // The usage of the answer's body (the mock's JSON: 9 in, 5 out), joined when it was read.
    'gen_ai.response.model': 'gpt-4o-mini',
    'gen_ai.response.id': used.responseId,
    'gen_ai.usage.input_tokens': 9,
    'gen_ai.usage.output_tokens': 5,
    'gen_ai.usage.cache_read.input_tokens': 0,
    'gen_ai.usage.reasoning.output_tokens': 0,
    'ratewise.cost_usd': used.costUsd,
    'ratewise.usage.end': 'complete',
  });
  assert.match(used.responseId, /^chatcmpl-[A-Za-z0-9]{29}$/, "the mock's completion id");
  assert.ok(!('gen_ai.system' in call.attributes), 'the deprecated name is never set');
  assert.deepEqual(
    call.events.filter((e) => e.name !== 'ratewise.wait.throttle').map((e) => [e.name, e.attributes]),
    [
      [
        'ratewise.wait.backoff',
        { 'ratewise.wait.kind': 'backoff', 'ratewise.wait.ms': 20, 'ratewise.wait.reason': 'rate_limit' },
      ],
      [
        'ratewise.wait.backoff',
        { 'ratewise.wait.kind': 'backoff', 'ratewise.wait.ms': 30, 'ratewise.wait.reason': 'rate_limit' },
      ],
    ],
  );
  assert.deepEqual(
    children.map((s) => [s.name, s.kind, s.attributes['http.response.status_code'], s.attributes['error.type']]),
    [
      ['POST', 2, 429, '429'],
      ['POST', 2, 429, '429'],
      ['POST', 2, 200, undefined],
    ],
  );
  for (const [i, s] of children.entries()) {
    assert.deepEqual(s.attributes['url.full'], CHAT);
    assert.equal(s.attributes['ratewise.attempt'], i + 1);
    assert.equal(s.attributes['ratewise.request_id'], events[i].requestId);
    assert.ok(s.startTime[0] * 1e3 + s.startTime[1] / 1e6 >= call.startTime[0] * 1e3 + call.startTime[1] / 1e6);
  }
  // onEvent carries the provider's request id (OpenAI's x-request-id) and the model.
  assert.deepEqual(
    events.filter((e) => e.type !== 'usage').map((e) => [e.attempt, e.model, /^req_[0-9a-f]{32}$/.test(e.requestId)]),
    [
      [1, 'gpt-4o-mini', true],
      [2, 'gpt-4o-mini', true],
      [3, 'gpt-4o-mini', true],
    ],
  );
  const p = await o.points();
  const [[attrs, histogram]] = p['gen_ai.client.inference.duration'];
  const ANSWERED = { ...GEN_AI, 'gen_ai.response.model': 'gpt-4o-mini' };
  assert.deepEqual(attrs, ANSWERED);
  assert.deepEqual(p['gen_ai.client.inference.usage.input_tokens'], [[ANSWERED, 9]]);
  assert.deepEqual(p['gen_ai.client.inference.usage.output_tokens'], [[ANSWERED, 5]]);
  assert.deepEqual(p['gen_ai.client.inference.usage.cache_read.input_tokens'], [[ANSWERED, 0]]);
  assert.deepEqual(p['gen_ai.client.inference.usage.reasoning.output_tokens'], [[ANSWERED, 0]]);
  assert.equal(histogram.count, 1);
  assert.deepEqual(histogram.buckets.boundaries, DURATION_BUCKETS);
  assert.ok(histogram.sum >= 0.05 && histogram.sum < 5, `${histogram.sum} s`);
  assert.deepEqual(p['ratewise.client.attempts'], [
    [{ 'ratewise.kind': 'rate_limit', 'ratewise.source': 'network', 'gen_ai.provider.name': 'openai' }, 2],
    [{ 'ratewise.kind': 'ok', 'ratewise.source': 'network', 'gen_ai.provider.name': 'openai' }, 1],
  ]);
  assert.deepEqual(
    p['ratewise.client.wait'].filter(([a]) => a['ratewise.wait.kind'] === 'backoff'),
    [[{ 'ratewise.wait.kind': 'backoff' }, 0.05]],
  );
  assert.deepEqual(p['ratewise.breakers.open'], [
    [{ 'ratewise.breaker': 'quota' }, 0],
    [{ 'ratewise.breaker': 'outage' }, 0],
  ]);
  assert.equal(p['gen_ai.client.operation.duration'], undefined, 'the older names only behind legacyMetrics');
  assert.equal(o.open.size, 0);
});

test('a quota call the breaker answers: no HTTP span, a breaker event, error.type insufficient_quota', async () => {
  await mock.config({ quota: true });
  const o = sdk();
  const fetch = createFetch({ telemetry: { tracer: o.tracer, meter: o.meter } });
  assert.equal((await ask(fetch)).status, 429);
  const first = tree(o.spans());
  assert.equal(first.children.length, 1);
  assert.equal(first.call.attributes['ratewise.breaker'], 'opened');
  assert.equal(first.call.attributes['error.type'], 'insufficient_quota');
  const seen = o.spans().length;
  assert.equal((await ask(fetch)).status, 429);
  assert.equal((await mock.stats()).requests, 1, 'the second call sent nothing');
  const second = o.spans().slice(seen);
  assert.equal(second.length, 1, 'only the call span: no network attempt');
  const [call] = second;
  assert.equal(call.status.code, 2);
  assert.equal(call.status.message, 'insufficient_quota');
  assert.deepEqual(call.attributes, {
    ...GEN_AI,
    'ratewise.lane': 'interactive',
    'ratewise.waited_ms': 0,
    'ratewise.attempts': 1,
    'ratewise.route': 0,
    'ratewise.source': 'breaker',
    'ratewise.stop': 'breaker_open',
    'ratewise.breaker': 'open',
    'error.type': 'insufficient_quota',
  });
  assert.deepEqual(
    call.events.map((e) => [e.name, e.attributes]),
    [
      [
        'ratewise.wait.breaker',
        { 'ratewise.wait.kind': 'breaker', 'ratewise.wait.ms': 0, 'ratewise.wait.reason': 'quota_exhausted' },
      ],
    ],
  );
  const p = await o.points();
  assert.deepEqual(
    p['gen_ai.client.inference.duration'].map(([a, h]) => [a, h.count]),
    [[{ ...GEN_AI, 'error.type': 'insufficient_quota' }, 2]],
  );
  assert.deepEqual(p['ratewise.client.attempts'], [
    [{ 'ratewise.kind': 'quota_exhausted', 'ratewise.source': 'network', 'gen_ai.provider.name': 'openai' }, 1],
    [{ 'ratewise.kind': 'quota_exhausted', 'ratewise.source': 'breaker', 'gen_ai.provider.name': 'openai' }, 1],
  ]);
  assert.deepEqual(p['ratewise.breakers.open'], [
    [{ 'ratewise.breaker': 'quota' }, 1],
    [{ 'ratewise.breaker': 'outage' }, 0],
  ]);
  assert.equal(o.open.size, 0);
});

test('a fallback route: one HTTP span per route, the call ends on route 1 without error', async () => {
  await mock.config({ quotaKeys: ['sk-test-telemetry'] });
  const o = sdk();
  const fetch = createFetch({
    telemetry: { tracer: o.tracer, meter: o.meter },
    routes: [{ apiKey: 'sk-second-key', model: 'gpt-4o' }],
  });
  assert.equal((await ask(fetch)).status, 200);
  const { call, children } = tree(o.spans());
  assert.equal(call.name, 'chat gpt-4o-mini');
  assert.equal(call.status.code, 0);
  assert.equal(call.attributes['ratewise.route'], 1);
  assert.equal(call.attributes['ratewise.attempts'], 2);
  assert.equal(call.attributes['error.type'], undefined);
  assert.deepEqual(
    children.map((s) => [
      s.attributes['ratewise.route'],
      s.attributes['http.response.status_code'],
      s.attributes['ratewise.kind'],
    ]),
    [
      [0, 429, 'quota_exhausted'],
      [1, 200, 'ok'],
    ],
  );
  assert.deepEqual(call.events, [], 'moving to the next route waits for nothing');
});

test('waits in the queue and the throttle are span events with their durations, and counted', async () => {
  await mock.config({ latencyMs: 60 });
  const o = sdk();
  const fetch = createFetch({ telemetry: { tracer: o.tracer, meter: o.meter }, maxConcurrency: 1 });
  const [a, b] = await Promise.all([ask(fetch), ask(fetch)]);
  assert.deepEqual([a.status, b.status], [200, 200]);
  const calls = o.spans().filter((s) => !s.parentSpanContext);
  const queued = calls.flatMap((s) => s.events).filter((e) => e.name === 'ratewise.wait.queue');
  assert.equal(queued.length, 1, 'the second call queued behind the first');
  const ms = queued[0].attributes['ratewise.wait.ms'];
  assert.ok(ms >= 40 && ms < 2000, `${ms} ms`);
  assert.equal(queued[0].attributes['ratewise.wait.reason'], 'maxConcurrency');
  const waits = (await o.points())['ratewise.client.wait'];
  assert.deepEqual(
    waits.filter(([a]) => a['ratewise.wait.kind'] === 'queue'),
    [[{ 'ratewise.wait.kind': 'queue' }, ms / 1000]],
  );

  // The throttle: one request per 300 ms window learned from the headers holds the next call.
  await mock.reset();
  await mock.config({ limit: 1, windowMs: 300 });
  const t = sdk();
  const paced = createFetch({ telemetry: { tracer: t.tracer, meter: t.meter } });
  assert.equal((await ask(paced)).status, 200);
  assert.equal((await ask(paced)).status, 200);
  const held = t
    .spans()
    .flatMap((s) => s.events)
    .filter((e) => e.name === 'ratewise.wait.throttle');
  assert.equal(held.length, 1, `${JSON.stringify(t.spans().map((s) => [s.name, s.events]))}`);
  assert.ok(held[0].attributes['ratewise.wait.ms'] > 0);
  assert.equal(held[0].attributes['ratewise.wait.reason'], 'window', 'the core says why: the window was spent');
  assert.equal((await mock.stats()).byStatus['429'] ?? 0, 0, 'the throttle avoided the 429');
  // The 429 avoided, counted.
  const throttled = (await t.points())['ratewise.client.throttled'];
  assert.deepEqual(throttled, [[{ 'gen_ai.provider.name': 'unknown' }, 1]], 'the mock answered 200s only: unknown');
});

test('aborted and deadline calls: every span ends, with error.type aborted / timeout', async () => {
  const o = sdk();
  const fetch = createFetch({ telemetry: { tracer: o.tracer, meter: o.meter } });
  await mock.script(['hang']);
  const controller = new AbortController();
  const pending = ask(fetch, {}, { signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(pending, { name: 'AbortError' });
  const aborted = tree(o.spans());
  assert.equal(aborted.call.attributes['error.type'], 'aborted');
  assert.deepEqual(
    aborted.children.map((s) => [s.attributes['error.type'], s.status.code, s.attributes['http.response.status_code']]),
    [['aborted', 2, undefined]],
  );
  assert.equal(o.open.size, 0, 'the attempt in flight was ended');

  const seen = o.spans().length;
  await mock.script(['hang']);
  const late = createFetch({ telemetry: { tracer: o.tracer }, deadlineMs: 60 });
  await assert.rejects(ask(late), { name: 'TimeoutError' });
  const timedOut = o.spans().slice(seen);
  assert.deepEqual(
    timedOut.map((s) => [s.name, s.attributes['error.type']]),
    [
      ['POST', 'timeout'],
      ['chat gpt-4o-mini', 'timeout'],
    ],
  );
  assert.equal(o.open.size, 0);
});

test('no secret of any provider shape reaches a span, an event or a metric', async () => {
  const secrets = {
    openai: 'sk-proj-AbCdEf0123456789AbCdEf0123456789',
    anthropic: 'sk-ant-api03-AbCdEf0123456789AbCdEf0123456789',
    google: 'AIzaSyA-AbCdEf0123456789AbCdEf01234567',
    azure: '0123456789abcdef0123456789abcdef',
    bearer: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl',
  };
  const o = sdk();
  const fetch = createFetch({
    telemetry: { tracer: o.tracer, meter: o.meter, legacyMetrics: true },
    routes: [{ apiKey: secrets.openai }],
  });
  await mock.script(['server_error', 'insufficient_quota']);
  const url = `${server.url}/v1beta/models/gemini-2.5-pro:generateContent?key=${secrets.google}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: secrets.bearer,
      'x-api-key': secrets.anthropic,
      'api-key': secrets.azure,
      'x-goog-api-key': secrets.google,
    },
    body: JSON.stringify({ contents: [{ parts: [{ text: secrets.openai }] }] }),
  });
  await res.text();
  await settled();
  const recorded = JSON.stringify([o.spans().map((s) => [s.name, s.attributes, s.events, s.status]), await o.points()]);
  assert.ok(o.spans().length >= 3, 'spans were recorded');
  assert.match(recorded, /generate_content gemini-2\.5-pro/);
  for (const [shape, secret] of Object.entries(secrets)) {
    for (const part of secret.split(/[ .]/).filter((p) => p.length > 8)) {
      assert.ok(!recorded.includes(part), `the ${shape} key leaked: ${recorded}`);
    }
  }
});

test('telemetry: true takes the global tracer and meter, and legacyMetrics adds the older names', async () => {
  const o = sdk();
  trace.setGlobalTracerProvider(o.tracers);
  metrics.setGlobalMeterProvider(o.meters);
  try {
    const fetch = createFetch({ telemetry: true });
    assert.equal((await ask(fetch)).status, 200);
    assert.deepEqual(
      o.spans().map((s) => s.name),
      ['POST', 'chat gpt-4o-mini'],
    );
    assert.equal(o.spans()[1].instrumentationScope.name, 'ratewise');
    assert.equal(o.spans()[1].instrumentationScope.schemaUrl, 'https://opentelemetry.io/schemas/gen-ai/1.42.0');
    const legacy = createFetch({ telemetry: { legacyMetrics: true } });
    assert.equal((await ask(legacy)).status, 200);
    const p = await o.points();
    // An unknown host (the mock) that answered 200 at once said nothing of its provider.
    const unknown = { ...GEN_AI, 'gen_ai.provider.name': 'unknown', 'gen_ai.response.model': 'gpt-4o-mini' };
    assert.deepEqual(
      p['gen_ai.client.operation.duration'].map(([a, h]) => [a, h.count]),
      [[unknown, 1]],
    );
    assert.equal(p['gen_ai.client.inference.duration'][0][1].count, 2);
  } finally {
    trace.disable();
    metrics.disable();
  }
});

/** A context manager for synchronous code: enough, since a call reads its context when it is made. */
class StackContextManager {
  constructor() {
    this.stack = [ROOT_CONTEXT];
  }
  active() {
    return this.stack.at(-1);
  }
  with(ctx, fn, thisArg, ...args) {
    this.stack.push(ctx);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.stack.pop();
    }
  }
  bind(_ctx, target) {
    return target;
  }
  enable() {
    return this;
  }
  disable() {
    return this;
  }
}

test('a call span is a child of the span active when the call was made, its first call included', async () => {
  const o = sdk();
  context.setGlobalContextManager(new StackContextManager());
  try {
    const fetch = createFetch({ telemetry: { tracer: o.tracer } });
    for (const name of ['first', 'second']) {
      const request = o.tracer.startSpan(name);
      const pending = context.with(trace.setSpan(context.active(), request), () => ask(fetch));
      assert.equal((await pending).status, 200);
      request.end();
      const call = o
        .spans()
        .find((s) => s.name === 'chat gpt-4o-mini' && s.parentSpanContext?.spanId === request.spanContext().spanId);
      assert.ok(
        call,
        `the ${name} call is under its request span: ${JSON.stringify(o.spans().map((s) => [s.name, s.parentSpanContext?.spanId]))}`,
      );
      assert.equal(call.spanContext().traceId, request.spanContext().traceId);
    }
  } finally {
    context.disable();
  }
});

test('a tracer and a meter that throw never break a call, nor wasm, however many calls', async () => {
  const boom = () => {
    throw new Error('exporter down');
  };
  const broken = {
    tracer: { startSpan: boom },
    meter: { createHistogram: () => ({ record: boom }), createCounter: () => ({ add: boom }) },
  };
  const answer = async () => new Response('{}', { status: 200 });
  const fetch = createFetch({ telemetry: broken, fetch: answer });
  // An exception unwinding through wasm breaks every later call after about 800 of them.
  for (let i = 0; i < 1200; i++) assert.equal((await fetch('https://api.openai.com/v1/chat/completions')).status, 200);
  assert.equal(classify({ status: 429, headers: {}, body: '{}' }).kind, 'rate_limit', 'wasm still works');
});

test('the telemetry option is checked, naming the field', () => {
  assert.throws(() => createFetch({ telemetry: 'yes' }), { name: 'TypeError', message: /`telemetry`/ });
  assert.throws(() => createFetch({ telemetry: { tracer: {} } }), { name: 'TypeError', message: /telemetry\.tracer/ });
  assert.throws(() => createFetch({ telemetry: { meter: {} } }), { name: 'TypeError', message: /telemetry\.meter/ });
  assert.throws(() => createFetch({ telemetry: { traces: true } }), {
    name: 'TypeError',
    message: /telemetry\.traces/,
  });
  assert.throws(() => createFetch({ telemetry: { legacyMetrics: 1 } }), {
    name: 'TypeError',
    message: /telemetry\.legacyMetrics/,
  });
  assert.equal(typeof createFetch({ telemetry: false }), 'function');
});

test('usageAttributes: the slot for event.usage and event.costUsd (a hand-made usage object)', () => {
  assert.deepEqual(
    usageAttributes({ inputTokens: 120, outputTokens: 30, cachedInputTokens: 100, reasoningTokens: 12 }, 0.00042),
    {
      'gen_ai.usage.input_tokens': 120,
      'gen_ai.usage.output_tokens': 30,
      'gen_ai.usage.cache_read.input_tokens': 100,
      'gen_ai.usage.reasoning.output_tokens': 12,
      'ratewise.cost_usd': 0.00042,
    },
  );
  assert.deepEqual(usageAttributes({ inputTokens: -1, outputTokens: Number.NaN, reasoningTokens: '3' }), {});
  assert.deepEqual(usageAttributes(undefined, undefined), {});
});
