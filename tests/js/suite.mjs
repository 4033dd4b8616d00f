// The package's behaviour, written once and run in every runtime: Node
// (node.test.mjs), Cloudflare's workerd (run-workerd.mjs) and headless
// Chromium (run-browser.mjs). Each test talks to the real mock LLM API over
// HTTP, so it only needs `fetch` and the package's exports.

import { tests as bodies } from './suite-bodies.mjs';
import { tests as budgets } from './suite-budgets.mjs';
import { tests as classifyTests } from './suite-classify.mjs';
import { tests as engine } from './suite-engine.mjs';
import { tests as percall } from './suite-percall.mjs';
import { tests as report } from './suite-report.mjs';
import { tests as security } from './suite-security.mjs';
import { tests as usage } from './suite-usage.mjs';

const QUOTA_BODY =
  '{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}';
const RATE_BODY =
  '{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
const SECRET = 'sk-proj-SECRETSECRETSECRET1234';

export function check(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

export function equal(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}: got ${a}, want ${e}`);
}

async function throws(fn, name, pattern, message) {
  try {
    await fn();
  } catch (e) {
    check(e?.name === name, `${message}: threw ${e?.name}, want ${name}`);
    check(pattern.test(e.message), `${message}: message ${JSON.stringify(e.message)} should match ${pattern}`);
    return e;
  }
  throw new Error(`${message}: did not throw`);
}

/** A client for the mock's control API. */
export function mockClient(url) {
  const post = (path, body) =>
    fetch(`${url}/__mock/${path}`, { method: 'POST', body: JSON.stringify(body ?? {}) }).then((r) => {
      if (!r.ok) throw new Error(`mock ${path}: HTTP ${r.status}`);
      return r.json();
    });
  return {
    url,
    chat: `${url}/v1/chat/completions`,
    reset: () => post('reset'),
    script: (steps) => post('script', { steps }),
    config: (c) => post('config', c),
    stats: () => fetch(`${url}/__mock/stats`).then((r) => r.json()),
  };
}

const chatInit = (extra = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
  body: JSON.stringify({ model: 'replay-check-model', messages: [{ role: 'user', content: 'hi' }] }),
  ...extra,
});

/** Polls `fn` until it returns something truthy, for at most `ms`. */
async function until(fn, ms, message) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out: ${message}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Which store a `cache` without `store` uses here, as js/cache.js picks it. */
function platformStore() {
  if (globalThis.caches?.default) return 'caches.default';
  if (globalThis.caches && !globalThis.Deno) return "caches.open('ratewise')";
  return 'memory';
}

/** A chat request whose body no other test sends (platform caches outlive a test). */
const uniqueChat = (extra = {}) => {
  const nonce = `${Date.now()}-${Math.random()}`;
  return chatInit({
    body: JSON.stringify({ model: 'cache-model', messages: [{ role: 'user', content: `hi ${nonce}` }], ...extra }),
  });
};

export const tests = [
  [
    'classify tells the two 429s apart',
    ({ ratewise }) => {
      const quota = ratewise.classify({ status: 429, body: QUOTA_BODY });
      equal([quota.kind, quota.action, quota.code], ['quota_exhausted', 'alert', 'insufficient_quota'], 'quota');
      const rate = ratewise.classify({ status: 429, body: RATE_BODY });
      equal([rate.kind, rate.action, rate.retryAfterMs], ['rate_limit', 'retry', 20000], 'rate limit');
    },
  ],

  [
    'classify reads Headers, plain objects and [name, value] pairs alike',
    ({ ratewise }) => {
      const forms = [
        new Headers({ 'Retry-After': '7' }),
        { 'Retry-After': '7' },
        [['retry-after', '7']],
        new Map([['retry-after', '7']]),
      ];
      for (const headers of forms) {
        equal(ratewise.classify({ status: 503, headers }).retryAfterMs, 7000, `headers as ${headers.constructor.name}`);
      }
      const limits = ratewise.classify({
        status: 200,
        headers: {
          'x-ratelimit-limit-requests': '60',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '6m0s',
        },
      }).limits;
      equal(limits.requests, { limit: 60, remaining: 0, resetMs: 360000 }, 'limits on a 200');
    },
  ],

  [
    'classify takes a body as a string, an object or bytes',
    ({ ratewise }) => {
      const asObject = JSON.parse(QUOTA_BODY);
      const asBytes = new TextEncoder().encode(QUOTA_BODY);
      for (const body of [QUOTA_BODY, asObject, asBytes, asBytes.buffer]) {
        equal(ratewise.classify({ status: 429, body }).kind, 'quota_exhausted', `body as ${body.constructor.name}`);
      }
    },
  ],

  [
    'classify reads non-ASCII text, and a large input does not spoil the next',
    ({ ratewise }) => {
      // The texts are written into wasm memory by TextEncoder.encodeInto, in a buffer reused across calls.
      const message = 'Límite de tasa 😀 alcanzado \ud800 per day';
      const body = JSON.stringify({ error: { message, type: 'rate_limit_error' } });
      const c = ratewise.classify({
        status: 429,
        body,
        headers: { 'retry-after': '2' },
        url: 'https://api.openai.com/é',
      });
      equal([c.kind, c.retryAfterMs, c.window], ['rate_limit', 2000, 'day'], 'non-ASCII body');
      equal(c.message, 'Límite de tasa 😀 alcanzado \ufffd per day', 'message as sent, a lone surrogate replaced');
      const padding = 'ü'.repeat(60_000);
      const big = JSON.stringify({ error: { type: 'insufficient_quota', message: 'x' }, padding });
      const headers = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-ratelimit-${i}`, 'é'.repeat(8000)]));
      equal(ratewise.classify({ status: 429, body: big, headers }).kind, 'quota_exhausted', 'a large input');
      const after = ratewise.classify({ status: 503, headers: { 'retry-after': '3' } });
      equal([after.kind, after.retryAfterMs, after.message], ['overloaded', 3000, null], 'the next, small input');
    },
  ],

  [
    'classify accepts the errors thrown by openai, @anthropic-ai/sdk and the Vercel AI SDK',
    ({ ratewise }) => {
      // openai-node's APIError keeps the body's inner `error` object and a Headers.
      const openaiError = Object.assign(new Error('429 You exceeded your current quota'), {
        status: 429,
        headers: new Headers({ 'x-request-id': 'req_1' }),
        error: JSON.parse(QUOTA_BODY).error,
        code: 'insufficient_quota',
      });
      equal(ratewise.classify(openaiError).kind, 'quota_exhausted', 'openai APIError');
      // @anthropic-ai/sdk keeps the whole body.
      const anthropicError = Object.assign(new Error('529'), {
        status: 529,
        headers: { 'retry-after': '3' },
        error: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      });
      const a = ratewise.classify(anthropicError);
      equal([a.kind, a.provider, a.retryAfterMs], ['overloaded', 'anthropic', 3000], 'anthropic APIError');
      // Vercel AI SDK's APICallError.
      const apiCallError = Object.assign(new Error('Bad Request'), {
        statusCode: 400,
        url: 'https://api.anthropic.com/v1/messages',
        responseHeaders: { 'content-type': 'application/json' },
        responseBody:
          '{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}',
      });
      equal(ratewise.classify(apiCallError).kind, 'quota_exhausted', 'APICallError');
      equal(ratewise.classify(new TypeError('fetch failed')).kind, 'network', 'a fetch TypeError');
      equal(ratewise.classify(new DOMException('timed out', 'TimeoutError')).kind, 'timeout', 'a TimeoutError');
    },
  ],

  [
    'classify rejects malformed input with errors that name the field',
    async ({ ratewise }) => {
      await throws(() => ratewise.classify('429'), 'TypeError', /input must be an object/, 'a string');
      await throws(() => ratewise.classify({}), 'TypeError', /`status` is required/, 'no status');
      await throws(
        () => ratewise.classify({ status: '429' }),
        'TypeError',
        /`status` must be a number/,
        'string status',
      );
      await throws(() => ratewise.classify({ status: 4290 }), 'RangeError', /`status`.*4290/, 'status out of range');
      await throws(() => ratewise.classify({ status: 429, headers: 5 }), 'TypeError', /`headers`/, 'numeric headers');
      await throws(
        () => ratewise.classify({ status: 429, headers: [['a']] }),
        'TypeError',
        /`headers\[0\]`/,
        'bad pair',
      );
      await throws(
        () => ratewise.classify({ status: 429, headers: { a: {} } }),
        'TypeError',
        /`headers\["a"\]`/,
        'object header value',
      );
      await throws(() => ratewise.classify({ status: 429, body: 5 }), 'TypeError', /`body`/, 'numeric body');
      await throws(() => ratewise.classify({ status: 429, now: -1 }), 'RangeError', /`now`/, 'negative now');
      // A getter or Proxy trap that throws, or a revoked Proxy: a TypeError naming the input, the cause kept.
      const { proxy: revoked, revoke } = Proxy.revocable({}, {});
      revoke();
      const planted = new Error('planted');
      const hostile = new Proxy(
        {},
        {
          get: () => {
            throw planted;
          },
          ownKeys: () => {
            throw planted;
          },
        },
      );
      for (const [input, what] of [
        [revoked, 'a revoked input'],
        [{ status: 429, headers: revoked }, 'revoked headers'],
        [{ status: 429, body: revoked }, 'a revoked body'],
        [{ status: 429, headers: hostile }, 'headers whose traps throw'],
        [
          Object.defineProperty({}, 'status', {
            get: () => {
              throw planted;
            },
          }),
          'a status getter that throws',
        ],
      ]) {
        await throws(() => ratewise.classify(input), 'TypeError', /^classify: the input could not be read: /, what);
      }
      const e = await throws(
        () => ratewise.classify({ status: 429, headers: hostile }),
        'TypeError',
        /could not be read: planted/,
        'a trap that throws',
      );
      check(e.cause === planted, 'the cause is what the trap threw');
      const cyclic = {};
      cyclic.self = cyclic;
      await throws(
        () => ratewise.classify({ status: 429, body: cyclic }),
        'TypeError',
        /`body`.*JSON.stringify/,
        'cyclic body',
      );
    },
  ],

  [
    'classify falls back to the status for HTML, empty, odd and huge bodies',
    ({ ratewise }) => {
      const html = '<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>';
      equal(
        ratewise.classify({ status: 502, body: html, headers: { 'content-type': 'text/html' } }).kind,
        'server_error',
        'HTML 502',
      );
      equal(ratewise.classify({ status: 429, body: '' }).kind, 'rate_limit', 'empty 429');
      equal(ratewise.classify({ status: 400, body: '{"error": [1, 2]}' }).kind, 'bad_request', 'odd JSON');
      const huge = `{"error":{"type":"insufficient_quota","message":"${'x'.repeat(2_000_000)}"}}`;
      equal(
        ratewise.classify({ status: 503, body: huge }).kind,
        'quota_exhausted',
        'a 2 MB body is cut; a decisive field before the cut still counts',
      );
      const late = `{"error":{"message":"${'x'.repeat(2_000_000)}","type":"insufficient_quota"}}`;
      equal(ratewise.classify({ status: 503, body: late }).kind, 'overloaded', 'a 2 MB body is cut, not parsed whole');
      const c = ratewise.classify({ status: 429, headers: { 'retry-after': '999999999999' } });
      equal(c.retryAfterMs, 2147483647, 'a huge hint is clamped to the longest timer');
    },
  ],

  [
    'classify survives 2,000 random inputs from JavaScript: a result or a TypeError/RangeError, never a crash',
    ({ ratewise }) => {
      let seed = 42;
      const rand = (n) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return (seed / 2 ** 31) * n;
      };
      const pick = (xs) => xs[Math.floor(rand(xs.length))];
      const junk = () =>
        pick([
          () => undefined,
          () => null,
          () => rand(1e6) - 5e5,
          () => NaN,
          () => Infinity,
          () => 'x'.repeat(Math.floor(rand(5000))),
          () => `{"error":{"type":${'['.repeat(Math.floor(rand(200)))}`,
          () => `\u0000\ud800${String.fromCharCode(Math.floor(rand(65536)))}`,
          () => ({
            error: {
              type: pick(['insufficient_quota', 5, null, {}]),
              message: pick(['Please try again in 9999999h', 7, '']),
            },
          }),
          () => [['retry-after', pick(['1', '-1', 'Wed, 21 Oct 2015 07:28:00 GMT', '1e309', '\n'])]],
          () => ({
            'retry-after': pick(['5', {}, [], ['1', 2]]),
            'x-ratelimit-reset-requests': pick(['6m0s', '9'.repeat(400), 'm']),
          }),
          () => new Uint8Array(Math.floor(rand(100))).fill(123),
          () => Symbol('s'),
          () => () => 1,
          () => new Map([[1, 2]]),
        ])();
      let results = 0;
      for (let i = 0; i < 2000; i++) {
        const input = pick([
          () => ({
            status: pick([429, 500, 200, 0, 999, -1, 1.5, '429', rand(2000)]),
            headers: junk(),
            body: junk(),
            url: pick([undefined, 'https://api.openai.com/v1', junk()]),
            now: pick([undefined, 0, junk()]),
          }),
          () => ({ statusCode: junk(), responseHeaders: junk(), responseBody: junk() }),
          () => ({ status: 429, error: junk() }),
          () => junk(),
        ])();
        try {
          const c = ratewise.classify(input);
          check(typeof c.kind === 'string' && typeof c.action === 'string', 'a classification');
          check(
            c.retryAfterMs === null || (c.retryAfterMs >= 0 && c.retryAfterMs <= 2147483647),
            `hint ${c.retryAfterMs} in range`,
          );
          results++;
        } catch (e) {
          check(e instanceof TypeError || e instanceof RangeError, `threw ${e?.name}: ${e?.message}`);
        }
      }
      check(results > 100, `some inputs classified (${results})`);
      equal(ratewise.classify({ status: 429, body: QUOTA_BODY }).kind, 'quota_exhausted', 'still working afterwards');
    },
  ],

  [
    'createFetch rejects bad options by name',
    async ({ ratewise }) => {
      const bad = [
        [{ maxRetry: 3 }, 'TypeError', /unknown option `maxRetry`/],
        [{ maxRetries: '3' }, 'TypeError', /`maxRetries` must be a number/],
        [{ maxRetries: -1 }, 'RangeError', /`maxRetries`/],
        [{ maxRetries: 1.5 }, 'RangeError', /`maxRetries` must be an integer/],
        [{ baseDelayMs: NaN }, 'RangeError', /`baseDelayMs`/],
        [{ maxDelayMs: 10, baseDelayMs: 100 }, 'RangeError', /`maxDelayMs`/],
        [{ jitter: 'sometimes' }, 'RangeError', /`jitter`/],
        [{ onRetry: 'log' }, 'TypeError', /`onRetry` must be a function/],
        [{ signal: {} }, 'TypeError', /`signal` must be an AbortSignal/],
        [{ deadlineMs: 2 ** 40 }, 'RangeError', /`deadlineMs`/],
        [{ throttle: 'on' }, 'TypeError', /`throttle` must be a boolean or an object/],
        [{ throttle: { coldstart: 1 } }, 'TypeError', /unknown option `throttle\.coldstart`/],
        [{ throttle: { coldStart: -1 } }, 'RangeError', /`throttle\.coldStart`/],
        [{ throttle: { coldStart: 1.5 } }, 'RangeError', /`throttle\.coldStart` must be an integer/],
        [{ throttle: { coldStart: '1' } }, 'TypeError', /`throttle\.coldStart` must be a number/],
        ['fast', 'TypeError', /options must be an object/],
      ];
      for (const [options, name, pattern] of bad) {
        await throws(() => ratewise.createFetch(options), name, pattern, JSON.stringify(options));
      }
    },
  ],

  [
    'a 429 rate limit is retried after the server hint, then succeeds',
    async ({ ratewise, mock }) => {
      await mock.script([
        { name: 'rate_limit', retryAfterMs: 120 },
        { name: 'rate_limit', retryAfterMs: 80 },
      ]);
      const retries = [];
      const fetch = ratewise.createFetch({ onRetry: (e) => retries.push(e.delayMs) });
      const started = Date.now();
      const res = await fetch(mock.chat, chatInit());
      equal(res.status, 200, 'final status');
      equal(retries, [120, 80], 'slept exactly the hints');
      check(Date.now() - started >= 200, 'waited at least the hinted 200 ms');
      equal((await mock.stats()).requests, 3, 'requests the mock received');
      const body = await res.json();
      equal(body.model, 'replay-check-model', 'the request body was sent again on the retry, not empty');
      equal(fetch.stats().byKind, { ok: 1, rate_limit: 2 }, 'stats by kind');
    },
  ],

  [
    'forInvocation: an invocation makes at most its subrequest budget of fetches, retries and routes included',
    async ({ ratewise, mock }) => {
      await mock.script(['insufficient_quota', ...Array.from({ length: 10 }, () => 'overloaded')]);
      const llm = ratewise.createFetch({
        maxRetries: 10,
        baseDelayMs: 1,
        maxDelayMs: 2,
        retryBudget: false,
        routes: [{ apiKey: 'sk-backup' }],
      });
      const invocation = llm.forInvocation({ subrequests: 3 });
      const res = await invocation(mock.chat, chatInit());
      equal(res.status, 503, 'the last real answer, not a platform error');
      equal((await mock.stats()).requests, 3, 'requests the mock received');
      let error;
      await invocation(mock.chat, chatInit()).catch((e) => {
        error = e;
      });
      check(ratewise.isSubrequestsSpentError(error), `a call with nothing left rejects: ${error}`);
      equal(invocation.subrequests(), { limit: 3, spent: 3 }, 'the budget');
      equal((await mock.stats()).requests, 3, 'nothing more was sent');
    },
  ],

  [
    'insufficient_quota is never retried and calls onQuotaExhausted once, without the key',
    async ({ ratewise, mock }) => {
      await mock.script(['insufficient_quota']);
      const calls = [];
      const events = [];
      const fetch = ratewise.createFetch({
        onQuotaExhausted: (info) => calls.push(info),
        onEvent: (e) => events.push(e),
      });
      const res = await fetch(mock.chat, chatInit());
      equal(res.status, 429, 'drop-in mode returns the response as fetch would');
      equal((await res.json()).error.code, 'insufficient_quota', 'body is intact for the caller');
      equal((await mock.stats()).requests, 1, 'one request reached the mock');
      equal(calls.length, 1, 'hook calls');
      equal([calls[0].attempt, calls[0].classification.kind], [1, 'quota_exhausted'], 'hook info');
      check(calls[0].url.endsWith('/v1/chat/completions'), 'hook gets the URL');
      check(!JSON.stringify([calls, events]).includes('SECRET'), 'the API key appears in no hook argument');
    },
  ],

  [
    'peekStream: a 200 stream that opens with an error event is routed as that error',
    async ({ ratewise, mock }) => {
      const sse = (...chunks) => ({ status: 200, chunks });
      await mock.script([
        sse('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'),
        sse(
          ': keep-alive\n\n',
          'event: error\ndata: {"type":"error","code":"insufficient_quota","message":"You exceeded your current quota"}\n\n',
        ),
      ]);
      const kinds = [];
      const alerts = [];
      const fetch = ratewise.createFetch({
        peekStream: true,
        baseDelayMs: 1,
        onEvent: (e) => kinds.push(e.kind),
        onQuotaExhausted: (info) => alerts.push(info.classification.kind),
      });
      const res = await fetch(mock.chat, chatInit());
      equal(kinds, ['overloaded', 'quota_exhausted'], 'the overload was retried, the quota alerted');
      equal(alerts, ['quota_exhausted'], 'onQuotaExhausted');
      equal((await mock.stats()).requests, 2, 'requests');
      equal(res.status, 200, 'the caller gets the stream as the server sent it');
      check((await res.text()).includes('insufficient_quota'), 'with every byte of it');
    },
  ],

  [
    'peekStream: a quota error in the stream trips the breaker and fails over to the next route',
    async ({ ratewise, mock }) => {
      const quota =
        'event: error\ndata: {"type":"error","code":"insufficient_quota","message":"You exceeded your current quota"}\n\n';
      await mock.script([{ status: 200, chunks: [quota] }]);
      const routes = [];
      const fetch = ratewise.createFetch({
        peekStream: true,
        routes: [{ apiKey: 'sk-backup-project' }],
        onEvent: (e) => routes.push([e.route, e.kind, e.source]),
      });
      const res = await fetch(mock.chat, chatInit());
      equal(res.status, 200, 'the backup answered');
      equal((await res.json()).object, 'chat.completion', 'with a completion');
      const again = await fetch(mock.chat, chatInit());
      await again.text();
      equal(
        routes,
        [
          [0, 'quota_exhausted', 'network'],
          [1, 'ok', 'network'],
          [1, 'ok', 'network'],
        ],
        'the tripped route is skipped on the next call',
      );
      equal((await mock.stats()).requests, 3, 'requests');
    },
  ],

  [
    'peekStream: an ordinary stream yields every byte in order; a later error is reported, never retried',
    async ({ ratewise, mock }) => {
      const first = 'data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"Hel"}}]}\n\n';
      const second = 'data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"lo"}}]}\n\n';
      const late =
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
      await mock.config({ streamGapMs: 30 });
      await mock.script([{ status: 200, chunks: [first, second, late] }]);
      const reported = [];
      const fetch = ratewise.createFetch({
        peekStream: true,
        onStreamError: (info) => reported.push(info.classification.kind),
      });
      const res = await fetch(mock.chat, chatInit());
      equal(res.status, 200, 'status');
      check(res.headers.get('content-type').startsWith('text/event-stream'), 'headers kept');
      equal(await res.text(), first + second + late, 'every byte, in order');
      equal(reported, ['overloaded'], 'the late error was reported');
      equal((await mock.stats()).requests, 1, 'and not retried');
    },
  ],

  [
    'onQuotaExhausted can answer with a fallback Response',
    async ({ ratewise, mock }) => {
      await mock.script(['insufficient_quota']);
      const fetch = ratewise.createFetch({
        onQuotaExhausted: async () => new Response('{"cached":true}', { status: 200, headers: { 'x-fallback': '1' } }),
      });
      const res = await fetch(mock.chat, chatInit());
      equal([res.status, res.headers.get('x-fallback'), await res.json()], [200, '1', { cached: true }], 'fallback');
    },
  ],

  [
    'throwOnError rejects with typed errors and guards',
    async ({ ratewise, mock }) => {
      await mock.script(['insufficient_quota']);
      const fetch = ratewise.createFetch({ throwOnError: true, maxRetries: 1, baseDelayMs: 1 });
      let e = await throws(
        () => fetch(mock.chat, chatInit()),
        'QuotaExhaustedError',
        /quota_exhausted.*429 insufficient_quota/,
        'quota',
      );
      check(
        ratewise.isQuotaExhaustedError(e) && ratewise.isRatewiseError(e) && !ratewise.isRateLimitError(e),
        'guards',
      );
      check(e instanceof ratewise.RatewiseError, 'instanceof the base class');
      equal(
        [e.code, e.kind, e.status, e.attempts, e.reason],
        ['RATEWISE_QUOTA_EXHAUSTED', 'quota_exhausted', 429, 1, 'not_retryable'],
        'fields',
      );
      equal(e.response.status, 429, 'the response is attached');
      check(!JSON.stringify(e).includes('SECRET') && !e.message.includes('SECRET'), 'no key in the error');

      // The quota tripped this instance's breaker for the key; a human fixed billing.
      fetch.resetBreaker();
      await mock.script([
        { name: 'rate_limit', retryAfterMs: 5 },
        { name: 'rate_limit', retryAfterMs: 5 },
      ]);
      e = await throws(
        () => fetch(mock.chat, chatInit()),
        'RateLimitError',
        /rate_limit.*after 2 attempts/,
        'rate limit',
      );
      equal(
        [e.code, e.attempts, e.reason, e.retryAfterMs],
        ['RATEWISE_RATE_LIMITED', 2, 'retries_exhausted', 5],
        'fields',
      );
      // A guard works on a look-alike from another realm, which instanceof cannot see.
      const foreign = { [Symbol.for('ratewise.error')]: true, code: 'RATEWISE_RATE_LIMITED' };
      check(
        ratewise.isRateLimitError(foreign) && !ratewise.isRateLimitError({ code: 'RATEWISE_RATE_LIMITED' }),
        'cross-realm guard',
      );
    },
  ],

  [
    'auth, bad request and context length are not retried',
    async ({ ratewise, mock }) => {
      for (const step of ['invalid_api_key', 'context_length', 'request_too_large']) {
        await mock.reset();
        await mock.script([step, step]);
        const res = await ratewise.createFetch({ baseDelayMs: 1 })(mock.chat, chatInit());
        check(res.status >= 400, `${step} status`);
        equal((await mock.stats()).requests, 1, `${step}: requests`);
      }
    },
  ],

  [
    'overload and 5xx HTML are retried with backoff',
    async ({ ratewise, mock }) => {
      await mock.script(['overloaded', 'bad_gateway_html']);
      const kinds = [];
      const fetch = ratewise.createFetch({ baseDelayMs: 5, onEvent: (e) => kinds.push(e.kind) });
      equal((await fetch(mock.chat, chatInit())).status, 200, 'status');
      equal(kinds, ['overloaded', 'server_error', 'ok'], 'kinds');
    },
  ],

  [
    'a wait hint over maxRetryAfterMs gives up at once with the hint',
    async ({ ratewise, mock }) => {
      await mock.script([{ name: 'rate_limit', retryAfter: 120 }]);
      const fetch = ratewise.createFetch({ throwOnError: true });
      const started = Date.now();
      const e = await throws(() => fetch(mock.chat, chatInit()), 'RateLimitError', /120000 ms/, 'hint too long');
      equal([e.reason, e.retryAfterMs, e.attempts], ['retry_after_too_long', 120000, 1], 'fields');
      check(Date.now() - started < 2000, 'gave up without sleeping');
    },
  ],

  [
    'the deadline stops retries that would run past it',
    async ({ ratewise, mock }) => {
      await mock.script([{ name: 'rate_limit', retryAfterMs: 1000 }]);
      const started = Date.now();
      const res = await ratewise.createFetch({ deadlineMs: 300 })(mock.chat, chatInit());
      equal(res.status, 429, 'the last response is returned');
      check(Date.now() - started < 900, 'did not sleep past the deadline');
      equal((await mock.stats()).requests, 1, 'requests');
    },
  ],

  [
    'the deadline aborts a hanging attempt with a TimeoutError',
    async ({ ratewise, mock }) => {
      await mock.script(['hang']);
      const started = Date.now();
      await throws(
        () => ratewise.createFetch({ deadlineMs: 200 })(mock.chat, chatInit()),
        'TimeoutError',
        /deadline/,
        'hang',
      );
      check(Date.now() - started < 1500, 'settled near the deadline');
    },
  ],

  [
    'an abort during a 30 s sleep settles within a timer turn',
    async ({ ratewise, mock }) => {
      await mock.script([{ name: 'rate_limit', retryAfter: 30 }]);
      const controller = new AbortController();
      const fetch = ratewise.createFetch({
        onRetry: () => setTimeout(() => controller.abort(new Error('user gave up')), 20),
      });
      const pending = fetch(mock.chat, chatInit({ signal: controller.signal }));
      const started = Date.now();
      let settledAfterAbort;
      await throws(
        async () => {
          try {
            await pending;
          } finally {
            settledAfterAbort = Date.now() - started;
          }
        },
        'Error',
        /user gave up/,
        'rejects with the signal reason',
      );
      check(settledAfterAbort < 500, `settled ${settledAfterAbort} ms after the retry began, not after 30 s`);
    },
  ],

  [
    'an already-aborted signal sends nothing',
    async ({ ratewise, mock }) => {
      const fetch = ratewise.createFetch({ signal: AbortSignal.abort(new Error('stopped early')) });
      await throws(() => fetch(mock.chat, chatInit()), 'Error', /stopped early/, 'rejects');
      equal((await mock.stats()).requests, 0, 'requests');
    },
  ],

  [
    'a streamed 200 arrives unbuffered and untouched',
    async ({ ratewise, mock }) => {
      await mock.config({ streamGapMs: 150 });
      const fetch = ratewise.createFetch();
      const started = Date.now();
      const res = await fetch(
        mock.chat,
        chatInit({ body: JSON.stringify({ model: 'm', stream: true, messages: [] }) }),
      );
      equal(res.headers.get('content-type')?.split(';')[0], 'text/event-stream', 'content type');
      const reader = res.body.getReader();
      const first = await reader.read();
      const firstAt = Date.now() - started;
      let text = new TextDecoder().decode(first.value);
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
      const total = Date.now() - started;
      check(text.includes('data: [DONE]'), 'the whole stream arrived');
      check(firstAt < total - 200, `first chunk at ${firstAt} ms arrived well before the end at ${total} ms`);
    },
  ],

  [
    'a Request object is cloned for each attempt',
    async ({ ratewise, mock }) => {
      await mock.script(['server_error']);
      const request = new Request(mock.chat, chatInit());
      const res = await ratewise.createFetch({ baseDelayMs: 1 })(request);
      equal([res.status, (await res.json()).model], [200, 'replay-check-model'], 'the retry carried the body');
    },
  ],

  [
    'every replayable body type is sent again in full on a retry',
    async ({ ratewise, mock }) => {
      const text = '{"model":"replay-check-model","messages":[]}';
      const bodies = {
        string: () => text,
        ArrayBuffer: () => new TextEncoder().encode(text).buffer,
        Uint8Array: () => new TextEncoder().encode(text),
        Blob: () => new Blob([text]),
        URLSearchParams: () => new URLSearchParams({ model: 'replay-check-model' }),
        FormData: () => {
          const form = new FormData();
          form.append('model', 'replay-check-model');
          return form;
        },
      };
      const fetch = ratewise.createFetch({ baseDelayMs: 1 });
      for (const [name, make] of Object.entries(bodies)) {
        await mock.reset();
        await mock.script(['server_error']);
        const res = await fetch(mock.chat, { method: 'POST', body: make() });
        equal(res.status, 200, `${name}: status after the retry`);
        const [first, second] = (await mock.stats()).log.map((entry) => entry.bytes);
        check(first > 0 && first === second, `${name}: bodies of ${first} and ${second} bytes`);
      }
    },
  ],

  [
    'network errors are retried, then rethrown as fetch would',
    async ({ ratewise }) => {
      // Nothing listens on port 1. Whatever this runtime's fetch rejects with
      // (TypeError in Node and browsers, Error in workerd), so does ratewise's.
      const closed = 'http://127.0.0.1:1/v1/chat/completions';
      const plain = await fetch(closed, chatInit()).then(
        () => null,
        (e) => e,
      );
      check(plain !== null, 'plain fetch rejects');
      const kinds = [];
      const wrapped = ratewise.createFetch({ maxRetries: 1, baseDelayMs: 1, onEvent: (e) => kinds.push(e.kind) });
      await throws(() => wrapped(closed, chatInit()), plain.name, /./, 'drop-in rejection');
      equal(kinds, ['network', 'network'], 'kinds');
    },
  ],

  [
    'successful responses pass through with status, headers and body intact',
    async ({ ratewise, mock }) => {
      const direct = await fetch(mock.chat, chatInit());
      const wrapped = await ratewise.createFetch()(mock.chat, chatInit());
      equal(wrapped.status, direct.status, 'status');
      equal(
        wrapped.headers.get('x-ratelimit-limit-requests'),
        direct.headers.get('x-ratelimit-limit-requests'),
        'headers',
      );
      equal(Object.keys(await wrapped.json()), Object.keys(await direct.json()), 'body');
    },
  ],

  [
    'maxConcurrency bounds requests in flight, FIFO',
    async ({ ratewise, mock }) => {
      // The test ends each call itself, the oldest in flight first, and only once the call its
      // last ending let through was sent. So one slot is ever waiting to be taken, and the order
      // calls are sent is the queue's order however late a loaded machine runs the waiters'
      // timers (with the server ending calls, two slots freed close together could be taken in
      // either order by their waiters' polls: seen as 0,1,2,4,3,5 under load).
      let inFlight = 0;
      let peak = 0;
      const started = [];
      const ends = [];
      const counting = (input, init) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        started.push(Number(new URL(String(input.url ?? input)).searchParams.get('call')));
        return new Promise((end) => ends.push(end)).then(() => fetch(input, init)).finally(() => inFlight--);
      };
      // Without the throttle's cold start: a call it holds for the first answer wakes on its own
      // timer, and a later call that finds the way clear may go first (seen in Chromium under load).
      const limited = ratewise.createFetch({ maxConcurrency: 2, fetch: counting, throttle: { coldStart: 0 } });
      const calls = Promise.all(Array.from({ length: 6 }, (_, i) => limited(`${mock.chat}?call=${i}`, chatInit())));
      for (let i = 0; i < 6; i++) {
        const sent = Math.min(i + 2, 6);
        await until(() => started.length >= sent, 5_000, `${sent} calls sent`);
        equal(started.length, sent, `calls sent with ${i} ended`);
        ends[i]();
      }
      await calls;
      equal(peak, 2, 'peak requests in flight');
      equal(started, [0, 1, 2, 3, 4, 5], 'the order calls were sent: first come, first served');
      equal(limited.stats().queued, 4, 'calls that waited for a slot');
    },
  ],

  [
    'a full queue rejects at once, and an abort leaves the queue',
    async ({ ratewise, mock }) => {
      await mock.config({ latencyMs: 100 });
      const limited = ratewise.createFetch({ maxConcurrency: 1, maxQueue: 1 });
      const controller = new AbortController();
      const first = limited(mock.chat, chatInit());
      const queued = limited(mock.chat, chatInit({ signal: controller.signal }));
      const e = await throws(() => limited(mock.chat, chatInit()), 'QueueFullError', /queue is full/, 'third call');
      check(ratewise.isQueueFullError(e), 'guard');
      controller.abort(new Error('not needed any more'));
      await throws(() => queued, 'Error', /not needed any more/, 'queued call aborted');
      equal((await first).status, 200, 'first call');
      equal((await mock.stats()).requests, 1, 'only the first call reached the server');
    },
  ],

  [
    'the throttle paces calls from x-ratelimit headers instead of learning from 429s',
    async ({ ratewise, mock }) => {
      await mock.config({ limit: 2, windowMs: 600 });
      const paced = ratewise.createFetch();
      const started = Date.now();
      for (let i = 0; i < 5; i++) equal((await paced(mock.chat, chatInit())).status, 200, `call ${i}`);
      const stats = await mock.stats();
      equal(stats.byStatus['429'] ?? 0, 0, '429s received with the throttle');
      check(Date.now() - started >= 1000, 'waited for the windows to reset');
      check(paced.stats().throttledMs > 0, 'stats count the throttle wait');

      await mock.reset();
      await mock.config({ limit: 2, windowMs: 600 });
      const unthrottled = ratewise.createFetch({ throttle: false, maxRetries: 5 });
      for (let i = 0; i < 5; i++) await unthrottled(mock.chat, chatInit());
      check(((await mock.stats()).byStatus['429'] ?? 0) > 0, 'without the throttle the same calls meet 429s');
    },
  ],

  [
    'cold start: one call goes to a new key, the rest wait for its answer; events carry the token estimate',
    async ({ ratewise, mock }) => {
      const body = JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hello there' }],
        max_tokens: 100,
      });
      await mock.config({ limit: 3, windowMs: 500, latencyMs: 30 });
      const tokens = [];
      const fetch = ratewise.createFetch({ throttle: { coldStart: 1 }, onEvent: (e) => tokens.push(e.tokens) });
      const all = await Promise.all(Array.from({ length: 6 }, () => fetch(mock.chat, chatInit({ body }))));
      equal(
        all.map((r) => r.status),
        [200, 200, 200, 200, 200, 200],
        'statuses',
      );
      equal((await mock.stats()).byStatus['429'] ?? 0, 0, '429s with the cold start');
      equal(tokens, [103, 103, 103, 103, 103, 103], '"Hello there": 11 characters (3 tokens), plus max_tokens 100');

      await mock.reset();
      await mock.config({ limit: 3, windowMs: 500, latencyMs: 30 });
      const blind = ratewise.createFetch({ throttle: { coldStart: 0 }, maxRetries: 5 });
      await Promise.all(Array.from({ length: 6 }, () => blind(mock.chat, chatInit({ body }))));
      check(((await mock.stats()).byStatus['429'] ?? 0) >= 3, 'without it, six at once meet a limit of three');
    },
  ],

  [
    'the throttle never sleeps longer than maxRetryAfterMs: a day-long window lets the server decide',
    async ({ ratewise, mock }) => {
      const exhaustedForHours = {
        status: 200,
        headers: {
          'content-type': 'application/json',
          'x-ratelimit-limit-requests': '200',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '6h0m0s',
        },
        body: '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}',
      };
      await mock.script([exhaustedForHours]);
      const fetch = ratewise.createFetch();
      equal((await fetch(mock.chat, chatInit())).status, 200, 'first call');
      const started = Date.now();
      equal((await fetch(mock.chat, chatInit())).status, 200, 'second call');
      check(Date.now() - started < 2000, 'the second call went out instead of waiting six hours');
      equal((await mock.stats()).requests, 2, 'requests');
    },
  ],

  [
    'the retry budget stops retries during an outage',
    async ({ ratewise, mock }) => {
      await mock.script(Array(10).fill('server_error'));
      const fetch = ratewise.createFetch({
        maxRetries: 5,
        baseDelayMs: 1,
        retryBudget: { capacity: 10, retryCost: 5, refund: 1 },
      });
      equal((await fetch(mock.chat, chatInit())).status, 500, 'first call');
      equal((await mock.stats()).requests, 3, 'two retries spent the budget');
      equal((await fetch(mock.chat, chatInit())).status, 500, 'second call');
      equal((await mock.stats()).requests, 4, 'no retry with an empty budget');
      equal(fetch.stats().byStop, { retry_budget_empty: 2 }, 'why the calls stopped');
    },
  ],

  [
    'the quota breaker answers without a network call, probes after the cooldown, and resets by hand',
    async ({ ratewise, mock }) => {
      await mock.config({ quota: true });
      const hook = [];
      const fetch = ratewise.createFetch({ quotaCooldownMs: 300, onQuotaExhausted: (i) => hook.push(i.breakerOpen) });
      equal((await fetch(mock.chat, chatInit())).status, 429, 'first call');
      const second = await fetch(mock.chat, chatInit());
      equal([second.status, second.headers.get('x-ratewise-breaker')], [429, 'open'], 'answered by the breaker');
      equal(second.headers.get('content-type')?.split(';')[0], 'application/json', 'with the original headers');
      equal((await second.json()).error.code, 'insufficient_quota', 'with the same body');
      equal((await mock.stats()).requests, 1, 'the second call sent nothing');
      const [state] = fetch.breaker();
      equal([state.state, state.trips, state.key.length], ['open', 1, 8], 'breaker state');
      check(!JSON.stringify(fetch.breaker()).includes('SECRET'), 'no key in the breaker state');
      equal(hook, [false, true], 'hook: the occurrence, then the breaker answer, flagged');

      await new Promise((r) => setTimeout(r, 350));
      await mock.config({ quota: false });
      equal((await fetch(mock.chat, chatInit())).status, 200, 'the probe after the cooldown');
      equal(fetch.breaker(), [], 'a successful probe closes it');

      await mock.config({ quota: true });
      await fetch(mock.chat, chatInit());
      fetch.resetBreaker();
      await mock.config({ quota: false });
      equal((await fetch(mock.chat, chatInit())).status, 200, 'after resetBreaker() calls go out again');
      equal((await mock.stats()).requests, 4, 'requests');
    },
  ],

  [
    'a fallback route takes over when the first key is out of quota',
    async ({ ratewise, mock }) => {
      await mock.config({ quotaKeys: [SECRET] });
      const events = [];
      const fetch = ratewise.createFetch({
        routes: [{ apiKey: 'sk-backup-key-0000', model: 'cheaper-model' }],
        onEvent: (e) => events.push([e.route, e.kind]),
      });
      const res = await fetch(mock.chat, chatInit());
      equal([res.status, (await res.json()).model], [200, 'cheaper-model'], 'answered by the route, with its model');
      equal(
        events,
        [
          [0, 'quota_exhausted'],
          [1, 'ok'],
        ],
        'events say which route answered',
      );
      const again = await fetch(mock.chat, chatInit());
      equal(again.status, 200, 'second call');
      equal((await mock.stats()).requests, 3, 'the second call skipped the open route');
      equal(fetch.stats().byRoute, [0, 2], 'stats by route');
    },
  ],

  [
    'a model-only route runs where the provider keeps quota per model (Gemini), not where the account is empty (OpenAI)',
    async ({ ratewise, mock }) => {
      await mock.script(['gemini_daily']);
      const gemini = ratewise.createFetch({ routes: [{ model: 'gemini-2.5-flash' }] });
      const res = await gemini(`${mock.url}/v1beta/models/gemini-2.5-pro:generateContent`, {
        method: 'POST',
        headers: { 'x-goog-api-key': 'AIza-test-key-0000', 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
      });
      equal([res.status, (await res.json()).modelVersion], [200, 'gemini-2.5-flash'], 'the model route answered');
      equal(
        (await mock.stats()).log.map((l) => l.path),
        ['/v1beta/models/gemini-2.5-pro:generateContent', '/v1beta/models/gemini-2.5-flash:generateContent'],
        'the model is in the path, and only the daily quota of gemini-2.5-pro was spent',
      );

      await mock.reset();
      await mock.config({ quota: true });
      const reports = [];
      const openai = ratewise.createFetch({
        routes: [{ model: 'gpt-4o-mini' }],
        onQuotaExhausted: (i) => reports.push([i.route, i.breakerOpen, i.firstReport]),
      });
      const first = await openai(mock.chat, chatInit());
      equal([first.status, first.headers.get('x-ratewise-breaker')], [429, null], 'the server answer, not a replay');
      equal((await mock.stats()).requests, 1, 'insufficient_quota is the project: gpt-4o-mini was not sent');
      const again = await openai(mock.chat, chatInit());
      equal(again.headers.get('x-ratewise-breaker'), 'open', 'the next call is answered by the breaker');
      equal(
        reports,
        [
          [0, false, true],
          [0, true, false],
        ],
        'onQuotaExhausted: [route, breakerOpen, firstReport]',
      );
      equal((await mock.stats()).requests, 1, 'requests');
    },
  ],

  [
    'a route baseURL with a path replaces the base path it shares with the request (no doubled /v1)',
    async ({ ratewise, mock }) => {
      await mock.config({ gatewayPrefix: '/openai', quotaKeys: [SECRET] });
      const fetch = ratewise.createFetch({ routes: [{ baseURL: `${mock.url}/openai/v1`, apiKey: 'sk-gateway-0000' }] });
      const res = await fetch(`${mock.chat}?trace=1`, chatInit());
      equal(res.status, 200, 'the gateway route answered');
      equal(
        (await mock.stats()).log.map((l) => [l.path, l.status]),
        [
          ['/v1/chat/completions', 429],
          ['/openai/v1/chat/completions', 200],
        ],
        'paths',
      );
    },
  ],

  [
    'failoverOn, outageBreaker, the breaker hooks and Azure routes reject bad values by name',
    async ({ ratewise }) => {
      const azure = { resource: 'my-resource', deployment: 'gpt-4o-mini', apiVersion: '2024-10-21', apiKey: 'k' };
      const bad = [
        [{ failoverOn: 'rate_limit' }, 'TypeError', /`failoverOn` must be an array of kinds, got string/],
        [{ failoverOn: [429] }, 'TypeError', /`failoverOn\[0\]` must be a string, got number/],
        [
          { failoverOn: ['rate_limit', 'auth'] },
          'RangeError',
          /`failoverOn\[1\]` must be one of 'quota_exhausted',.*'auth'/,
        ],
        [{ outageBreaker: 'on' }, 'TypeError', /`outageBreaker` must be a boolean or an object/],
        [{ outageBreaker: { failures: 0 } }, 'RangeError', /`outageBreaker.failures` must be an integer from 1/],
        [{ outageBreaker: { cooldownMs: -1 } }, 'RangeError', /`outageBreaker.cooldownMs`/],
        [{ outageBreaker: { cooldown: 1 } }, 'TypeError', /unknown option `outageBreaker.cooldown`/],
        [{ onBreakerOpen: 'page' }, 'TypeError', /`onBreakerOpen` must be a function/],
        [{ onBreakerClose: {} }, 'TypeError', /`onBreakerClose` must be a function/],
        [
          { routes: [{ baseURL: 'https://gw.example/v1?key=1' }] },
          'TypeError',
          /`routes\[0\].baseURL` must be an http\(s\) URL/,
        ],
        [{ routes: [{ azure: { ...azure, resource: undefined } }] }, 'TypeError', /`routes\[0\].azure` needs one of/],
        [{ routes: [{ azure: { ...azure, endpoint: 'https://x.openai.azure.com' } }] }, 'TypeError', /needs one of/],
        [{ routes: [{ azure: { ...azure, resource: 'a.b/c' } }] }, 'TypeError', /`routes\[0\].azure.resource`/],
        [{ routes: [{ azure: { ...azure, deployment: '' } }] }, 'TypeError', /`routes\[0\].azure.deployment` must be/],
        [{ routes: [{ azure: { ...azure, apiVersion: undefined } }] }, 'TypeError', /`routes\[0\].azure.apiVersion`/],
        [{ routes: [{ azure: { ...azure, key: 'k' } }] }, 'TypeError', /unknown option `routes\[0\].azure.key`/],
        [{ routes: [{ azure, model: 'gpt-4o' }] }, 'TypeError', /`routes\[0\].model` cannot be combined with/],
        [{ routes: [{ azure: 'my-resource' }] }, 'TypeError', /`routes\[0\].azure` must be an object/],
      ];
      for (const [options, name, pattern] of bad) {
        const e = await throws(() => ratewise.createFetch(options), name, pattern, JSON.stringify(options));
        check(!e.message.includes('"k"'), 'no key in the message');
      }
      ratewise.createFetch({ failoverOn: [], outageBreaker: false, routes: [{ azure }] });
      ratewise.createFetch({ failoverOn: ['rate_limit', 'overloaded', 'server_error', 'timeout', 'network'] });
    },
  ],

  [
    'failoverOn: a rate limit whose wait is over maxRetryAfterMs moves the call to the next route at once',
    async ({ ratewise, mock }) => {
      await mock.script([{ name: 'rate_limit', retryAfter: 120 }]);
      const events = [];
      const fetch = ratewise.createFetch({
        routes: [{ apiKey: 'sk-backup-key-0000' }],
        failoverOn: ['quota_exhausted', 'rate_limit'],
        onEvent: (e) => events.push([e.route, e.kind, e.decision]),
      });
      const started = Date.now();
      const res = await fetch(mock.chat, chatInit());
      equal(res.status, 200, 'the backup answered');
      check(Date.now() - started < 5_000, 'without waiting out the 120 s');
      equal(
        events,
        [
          [0, 'rate_limit', 'retry'],
          [1, 'ok', 'stop'],
        ],
        'events',
      );
      equal(fetch.stats().byRoute, [0, 1], 'stats by route');
    },
  ],

  [
    'the outage breaker skips a route that keeps failing, once per incident, and probes it after the cooldown',
    async ({ ratewise, mock }) => {
      await mock.script(['overloaded', 'server_error']);
      const opened = [];
      const closed = [];
      const fetch = ratewise.createFetch({
        maxRetries: 1,
        baseDelayMs: 1,
        retryBudget: false,
        outageBreaker: { failures: 2, cooldownMs: 200 },
        routes: [{ apiKey: 'sk-backup-key-0000' }],
        onBreakerOpen: (e) => opened.push(e),
        onBreakerClose: (e) => closed.push(e),
      });
      equal((await fetch(mock.chat, chatInit())).status, 500, 'two failures: the last answer');
      equal(
        opened.map((e) => [e.kind, e.route, e.key.length, e.classification.kind]),
        [['outage', 0, 8, 'server_error']],
        'onBreakerOpen, once',
      );
      check(opened[0].retryAtMs > Date.now(), 'retryAtMs');
      equal(
        fetch.breaker().map((b) => [b.kind, b.state]),
        [['outage', 'open']],
        'breaker()',
      );
      equal((await fetch(mock.chat, chatInit())).status, 200, 'the next call skips the route that is down');
      await new Promise((r) => setTimeout(r, 250));
      equal((await fetch(mock.chat, chatInit())).status, 200, 'the probe after the cooldown');
      equal(
        closed.map((e) => [e.kind, e.route, e.retryAtMs]),
        [['outage', 0, null]],
        'onBreakerClose, once',
      );
      const keys = (await mock.stats()).log.map((l) => l.key);
      equal(
        [keys.length, keys[2] !== keys[0], keys[3] === keys[0]],
        [4, true, true],
        'primary, primary, backup, primary',
      );
      equal(fetch.stats().byRoute, [2, 1], 'stats by route');
      check(!JSON.stringify([opened, closed]).includes('SECRET'), 'no key in the hook events');
    },
  ],

  [
    'one alert per incident: calls in flight share one firstReport, failed probes add none and wait longer',
    async ({ ratewise, mock }) => {
      await mock.config({ quota: true });
      const reports = [];
      const opened = [];
      const closed = [];
      const fetch = ratewise.createFetch({
        // No cold start: all five go before the first answer, as calls already in flight would.
        throttle: { coldStart: 0 },
        quotaCooldownMs: 100,
        onQuotaExhausted: (i) => reports.push([i.breakerOpen, i.firstReport]),
        onBreakerOpen: (e) => opened.push(e.kind),
        onBreakerClose: (e) => closed.push(e.kind),
      });
      const answers = await Promise.all(Array.from({ length: 5 }, () => fetch(mock.chat, chatInit())));
      equal(
        answers.map((r) => r.status),
        [429, 429, 429, 429, 429],
        'five calls in flight',
      );
      equal((await mock.stats()).requests, 5, 'all five were sent before the first answer');
      equal(reports.filter(([, first]) => first).length, 1, 'one firstReport among the five');
      equal(
        reports.map(([breakerOpen]) => breakerOpen),
        [false, false, false, false, false],
        'all from the server',
      );
      equal(opened, ['quota'], 'onBreakerOpen once');
      await new Promise((r) => setTimeout(r, 120));
      reports.length = 0;
      await fetch(mock.chat, chatInit()); // the probe: still no quota
      equal(reports, [[false, false]], 'a failed probe is not a new incident');
      const [state] = fetch.breaker();
      equal([state.kind, state.trips], ['quota', 2], 'trips');
      check(state.retryAtMs - state.openedAtMs >= 190, `the cooldown doubled: ${state.retryAtMs - state.openedAtMs}`);
      equal(opened, ['quota'], 'still one onBreakerOpen');
      await mock.config({ quota: false });
      await new Promise((r) => setTimeout(r, 220));
      equal((await fetch(mock.chat, chatInit())).status, 200, 'billing fixed: the probe goes through');
      equal(closed, ['quota'], 'onBreakerClose once');
      equal(fetch.breaker(), [], 'closed');
    },
  ],

  [
    'an Azure deployment as a route: its URL, api-version and api-key, and none of the OpenAI credentials',
    async ({ ratewise, mock }) => {
      await mock.config({ quotaKeys: [SECRET] });
      const events = [];
      const fetch = ratewise.createFetch({
        routes: [
          {
            azure: { endpoint: mock.url, deployment: 'backup-4o-mini', apiVersion: '2024-10-21', apiKey: 'azure-0000' },
          },
        ],
        onEvent: (e) => events.push([e.route, e.kind, e.url]),
      });
      const init = chatInit();
      init.headers['openai-project'] = 'proj_secret_project';
      const res = await fetch(mock.chat, init);
      equal([res.status, (await res.json()).model], [200, 'backup-4o-mini'], 'the deployment answered');
      const log = (await mock.stats()).log;
      equal(
        log.map((l) => [l.path, l.status]),
        [
          ['/v1/chat/completions', 429],
          ['/openai/deployments/backup-4o-mini/chat/completions', 200],
        ],
        'paths (the mock answers 404 without api-version)',
      );
      check(log[1].key !== log[0].key, 'the Azure key, not the OpenAI one (which the mock would answer 429)');
      equal(
        events.map(([route, kind]) => [route, kind]),
        [
          [0, 'quota_exhausted'],
          [1, 'ok'],
        ],
        'events',
      );
      check(events[1][2].endsWith('/chat/completions?api-version=2024-10-21'), `the Azure URL: ${events[1][2]}`);
      equal(fetch.stats().byRoute, [0, 1], 'stats by route');
    },
  ],

  [
    'cache: the last good answer stands in once every route is out of quota, marked with its age; events and stats say so',
    async ({ ratewise, mock }) => {
      const events = [];
      const fetch = ratewise.createFetch({
        routes: [{ apiKey: 'sk-backup-key-0000' }],
        cache: { ttlMs: 60_000 },
        onEvent: (e) => events.push([e.route, e.kind, e.source]),
      });
      const init = uniqueChat();
      const first = await fetch(mock.chat, init);
      const text = await first.text();
      equal([first.status, first.headers.get('x-ratewise-cache')], [200, null], 'a network answer, untouched');
      await mock.config({ quota: true });
      let missed = false;
      const hit = await until(
        async () => {
          const res = await fetch(mock.chat, init);
          if (res.headers.get('x-ratewise-cache') === 'hit') return res;
          equal(res.status, 429, 'a miss while the copy is being stored: the failure as it was');
          missed = true;
          await res.arrayBuffer();
        },
        3_000,
        'a cache hit',
      );
      equal([hit.status, await hit.text()], [200, text], 'the stored answer, byte for byte');
      const age = Number(hit.headers.get('x-ratewise-cache-age-ms'));
      check(age >= 0 && age < 10_000, `x-ratewise-cache-age-ms: ${age}`);
      equal(hit.headers.get('age'), String(Math.floor(age / 1000)), 'age, in seconds');
      check(hit.headers.get('x-ratewise-stored-at') === null, 'the bookkeeping header is not shown');
      const { cacheHits, byRoute, calls } = fetch.stats();
      check(cacheHits >= 1, `stats().cacheHits: ${cacheHits}`);
      equal(
        byRoute.reduce((a, b) => a + b, 0) + cacheHits,
        calls,
        'each call answered once: by a route or by the cache',
      );
      // The first call after the quota ran out tries route 0 then route 1 over the network; once a miss
      // (the copy still being stored) has opened both breakers, a call is answered from the first
      // route's breaker (limits/routes.rs choose), so the cache answers after route 0.
      const after = missed ? 0 : 1;
      equal(events.at(-1), [after, 'ok', 'cache'], `the last event: the cache answered, after route ${after}`);
      const log = (await mock.stats()).log.map((l) => l.status);
      equal(log.slice(0, 3), [200, 429, 429], 'the success, then both routes out of quota');
      check(log.length === 3, `the breakers answered the rest, nothing more was sent: ${log}`);
      if (platformStore() === "caches.open('ratewise')") {
        const keys = await (await caches.open('ratewise')).keys();
        check(keys.length >= 1, 'the entry is in the browser Cache API');
        check(!keys.some((k) => k.url.includes('SECRET')), 'no credential in a cache key');
      }
    },
  ],

  [
    'cache: outages are answered, rate limits and rejections are not; stale entries are not given; the key is method, URL, body and tenant',
    async ({ ratewise, mock }) => {
      const fetch = ratewise.createFetch({ cache: { ttlMs: 60_000 }, maxRetries: 0, maxRetryAfterMs: 1_000 });
      const init = uniqueChat();
      await (await fetch(mock.chat, init)).text();
      const answered = async (script, request = init) => {
        await mock.script(script);
        const res = await fetch(mock.chat, request);
        await res.arrayBuffer();
        return [res.status, res.headers.get('x-ratewise-cache')];
      };
      await until(async () => (await answered(['server_error']))[1] === 'hit', 3_000, 'stored');
      equal(await answered(['overloaded']), [200, 'hit'], 'overloaded');
      equal(await answered([{ name: 'rate_limit', retryAfter: 120 }]), [429, null], 'a rate limit heals by waiting');
      equal(await answered(['invalid_api_key']), [401, null], 'a rejected request');
      const otherKey = { ...init, headers: { ...init.headers, authorization: 'Bearer sk-another-key-0000' } };
      equal(await answered(['server_error'], otherKey), [500, null], "another tenant is never given this one's answer");
      equal(await answered(['insufficient_quota'], otherKey), [429, null], 'nor is another tenant out of quota');
      const otherBody = { ...init, body: init.body.replace('hi ', 'hello ') };
      equal(await answered(['server_error'], otherBody), [500, null], 'another body');
      equal((await answered(['server_error'], { ...init, method: 'PUT' }))[1], null, 'another method');

      await mock.reset();
      const brief = ratewise.createFetch({ cache: { ttlMs: 50 }, maxRetries: 0 });
      const once = uniqueChat();
      await (await brief(mock.chat, once)).text();
      await new Promise((r) => setTimeout(r, 300));
      await mock.script(['server_error']);
      const stale = await brief(mock.chat, once);
      equal([stale.status, stale.headers.get('x-ratewise-cache')], [500, null], 'older than ttlMs: not given');
      equal(brief.stats().cacheHits, 0, 'no hit');
    },
  ],

  [
    "cache: one tenant's answer is never another's (Bearer keys, Gemini ?key=), unless shareAcrossKeys says so",
    async ({ ratewise, mock }) => {
      const tenants = ratewise.createFetch({ cache: { ttlMs: 60_000 }, maxRetries: 0 });
      const shared = ratewise.createFetch({ cache: { ttlMs: 60_000, shareAcrossKeys: true }, maxRetries: 0 });
      for (const [name, fetch, want] of [
        ['per tenant', tenants, [429, null]],
        ['shareAcrossKeys', shared, [200, 'hit']],
      ]) {
        const a = uniqueChat();
        const b = { ...a, headers: { ...a.headers, authorization: 'Bearer sk-B-tenant-out-of-quota' } };
        await (await fetch(mock.chat, a)).text();
        // The store is written in the background: wait until A itself is answered from it.
        await until(
          async () => {
            await mock.script(['server_error']);
            const res = await fetch(mock.chat, a);
            await res.arrayBuffer();
            return res.headers.get('x-ratewise-cache') === 'hit';
          },
          3_000,
          `${name}: stored`,
        );
        await mock.script(['insufficient_quota']);
        const res = await fetch(mock.chat, b);
        await res.arrayBuffer();
        equal([res.status, res.headers.get('x-ratewise-cache')], want, `${name}: tenant B out of quota`);
      }
      const gemini = (key) => `${mock.url}/v1beta/models/gemini-2.0-flash:generateContent?key=${key}`;
      const body = { method: 'POST', headers: { 'content-type': 'application/json' }, body: uniqueChat().body };
      await (await tenants(gemini('AIzaTenantAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), body)).text();
      await until(
        async () => {
          await mock.script(['server_error']);
          const res = await tenants(gemini('AIzaTenantAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), body);
          await res.arrayBuffer();
          return res.headers.get('x-ratewise-cache') === 'hit';
        },
        3_000,
        'gemini: stored',
      );
      await mock.script(['server_error']);
      const other = await tenants(gemini('AIzaTenantBBBBBBBBBBBBBBBBBBBBBBBBBBBB'), body);
      await other.arrayBuffer();
      equal(
        [other.status, other.headers.get('x-ratewise-cache')],
        [500, null],
        "gemini: ?key=B is not given ?key=A's answer",
      );
    },
  ],

  [
    'cache: a call out of quota right after a success is answered from it, even while the copy is still being stored',
    async ({ ratewise, mock }) => {
      const entries = new Map();
      const store = {
        get: async (key) => entries.get(key)?.clone(),
        // A slow store: the copy lands 300 ms after the success was given.
        put: async (key, response) => {
          await new Promise((r) => setTimeout(r, 300));
          entries.set(key, response);
        },
      };
      // One invocation (its own waitUntil): in Workers a lookup waits only for its own invocation's stores.
      const pending = [];
      const fetch = ratewise
        .createFetch({ cache: { ttlMs: 60_000, store }, maxRetries: 0 })
        .forInvocation({ waitUntil: (p) => pending.push(p) });
      const init = uniqueChat();
      const text = await (await fetch(mock.chat, init)).text();
      await mock.script(['insufficient_quota']);
      const later = await fetch(mock.chat, init);
      equal(entries.size, 1, 'the lookup waited for the store in flight');
      equal(
        [later.status, later.headers.get('x-ratewise-cache'), await later.text()],
        [200, 'hit', text],
        'out of quota at once after the success: the stored answer, not the 429',
      );
      equal(
        (await mock.stats()).log.map((l) => l.status),
        [200, 429],
        'the success, then the quota',
      );
      await Promise.all(pending);
    },
  ],

  [
    'cache: a store and key of your own; event streams only with streams: true; onQuotaExhausted answers first',
    async ({ ratewise, mock }) => {
      const entries = new Map();
      const store = {
        get: async (key) => entries.get(key)?.clone(),
        put: async (key, response) => void entries.set(key, response),
      };
      const keys = [];
      const fetch = ratewise.createFetch({
        cache: {
          ttlMs: 60_000,
          store,
          key: (request) => {
            keys.push([request.method, request.url]);
            return 'tenant-a:summary';
          },
        },
      });
      await (await fetch(mock.chat, uniqueChat())).text();
      await until(() => entries.has('tenant-a:summary'), 3_000, 'stored under the given key');
      equal(keys[0], ['POST', mock.chat], 'key() gets the request');
      await mock.config({ quota: true });
      const hit = await fetch(mock.chat, uniqueChat());
      equal([hit.status, hit.headers.get('x-ratewise-cache')], [200, 'hit'], 'the key says it is the same request');
      await hit.text();

      await mock.reset();
      const plain = ratewise.createFetch({ cache: { ttlMs: 60_000 }, maxRetries: 0 });
      const streams = ratewise.createFetch({ cache: { ttlMs: 60_000, streams: true }, maxRetries: 0 });
      const init = uniqueChat({ stream: true });
      const sent = await (await plain(mock.chat, init)).text();
      check(sent.includes('data: [DONE]'), 'an event stream');
      const streamed = await (await streams(mock.chat, init)).text();
      await new Promise((r) => setTimeout(r, 100));
      await mock.script(['server_error', 'server_error']);
      const missed = await plain(mock.chat, init);
      equal([missed.status, missed.headers.get('x-ratewise-cache')], [500, null], 'streams are not stored by default');
      await missed.arrayBuffer();
      const replayed = await until(
        async () => {
          const res = await streams(mock.chat, init);
          if (res.headers.get('x-ratewise-cache') === 'hit') return res;
          await res.arrayBuffer();
          await mock.script(['server_error']);
        },
        3_000,
        'the stream stored',
      );
      check(replayed.headers.get('content-type').startsWith('text/event-stream'), 'replayed as an event stream');
      equal(await replayed.text(), streamed, 'every event, whole');

      await mock.reset();
      const hooked = ratewise.createFetch({
        cache: { ttlMs: 60_000 },
        onQuotaExhausted: () => new Response('{"from":"hook"}', { status: 200 }),
      });
      const same = uniqueChat();
      await (await hooked(mock.chat, same)).text();
      await new Promise((r) => setTimeout(r, 100));
      await mock.config({ quota: true });
      const res = await hooked(mock.chat, same);
      equal([await res.text(), res.headers.get('x-ratewise-cache')], ['{"from":"hook"}', null], 'the hook first');
    },
  ],

  [
    'cache: each runtime uses its store (caches.default, caches.open, or a bounded in-memory LRU), and bad options throw by name',
    async ({ ratewise, mock }) => {
      const bad = [
        [{ cache: true }, 'TypeError', /`cache` must be an object, got boolean/],
        [{ cache: {} }, 'TypeError', /`cache.ttlMs` must be a number of milliseconds, got undefined/],
        [{ cache: { ttlMs: -1 } }, 'RangeError', /`cache.ttlMs` must be a number from 0/],
        [{ cache: { ttlMs: 1, store: {} } }, 'TypeError', /`cache.store` must be an object with get\(key\) and put/],
        [{ cache: { ttlMs: 1, key: 'k' } }, 'TypeError', /`cache.key` must be a function/],
        [{ cache: { ttlMs: 1, maxEntries: 0 } }, 'RangeError', /`cache.maxEntries` must be an integer from 1/],
        [{ cache: { ttlMs: 1, ttl: 1 } }, 'TypeError', /unknown option `cache.ttl`/],
      ];
      for (const [options, name, pattern] of bad) {
        await throws(() => ratewise.createFetch(options), name, pattern, JSON.stringify(options));
      }
      const store = platformStore();
      const fetch = ratewise.createFetch({ cache: { ttlMs: 60_000, maxEntries: 2, maxBytes: 4096 }, maxRetries: 0 });
      const requests = [uniqueChat(), uniqueChat(), uniqueChat()];
      for (const init of requests) {
        await (await fetch(mock.chat, init)).text();
        await new Promise((r) => setTimeout(r, 50));
      }
      const hits = async () => {
        const out = [];
        for (const init of requests) {
          await mock.script(['server_error']);
          const res = await fetch(mock.chat, init);
          await res.arrayBuffer();
          out.push(res.headers.get('x-ratewise-cache') === 'hit');
        }
        return out;
      };
      const found = await until(
        async () => {
          const h = await hits();
          return h[2] && h;
        },
        3_000,
        'the last one stored',
      );
      if (store === 'memory') {
        equal(found, [false, true, true], 'maxEntries 2: the least recently used entry went');
        const tiny = ratewise.createFetch({ cache: { ttlMs: 60_000, maxBytes: 64 }, maxRetries: 0 });
        const init = uniqueChat();
        await (await tiny(mock.chat, init)).text();
        await new Promise((r) => setTimeout(r, 100));
        await mock.script(['server_error']);
        const res = await tiny(mock.chat, init);
        equal([res.status, res.headers.get('x-ratewise-cache')], [500, null], 'an answer over maxBytes is not kept');
      } else {
        equal(
          found,
          [true, true, true],
          `${store} keeps what the platform keeps (the bounds are the in-memory store's)`,
        );
      }
      if (store === "caches.open('ratewise')") {
        check((await (await caches.open('ratewise')).keys()).length >= 3, 'in the browser Cache API');
      }
    },
  ],

  [
    'lanes: x-ratewise-priority and init.lane set the lane of a call and are never sent; events and stats say which lane',
    async ({ ratewise, mock }) => {
      const seen = [];
      const events = [];
      const fetch = ratewise.createFetch({
        fetch: (input, init) => {
          const headers = new Headers(init?.headers ?? input.headers);
          seen.push([
            headers.has('x-ratewise-priority'),
            init !== undefined && 'lane' in init,
            headers.has('authorization'),
          ]);
          return globalThis.fetch(input, init);
        },
        onEvent: (e) => events.push(e.lane),
      });
      const bulkHeader = chatInit({ headers: { ...chatInit().headers, 'x-ratewise-priority': 'bulk' } });
      equal((await fetch(mock.chat, bulkHeader)).status, 200, 'header');
      equal((await fetch(mock.chat, chatInit({ lane: 'bulk' }))).status, 200, 'init.lane');
      equal((await fetch(new Request(mock.chat, bulkHeader))).status, 200, 'a Request with the header');
      equal((await fetch(mock.chat, chatInit())).status, 200, 'no lane');
      equal(
        seen,
        [
          [false, false, true],
          [false, false, true],
          [false, false, true],
          [false, false, true],
        ],
        'sent: no priority header, no lane, the credentials kept',
      );
      equal(events, ['bulk', 'bulk', 'bulk', 'interactive'], 'events');
      equal(fetch.stats().byLane, { interactive: 1, bulk: 3 }, 'stats().byLane');
      await throws(
        () => fetch(mock.chat, chatInit({ lane: 'batch' })),
        'TypeError',
        /`init.lane` must be 'interactive' or 'bulk', got 'batch'/,
        'a bad init.lane',
      );
      const urgent = chatInit({ headers: { 'x-ratewise-priority': 'urgent' } });
      await throws(() => fetch(mock.chat, urgent), 'TypeError', /`x-ratewise-priority` must be/, 'a bad header');
      const bad = [
        [{ lanes: { bulk: { route: 1 } } }, 'RangeError', /`lanes.bulk.route` must be the index of one of `routes`/],
        [{ lanes: { bulk: {} }, routes: [{}] }, 'TypeError', /`lanes.bulk.route` must be a route index/],
        [{ lanes: { batch: {} } }, 'TypeError', /unknown option `lanes.batch`/],
        [{ lanes: { bulk: { route: 0 } }, routes: [{}] }, 'RangeError', /`lanes.bulk.route` must be an integer from 1/],
      ];
      for (const [options, name, pattern] of bad) {
        await throws(() => ratewise.createFetch(options), name, pattern, JSON.stringify(options));
      }
    },
  ],

  [
    'lanes: interactive calls overtake bulk ones in the queue, and bulk calls take the cheap route under pressure',
    async ({ ratewise, mock }) => {
      await mock.config({ latencyMs: 60 });
      const queue = ratewise.createFetch({ maxConcurrency: 1, throttle: false });
      const done = [];
      const call = (name, lane) =>
        queue(mock.chat, chatInit({ lane })).then(async (r) => {
          await r.arrayBuffer();
          done.push(name);
        });
      const first = call('first', 'interactive');
      const bulk = [call('bulk 1', 'bulk'), call('bulk 2', 'bulk')];
      await new Promise((r) => setTimeout(r, 5));
      const interactive = call('interactive', 'interactive');
      await Promise.all([first, ...bulk, interactive]);
      equal(done, ['first', 'interactive', 'bulk 1', 'bulk 2'], 'the order calls got the slot');

      await mock.reset();
      await mock.config({ limit: 10, windowMs: 60_000 });
      const events = [];
      const lanes = ratewise.createFetch({
        routes: [{ model: 'gpt-4o-mini' }],
        lanes: { bulk: { route: 1 } },
        onEvent: (e) => events.push([e.lane, e.route]),
      });
      // The mock reports the window after each answer: 9 of 10 left, and so on.
      for (let i = 0; i < 10; i++) {
        // The mock keeps one window for every model: the tenth call is answered
        // by a scripted 200, which leaves the window as it is.
        if (i === 9) await mock.script([{ status: 200, body: { model: 'cheap-route' } }]);
        await (await lanes(mock.chat, chatInit({ lane: 'bulk' }))).arrayBuffer();
      }
      const routes = events.map(([, route]) => route);
      equal(routes, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], `bulk calls leave the last of the window to interactive ones`);
      const res = await lanes(mock.chat, chatInit());
      equal([res.status, (await res.json()).model], [200, 'replay-check-model'], 'an interactive call gets it');
      equal(lanes.stats().bulkDiverted, 1, 'stats().bulkDiverted');
      equal(events.at(-2), ['bulk', 1], 'the diverted call, in events');
    },
  ],
  ...security,
  ...bodies,
  ...engine,
  ...classifyTests,
  ...usage,
  ...budgets,
  ...percall,
  ...report,
];

/**
 * Runs every test (or those whose name includes `only`) in order against a
 * reset mock; returns `{ passed, failed, results }`.
 */
export async function runSuite({ ratewise, mockUrl, only, log = () => {} }) {
  const mock = mockClient(mockUrl);
  const results = [];
  for (const [name, fn] of tests) {
    if (only && !name.includes(only)) continue;
    await mock.reset();
    const started = Date.now();
    try {
      await fn({ ratewise, mock });
      results.push({ name, ok: true, ms: Date.now() - started });
      log(`ok - ${name}`);
    } catch (e) {
      results.push({ name, ok: false, error: String(e?.stack ?? e) });
      log(
        `not ok - ${name}\n  ${String(e?.stack ?? e)
          .split('\n')
          .join('\n  ')}`,
      );
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  return { passed: results.length - failed, failed, results };
}
