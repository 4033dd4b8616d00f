// Self-test of the mock LLM API: node --test tests/mock/server.test.mjs
// Every assertion goes through real HTTP (fetch / node:http) against an in-process mock.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startMock, openaiDuration, SCRIPT_NAMES } from './server.mjs';
import { drawLatencyMs } from './state.mjs';

const SERVER_PATH = fileURLToPath(new URL('./server.mjs', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha8 = (key) => crypto.createHash('sha256').update(key).digest('hex').slice(0, 8);

let mock;
before(async () => {
  mock = await startMock({ port: 0 });
});
after(() => mock.close());
beforeEach(() => mock.reset());

function post(urlPath, body = {}, headers = {}) {
  return fetch(mock.url + urlPath, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}
const chat = (body = {}, headers = {}) =>
  post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body }, headers);
const messages = (headers = {}) =>
  post(
    '/v1/messages',
    { model: 'claude-3-5-haiku-latest', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
    headers,
  );
const gemini = (model = 'gemini-2.0-flash') => post(`/v1beta/models/${model}:generateContent`, { contents: [] });

/** Raw GET that keeps the path exactly as written (fetch would normalise "..") */
function rawGet(port, rawPath) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('openaiDuration uses OpenAI Go-style durations', () => {
  assert.equal(openaiDuration(20), '20ms');
  assert.equal(openaiDuration(1000), '1s');
  assert.equal(openaiDuration(13694), '13.694s');
  assert.equal(openaiDuration(179560), '2m59.56s');
  assert.equal(openaiDuration(360000), '6m0s');
});

test('200 chat.completion carries OpenAI rate-limit headers and echoes the model', async () => {
  const res = await chat({ model: 'gpt-4o' });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const body = await res.json();
  assert.match(body.id, /^chatcmpl-/);
  assert.equal(body.object, 'chat.completion');
  assert.equal(body.model, 'gpt-4o');
  assert.equal(typeof body.created, 'number');
  assert.deepEqual(body.choices[0].message.role, 'assistant');
  assert.equal(body.choices[0].message.content, 'Hello from the mock');
  assert.equal(body.choices[0].finish_reason, 'stop');
  assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
  assert.match(res.headers.get('x-request-id'), /^req_[0-9a-f]{32}$/);
  assert.match(res.headers.get('openai-processing-ms'), /^\d+$/);
  assert.equal(res.headers.get('x-ratelimit-limit-tokens'), '150000');
  assert.equal(res.headers.get('x-ratelimit-remaining-tokens'), '149900');
  assert.match(res.headers.get('x-ratelimit-reset-requests'), /^(\d+ms|[\d.]+s)$/);
  assert.ok(res.headers.get('x-ratelimit-remaining-requests'));
  assert.equal(res.headers.get('retry-after'), null);

  const defaultModel = await (await post('/v1/chat/completions', { messages: [] })).json();
  assert.equal(defaultModel.model, 'gpt-4o-mini');
});

// The window of the timing tests below. Each bound is a fraction of it and no assertion reads the clock
// after a response it compares with, so a loaded machine (answers late by hundreds of ms) cannot fail
// them: with 400 ms windows and a client-side clock read after the 429, they failed under load.
const W = 900; // under 1 s, so every wait is written in ms (the mock writes 1.5s past a second, as OpenAI does)

test('limit: 429 rate_limit_exceeded with documented body and headers after L requests, recovers after the window', async () => {
  mock.setConfig({ limit: 3, windowMs: W });
  for (let i = 1; i <= 3; i++) {
    const ok = await chat();
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-ratelimit-limit-requests'), '3');
    assert.equal(ok.headers.get('x-ratelimit-remaining-requests'), String(3 - i));
    await ok.arrayBuffer();
  }
  const limited = await chat();
  assert.equal(limited.status, 429);
  const body = await limited.json();
  assert.deepEqual(Object.keys(body.error), ['message', 'type', 'param', 'code']);
  assert.equal(body.error.type, 'requests');
  assert.equal(body.error.param, null);
  assert.equal(body.error.code, 'rate_limit_exceeded');
  assert.match(
    body.error.message,
    /^Rate limit reached for gpt-4o-mini in organization org-mock on requests per min \(RPM\): Limit 3, Used 3, Requested 1\. Please try again in \d+ms\. Visit https:\/\/platform\.openai\.com\/account\/rate-limits to learn more\.$/,
  );
  assert.equal(limited.headers.get('retry-after'), '1');
  assert.equal(limited.headers.get('retry-after-ms'), null);
  assert.equal(limited.headers.get('x-ratelimit-remaining-requests'), '0');
  const reset = limited.headers.get('x-ratelimit-reset-requests');
  const resetMs = Number(/^(\d+)ms$/.exec(reset)?.[1]);
  assert.ok(resetMs > 0 && resetMs <= W, `reset ${reset}`);
  assert.ok(body.error.message.includes(`try again in ${reset}.`), 'message and header agree on the wait');

  await sleep(resetMs + 30);
  const recovered = await chat();
  assert.equal(recovered.status, 200);
  assert.equal(recovered.headers.get('x-ratelimit-remaining-requests'), '2');
});

test('shape sliding: at most L in any window; retry-after is when the oldest leaves, reset when the newest does', async () => {
  mock.setConfig({ limit: 2, windowMs: W, shape: 'sliding', retryAfterStyle: 'ms' });
  assert.equal((await chat()).status, 200);
  const t0 = Date.now(); // the first was admitted before this
  await sleep(W * 0.375);
  const second = await chat();
  assert.equal(second.status, 200);
  assert.equal(second.headers.get('x-ratelimit-remaining-requests'), '0');
  const at = Date.now() - t0; // before the third is sent, so the server's time of it is later
  const limited = await chat();
  assert.equal(limited.status, 429);
  const wait = Number(limited.headers.get('retry-after-ms'));
  const reset = Number(/^(\d+)ms$/.exec(limited.headers.get('x-ratelimit-reset-requests'))?.[1]);
  assert.ok(wait > 0 && wait <= W - at + 2, `the first leaves within the window: retry-after-ms ${wait} at ${at} ms`);
  assert.ok(reset > wait, `the second leaves later: reset ${reset} ms`);
  await sleep(wait + 10);
  const one = await chat();
  assert.equal(one.status, 200, 'one slot came back, not the whole window');
  assert.equal((await chat()).status, 429);
});

test('shape aligned: the window starts at a multiple of windowMs', async () => {
  mock.setConfig({ limit: 2, windowMs: W, shape: 'aligned', retryAfterStyle: 'ms' });
  const sentAt = Date.now();
  const first = await chat();
  const doneAt = Date.now();
  const reset = Number(/^(\d+)ms$/.exec(first.headers.get('x-ratelimit-reset-requests'))?.[1]);
  // The server read its clock between sentAt and doneAt; the window ends `reset` after that, on a multiple of W.
  const boundary = Math.floor((doneAt + reset + 2) / W) * W;
  assert.ok(reset <= W && boundary >= sentAt + reset - 2, `reset ${reset} ms ends a window aligned to ${W} ms`);
});

test('shape sliding-next: the reset says when the oldest entry leaves, not the newest', async () => {
  mock.setConfig({ limit: 3, windowMs: W, shape: 'sliding-next', retryAfterStyle: 'ms' });
  assert.equal((await chat()).status, 200);
  const t0 = Date.now();
  await sleep(W * 0.375);
  const at = Date.now() - t0; // before the second is sent, so the server's time of it is later
  const second = await chat();
  const reset = Number(/^(\d+)ms$/.exec(second.headers.get('x-ratelimit-reset-requests'))?.[1]);
  assert.ok(reset <= W - at + 2 && reset < W * 0.75, `the first leaves first: reset ${reset} ms at ${at} ms`);
});

test('rateLimitHeaders: on 429s only, or none at all (retry-after alone)', async () => {
  mock.setConfig({ limit: 1, windowMs: 60_000, rateLimitHeaders: 'on429' });
  const ok = await chat();
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('x-ratelimit-limit-requests'), null);
  const limited = await chat();
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('x-ratelimit-limit-requests'), '1');
  mock.reset();
  mock.setConfig({ limit: 1, windowMs: 60_000, rateLimitHeaders: 'none' });
  assert.equal((await chat()).headers.get('x-ratelimit-remaining-requests'), null);
  const bare = await chat();
  assert.equal(bare.status, 429);
  assert.equal(bare.headers.get('x-ratelimit-reset-requests'), null);
  assert.ok(Number(bare.headers.get('retry-after')) > 0);
  assert.throws(() => mock.setConfig({ rateLimitHeaders: 'sometimes' }), /rateLimitHeaders/);
});

test('latencyJitter: answers take latencyMs × (1 ± jitter), the same for the same seed', async () => {
  const draws = (seed) => {
    const state = { config: { latencyMs: 100, latencyJitter: 0.5, seed } };
    return Array.from({ length: 50 }, () => drawLatencyMs(state));
  };
  const a = draws(7);
  assert.ok(
    a.every((ms) => ms >= 50 && ms < 150),
    `within ±50%: ${a}`,
  );
  assert.ok(Math.max(...a) - Math.min(...a) > 50, 'spread over the range');
  assert.deepEqual(draws(7), a, 'reproducible');
  assert.notDeepEqual(draws(8), a);
  mock.setConfig({ latencyMs: 60, latencyJitter: 0.5, seed: 3 });
  const t0 = Date.now();
  assert.equal((await chat()).status, 200);
  assert.ok(Date.now() - t0 >= 29, 'an answer takes at least half the latency');
  assert.throws(() => mock.setConfig({ latencyJitter: 2 }), /latencyJitter/);
});

test('shape bucket: refills continuously; reset is the time until full', async () => {
  mock.setConfig({ limit: 4, windowMs: W, shape: 'bucket', retryAfterStyle: 'ms' });
  for (let i = 0; i < 4; i++) assert.equal((await chat()).status, 200);
  const limited = await chat();
  assert.equal(limited.status, 429);
  const wait = Number(limited.headers.get('retry-after-ms'));
  assert.ok(wait > 0 && wait <= W / 4, `one unit takes ${W / 4} ms: ${wait}`);
  const reset = Number(/^(\d+)ms$/.exec(limited.headers.get('x-ratelimit-reset-requests'))?.[1]);
  assert.ok(reset > W * 0.75 && reset <= W, `full again in about ${W} ms: ${reset}`);
  await sleep(wait + 10);
  const ok = await chat();
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('x-ratelimit-remaining-requests'), '0');
  assert.throws(
    () => mock.setConfig({ shape: 'leaky' }),
    /shape must be one of fixed, aligned, sliding, sliding-next, bucket/,
  );
});

test('tokenLimit: each request is charged its prompt characters / 4 plus max_tokens; 429 on tokens per min', async () => {
  mock.setConfig({ limit: 100, tokenLimit: 10000, tokenWindowMs: 600 });
  // "Hello" (5 characters: 2 tokens) + max_tokens 4000.
  const ask = () => chat({ messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4000 });
  const first = await ask();
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('x-ratelimit-limit-tokens'), '10000');
  assert.equal(first.headers.get('x-ratelimit-remaining-tokens'), '5998');
  assert.equal((await ask()).status, 200);
  const limited = await ask();
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('x-ratelimit-remaining-tokens'), '1996');
  assert.equal(limited.headers.get('x-ratelimit-remaining-requests'), '98', 'the requests limit had room');
  const { error } = await limited.json();
  assert.equal(error.type, 'tokens');
  assert.equal(error.code, 'rate_limit_exceeded');
  assert.match(
    error.message,
    /^Rate limit reached for gpt-4o-mini in organization org-mock on tokens per min \(TPM\): Limit 10000, Used 8004, Requested 4002\. Please try again in \d+ms\./,
  );
  const small = await chat({ messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(small.status, 200, 'a request that fits still goes');
  assert.throws(() => mock.setConfig({ tokenLimit: -1 }), /tokenLimit must be a positive integer or null/);
});

test("retryAfterStyle 'ms' adds retry-after-ms, 'none' sends only x-ratelimit-reset-requests", async () => {
  mock.setConfig({ limit: 0, windowMs: 2500, retryAfterStyle: 'ms' });
  const ms = await chat();
  assert.equal(ms.status, 429);
  const afterMs = Number(ms.headers.get('retry-after-ms'));
  assert.ok(afterMs > 2000 && afterMs <= 2500, `retry-after-ms ${afterMs}`);
  assert.equal(ms.headers.get('retry-after'), '3');

  mock.setConfig({ retryAfterStyle: 'none' });
  const none = await chat();
  assert.equal(none.status, 429);
  assert.equal(none.headers.get('retry-after'), null);
  assert.equal(none.headers.get('retry-after-ms'), null);
  assert.match(none.headers.get('x-ratelimit-reset-requests'), /^\d(\.\d+)?s$/);
  assert.match((await none.json()).error.message, /Please try again in \d(\.\d+)?s\./);
});

test('anthropic: 200 message with anthropic-ratelimit headers; 429 rate_limit_error with retry-after', async () => {
  mock.setConfig({ limit: 1, windowMs: 1500 });
  const ok = await messages();
  assert.equal(ok.status, 200);
  const msg = await ok.json();
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.deepEqual(msg.content, [{ type: 'text', text: 'Hello from the mock' }]);
  assert.equal(msg.stop_reason, 'end_turn');
  assert.equal(typeof msg.usage.input_tokens, 'number');
  assert.match(ok.headers.get('request-id'), /^req_/);
  assert.equal(ok.headers.get('anthropic-ratelimit-requests-limit'), '1');
  assert.equal(ok.headers.get('anthropic-ratelimit-requests-remaining'), '0');
  assert.match(ok.headers.get('anthropic-ratelimit-tokens-remaining'), /^\d+$/);

  const limited = await messages();
  assert.equal(limited.status, 429);
  const err = await limited.json();
  assert.equal(err.type, 'error');
  assert.equal(err.error.type, 'rate_limit_error');
  assert.match(err.error.message, /^This request would exceed the rate limit for your organization/);
  assert.equal(err.request_id, limited.headers.get('request-id'));
  assert.equal(limited.headers.get('retry-after'), '2');
  assert.equal(limited.headers.get('anthropic-ratelimit-requests-remaining'), '0');
  const reset = limited.headers.get('anthropic-ratelimit-requests-reset');
  assert.match(reset, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const resetIn = Date.parse(reset) - Date.now();
  assert.ok(resetIn > 0 && resetIn <= 2600, `reset in ${resetIn}ms`);
});

test('gemini: 200 candidates; 429 RESOURCE_EXHAUSTED with QuotaFailure, Help and RetryInfo', async () => {
  mock.setConfig({ limit: 1, windowMs: 2500 });
  const ok = await gemini('gemini-2.5-flash');
  assert.equal(ok.status, 200);
  const content = await ok.json();
  assert.equal(content.candidates[0].content.parts[0].text, 'Hello from the mock');
  assert.equal(content.modelVersion, 'gemini-2.5-flash');

  const limited = await gemini('gemini-2.5-flash');
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), null, 'Gemini puts the delay in the body only');
  const { error } = await limited.json();
  assert.equal(error.code, 429);
  assert.equal(error.status, 'RESOURCE_EXHAUSTED');
  assert.match(
    error.message,
    /^You exceeded your current quota.*limit: 1, model: gemini-2\.5-flash\nPlease retry in [\d.]+s\.$/s,
  );
  const [failure, help, retry] = error.details;
  assert.equal(failure['@type'], 'type.googleapis.com/google.rpc.QuotaFailure');
  assert.equal(failure.violations[0].quotaId, 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier');
  assert.equal(failure.violations[0].quotaDimensions.model, 'gemini-2.5-flash');
  assert.equal(failure.violations[0].quotaValue, '1');
  assert.equal(help['@type'], 'type.googleapis.com/google.rpc.Help');
  assert.equal(retry['@type'], 'type.googleapis.com/google.rpc.RetryInfo');
  assert.match(retry.retryDelay, /^[12]s$/);
});

test('quota mode: insufficient_quota (OpenAI), credit balance (Anthropic), daily quota (Gemini)', async () => {
  mock.setConfig({ quota: true });
  const openai = await chat();
  assert.equal(openai.status, 429);
  assert.equal(openai.headers.get('retry-after'), null);
  assert.deepEqual(await openai.json(), {
    error: {
      message:
        'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
      type: 'insufficient_quota',
      param: null,
      code: 'insufficient_quota',
    },
  });

  const anthropic = await messages();
  assert.equal(anthropic.status, 400);
  const { request_id: requestId, ...rest } = await anthropic.json();
  assert.match(requestId, /^req_/);
  assert.deepEqual(rest, {
    type: 'error',
    error: {
      type: 'invalid_request_error',
      message:
        'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
    },
  });

  const g = await gemini();
  assert.equal(g.status, 429);
  const { error } = await g.json();
  assert.equal(error.details[0].violations[0].quotaId, 'GenerateRequestsPerDayPerProjectPerModel-FreeTier');
});

test('quotaKeys: only the listed key is exhausted, a fallback key still gets 200', async () => {
  mock.setConfig({ quota: true, quotaKeys: ['sk-exhausted'] });
  const dead = await chat({}, { authorization: 'Bearer sk-exhausted' });
  assert.equal(dead.status, 429);
  assert.equal((await dead.json()).error.code, 'insufficient_quota');
  const fine = await chat({}, { authorization: 'Bearer sk-fallback' });
  assert.equal(fine.status, 200);
  const anthropicDead = await messages({ 'x-api-key': 'sk-exhausted' });
  assert.equal(anthropicDead.status, 400);
  assert.equal((await messages({ 'x-api-key': 'sk-other' })).status, 200);
  assert.deepEqual(mock.config.quotaKeys, [sha8('sk-exhausted')], 'config reports hashes, not keys');
});

test('gatewayPrefix: the endpoints are also served under a prefix, nothing is served twice-prefixed', async () => {
  mock.setConfig({ gatewayPrefix: '/openai' });
  const under = await post('/openai/v1/chat/completions', { model: 'gpt-4o-mini' });
  assert.equal(under.status, 200);
  assert.equal((await post('/v1/chat/completions', { model: 'gpt-4o-mini' })).status, 200, 'and without it');
  assert.equal((await post('/openai/v1/v1/chat/completions', {})).status, 404, 'a doubled version is not an endpoint');
  assert.deepEqual(
    mock.stats().log.map((l) => [l.path, l.status]),
    [
      ['/openai/v1/chat/completions', 200],
      ['/v1/chat/completions', 200],
    ],
    'the log keeps the path as sent',
  );
  assert.throws(() => mock.setConfig({ gatewayPrefix: 'openai/' }), /gatewayPrefix/);
});

test('azure: /openai/deployments/{d}/chat/completions needs api-version, reads api-key, answers as the deployment', async () => {
  mock.setConfig({ quotaKeys: ['azure-dead'] });
  const path = '/openai/deployments/backup-4o/chat/completions';
  const ok = await post(`${path}?api-version=2024-10-21`, { messages: [] }, { 'api-key': 'azure-live' });
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).model, 'backup-4o');
  const noVersion = await post(path, {}, { 'api-key': 'azure-live' });
  assert.equal(noVersion.status, 404);
  assert.equal((await noVersion.json()).error.message, 'Resource not found');
  const dead = await post(`${path}?api-version=2024-10-21`, {}, { 'api-key': 'azure-dead' });
  assert.equal(dead.status, 429, 'the api-key header is the key');
  assert.deepEqual(
    mock.stats().log.map((l) => l.key),
    [sha8('azure-live'), sha8('azure-live'), sha8('azure-dead')],
  );
});

test("script [rate_limit, 'server_error'] is consumed in order, then normal behaviour resumes", async () => {
  mock.script([{ name: 'rate_limit' }, 'server_error']);
  const first = await chat();
  assert.equal(first.status, 429);
  assert.equal((await first.json()).error.code, 'rate_limit_exceeded');
  assert.equal(first.headers.get('retry-after'), '1');
  const second = await chat();
  assert.equal(second.status, 500);
  assert.deepEqual(await second.json(), {
    error: {
      message: 'The server had an error while processing your request. Sorry about that!',
      type: 'server_error',
      param: null,
      code: null,
    },
  });
  assert.equal((await chat()).status, 200);
  assert.equal(mock.state.script.length, 0);
});

test('every named script entry sends its provider-documented status and body', async () => {
  const expectations = {
    rate_limit: async (res) => {
      assert.equal(res.status, 429);
      const { error } = await res.json();
      assert.equal(error.type, 'requests');
      assert.equal(error.code, 'rate_limit_exceeded');
    },
    insufficient_quota: async (res) => {
      assert.equal(res.status, 429);
      assert.equal((await res.json()).error.type, 'insufficient_quota');
      assert.equal(res.headers.get('retry-after'), null);
    },
    request_too_large: async (res) => {
      assert.equal(res.status, 429);
      const { error } = await res.json();
      assert.ok(
        error.message.startsWith(
          'Request too large for gpt-4o-mini in organization org-mock on tokens per min (TPM): Limit 30000, Requested 50000. The input or output tokens must be reduced',
        ),
        error.message,
      );
      assert.equal(error.type, 'tokens');
      assert.equal(error.code, 'rate_limit_exceeded');
    },
    overloaded: async (res) => {
      assert.equal(res.status, 503);
      assert.equal((await res.json()).error.message, 'The engine is currently overloaded, please try again later.');
    },
    server_error: async (res) => {
      assert.equal(res.status, 500);
      assert.equal((await res.json()).error.type, 'server_error');
    },
    invalid_api_key: async (res) => {
      assert.equal(res.status, 401);
      const { error } = await res.json();
      assert.equal(error.code, 'invalid_api_key');
      assert.equal(error.type, 'invalid_request_error');
      assert.match(
        error.message,
        /^Incorrect API key provided: sk-.*You can find your API key at https:\/\/platform\.openai\.com\/account\/api-keys\.$/,
      );
    },
    context_length: async (res) => {
      assert.equal(res.status, 400);
      const { error } = await res.json();
      assert.equal(error.code, 'context_length_exceeded');
      assert.equal(error.param, 'messages');
      assert.match(error.message, /^This model's maximum context length is \d+ tokens\./);
    },
    anthropic_overloaded: async (res) => {
      assert.equal(res.status, 529);
      const body = await res.json();
      assert.deepEqual(body.error, { type: 'overloaded_error', message: 'Overloaded' });
      assert.equal(body.type, 'error');
      assert.equal(res.headers.get('x-should-retry'), 'true');
    },
    anthropic_rate_limit: async (res) => {
      assert.equal(res.status, 429);
      assert.equal((await res.json()).error.type, 'rate_limit_error');
      assert.equal(res.headers.get('retry-after'), '1');
      assert.equal(res.headers.get('anthropic-ratelimit-requests-remaining'), '0');
    },
    anthropic_credit: async (res) => {
      assert.equal(res.status, 400);
      const { error } = await res.json();
      assert.equal(error.type, 'invalid_request_error');
      assert.match(error.message, /^Your credit balance is too low/);
    },
    bad_gateway_html: async (res) => {
      assert.equal(res.status, 502);
      assert.match(res.headers.get('content-type'), /^text\/html/);
      const html = await res.text();
      assert.ok(html.includes('api.openai.com | 502: Bad gateway'));
      assert.ok(html.includes('cf-error-details'));
    },
    gemini_rate_limit: async (res) => {
      assert.equal(res.status, 429);
      const { error } = await res.json();
      assert.equal(error.status, 'RESOURCE_EXHAUSTED');
      assert.equal(error.details[0].violations[0].quotaId, 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier');
      assert.equal(error.details.at(-1).retryDelay, '1s');
    },
    gemini_daily: async (res) => {
      assert.equal(res.status, 429);
      const { error } = await res.json();
      assert.equal(error.details[0].violations[0].quotaId, 'GenerateRequestsPerDayPerProjectPerModel-FreeTier');
      assert.equal(error.details.at(-1)['@type'], 'type.googleapis.com/google.rpc.RetryInfo');
    },
  };
  const names = Object.keys(expectations);
  assert.deepEqual([...names, 'reset', 'hang'].sort(), [...SCRIPT_NAMES].sort(), 'every script name is covered');
  mock.script(names);
  for (const name of names) {
    const res = await chat();
    await expectations[name](res);
  }
  assert.equal((await chat()).status, 200);
});

test('script object form: raw response, retry overrides, status override, delayMs', async () => {
  mock.script([
    { status: 418, headers: { 'x-custom': 'yes', 'content-type': 'text/plain' }, body: 'teapot' },
    { name: 'rate_limit', retryAfter: 7 },
    { name: 'rate_limit', retryAfterMs: 1500 },
    { name: 'overloaded', status: 502, headers: { 'x-extra': '1' } },
    { name: 'server_error', delayMs: 150 },
  ]);
  const raw = await chat();
  assert.equal(raw.status, 418);
  assert.equal(raw.headers.get('x-custom'), 'yes');
  assert.equal(await raw.text(), 'teapot');

  const seven = await chat();
  assert.equal(seven.headers.get('retry-after'), '7');
  assert.match((await seven.json()).error.message, /Please try again in 7s\./);

  const ms = await chat();
  assert.equal(ms.headers.get('retry-after-ms'), '1500');
  assert.equal(ms.headers.get('retry-after'), '2');
  assert.match((await ms.json()).error.message, /Please try again in 1\.5s\./);

  const overridden = await chat();
  assert.equal(overridden.status, 502);
  assert.equal(overridden.headers.get('x-extra'), '1');
  assert.equal((await overridden.json()).error.message, 'The engine is currently overloaded, please try again later.');

  const t0 = Date.now();
  const delayed = await chat();
  assert.equal(delayed.status, 500);
  assert.ok(Date.now() - t0 >= 140, 'delayMs postpones the response');

  assert.throws(() => mock.script(['no_such_step']), /unknown script step/);
});

test("script 'reset' destroys the socket: fetch rejects with TypeError, the server keeps working", async () => {
  mock.script(['reset']);
  await assert.rejects(chat(), (err) => err instanceof TypeError);
  assert.equal((await chat()).status, 200);
  assert.equal(mock.stats().byStatus['0'], 1);
});

test("script 'hang' never answers until the client aborts", async () => {
  mock.script(['hang']);
  const controller = new AbortController();
  const pending = fetch(`${mock.url}/v1/chat/completions`, { method: 'POST', body: '{}', signal: controller.signal });
  const raced = await Promise.race([
    pending.then(
      () => 'answered',
      () => 'failed',
    ),
    sleep(200).then(() => 'pending'),
  ]);
  assert.equal(raced, 'pending');
  assert.equal(mock.state.hung.size, 1);
  controller.abort();
  await assert.rejects(pending, { name: 'AbortError' });
  await sleep(50);
  assert.equal(mock.state.hung.size, 0, 'aborted request is released');
  assert.equal((await chat()).status, 200);
});

test('stream: SSE chunks are flushed separately, the first arrives before the last is sent', async () => {
  const gap = 70;
  mock.setConfig({ streamGapMs: gap });
  const t0 = Date.now();
  const res = await chat({ stream: true });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  assert.ok(res.headers.get('x-ratelimit-remaining-requests'));
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let firstAt = null;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (firstAt === null && text.includes('data: ')) firstAt = Date.now();
  }
  const endAt = Date.now();
  const events = text
    .split('\n\n')
    .filter(Boolean)
    .map((e) => e.replace(/^data: /, ''));
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  assert.ok(chunks.length >= 4);
  for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), 'Hello from the mock');
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  // events.length - 1 gaps separate the first event from the last.
  const spread = endAt - firstAt;
  assert.ok(spread >= (events.length - 1) * gap * 0.8, `first chunk only ${spread}ms before the end`);
  assert.ok(firstAt - t0 < gap * 2, `first chunk took ${firstAt - t0}ms`);
});

test('stats: counts by status and path, preflights apart, keys only as sha256 prefixes', async () => {
  const secret = 'sk-live-very-secret-key-123456';
  mock.setConfig({ limit: 2, windowMs: 5000 });
  assert.equal((await chat({}, { authorization: `Bearer ${secret}` })).status, 200);
  assert.equal((await messages({ 'x-api-key': 'sk-ant-other-key' })).status, 200);
  assert.equal((await chat({}, { authorization: `Bearer ${secret}` })).status, 429);
  await fetch(`${mock.url}/v1/chat/completions`, { method: 'OPTIONS' });
  await fetch(`${mock.url}/__mock/stats`);

  const stats = mock.stats();
  assert.equal(stats.requests, 3);
  assert.deepEqual(stats.byStatus, { 200: 2, 429: 1 });
  assert.deepEqual(stats.byPath, { '/v1/chat/completions': 2, '/v1/messages': 1 });
  assert.equal(stats.preflights, 1);
  assert.equal(stats.log.length, 3);
  assert.deepEqual(
    stats.log.map((e) => [e.method, e.path, e.status]),
    [
      ['POST', '/v1/chat/completions', 200],
      ['POST', '/v1/messages', 200],
      ['POST', '/v1/chat/completions', 429],
    ],
  );
  assert.deepEqual(
    stats.log.map((e) => e.key),
    [sha8(secret), sha8('sk-ant-other-key'), sha8(secret)],
  );
  assert.ok(stats.log.every((e) => typeof e.t === 'number' && e.t >= 0));
  const overHttp = await (await fetch(`${mock.url}/__mock/stats`)).text();
  for (const dump of [JSON.stringify(stats), overHttp]) {
    assert.ok(!dump.includes(secret) && !dump.includes('sk-ant-other-key'), 'raw keys never appear');
  }
});

test('CORS: preflight 204 echoes requested headers; responses expose rate-limit headers (or not)', async () => {
  const pre = await fetch(`${mock.url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: {
      origin: 'http://example.test',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,x-stainless-retry-count',
    },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  const allowed = pre.headers.get('access-control-allow-headers').split(/,\s*/);
  for (const h of ['*', 'authorization', 'content-type', 'x-stainless-retry-count']) assert.ok(allowed.includes(h), h);
  assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS');
  assert.equal(mock.stats().preflights, 1);
  assert.equal(mock.stats().requests, 0);

  mock.setConfig({ limit: 0 });
  const limited = await chat({}, { origin: 'http://example.test' });
  assert.equal(limited.headers.get('access-control-allow-origin'), '*');
  const exposed = limited.headers.get('access-control-expose-headers').split(/,\s*/);
  for (const h of [
    'retry-after',
    'retry-after-ms',
    'x-ratelimit-reset-requests',
    'x-ratelimit-remaining-tokens',
    'anthropic-ratelimit-requests-reset',
    'request-id',
    'x-request-id',
  ]) {
    assert.ok(exposed.includes(h), h);
  }
  const control = await fetch(`${mock.url}/__mock/config`);
  assert.equal(control.headers.get('access-control-allow-origin'), '*');

  mock.setConfig({ exposeHeaders: false });
  const hidden = await chat();
  assert.equal(hidden.headers.get('access-control-expose-headers'), null);
  assert.equal(hidden.headers.get('access-control-allow-origin'), '*');
});

test('static files: content types, mounts, directory index, traversal refused', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ratewise-mock-'));
  const root = path.join(tmp, 'www');
  const pkg = path.join(tmp, 'pkg');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  fs.mkdirSync(pkg);
  fs.writeFileSync(path.join(tmp, 'secret.txt'), 'TOP-SECRET');
  fs.writeFileSync(path.join(root, 'index.html'), '<h1>demo</h1>');
  fs.writeFileSync(path.join(root, 'app.mjs'), 'export {}');
  fs.writeFileSync(path.join(root, 'types.d.ts'), 'export {}');
  fs.writeFileSync(path.join(root, 'sub', 'index.html'), 'sub');
  fs.writeFileSync(path.join(pkg, 'ratewise_bg.wasm'), Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]));
  fs.writeFileSync(path.join(pkg, 'ratewise.js'), 'export {}');
  const site = await startMock({ static: root, mounts: { '/pkg/': pkg } });
  try {
    const expectType = async (p, type, status = 200) => {
      const res = await fetch(site.url + p);
      assert.equal(res.status, status, p);
      assert.equal(res.headers.get('content-type').split(';')[0], type, p);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      return res;
    };
    assert.equal(await (await expectType('/', 'text/html')).text(), '<h1>demo</h1>');
    await expectType('/app.mjs', 'text/javascript');
    await expectType('/types.d.ts', 'text/plain');
    assert.equal(await (await expectType('/sub/', 'text/html')).text(), 'sub');
    const wasm = await expectType('/pkg/ratewise_bg.wasm', 'application/wasm');
    assert.deepEqual(new Uint8Array(await wasm.arrayBuffer()), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    await expectType('/pkg/ratewise.js', 'text/javascript');
    assert.equal((await fetch(`${site.url}/missing.js`)).status, 404);

    for (const attack of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/pkg/..%2f..%2fsecret.txt',
      '/pkg/%2e%2e%2fwww%2f..%2f..%2fsecret.txt',
    ]) {
      const res = await rawGet(site.port, attack);
      assert.equal(res.status, 404, attack);
      assert.ok(!res.body.includes('TOP-SECRET'), attack);
    }
    assert.equal(site.stats().requests, 0, 'static requests are not LLM requests');
  } finally {
    await site.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('control API over HTTP: config merge, script, stats, reset back to startup options', async () => {
  const control = (op, body) =>
    fetch(`${mock.url}/__mock/${op}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  const cfg = await (await control('config', { limit: 1, windowMs: 5000 })).json();
  assert.equal(cfg.limit, 1);
  assert.equal(cfg.windowMs, 5000);
  assert.equal(cfg.exposeHeaders, true, 'merge keeps other options');
  assert.equal((await chat()).status, 200);
  assert.equal((await chat()).status, 429);

  assert.deepEqual(
    await (await control('script', { steps: ['overloaded', { name: 'anthropic_overloaded' }] })).json(),
    { pending: 2 },
  );
  assert.equal((await chat()).status, 503);
  assert.equal((await messages()).status, 529);

  const bad = await control('script', { steps: ['bogus'] });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /unknown script step "bogus"/);
  assert.equal((await control('config', { retryAfterStyle: 'hours' })).status, 400);

  const stats = await (await control('stats')).json();
  assert.equal(stats.requests, 4);
  assert.deepEqual(stats.byStatus, { 200: 1, 429: 1, 503: 1, 529: 1 });

  assert.deepEqual(await (await control('reset', {})).json(), { ok: true });
  const after = await (await control('config')).json();
  assert.equal(after.limit, null);
  assert.equal(after.windowMs, 1000);
  assert.equal((await chat()).status, 200);
  assert.equal((await (await control('stats')).json()).requests, 1);
});

test('CLI prints exactly one line, serves with its flags and exits on SIGTERM', { timeout: 5000 }, async () => {
  const child = spawn(
    process.execPath,
    [SERVER_PATH, '--port', '0', '--limit', '1', '--window-ms', '5000', '--quiet'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (stdout += d));
    const line = await Promise.race([
      new Promise((resolve) => child.stdout.on('data', () => stdout.includes('\n') && resolve(stdout))),
      exited.then((r) => Promise.reject(new Error(`CLI exited early: ${JSON.stringify(r)}`))),
    ]);
    await sleep(50); // anything printed after the first line would show up here
    const match = /^mock LLM API listening on (http:\/\/127\.0\.0\.1:(\d+))\n$/.exec(line);
    assert.ok(match, JSON.stringify(line));
    const url = match[1];
    const call = () => fetch(`${url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    assert.equal((await call()).status, 200);
    assert.equal((await call()).status, 429);
    child.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.equal(stdout, line, 'nothing else on stdout');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
