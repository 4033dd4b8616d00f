// The package's behaviour, written once and run in every runtime: Node
// (node.test.mjs), Cloudflare's workerd (run-workerd.mjs) and headless
// Chromium (run-browser.mjs). Each test talks to the real mock LLM API over
// HTTP, so it only needs `fetch` and the package's exports.

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
      await mock.config({ latencyMs: 60 });
      let inFlight = 0;
      let peak = 0;
      const order = [];
      const counting = (input, init) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        return fetch(input, init).finally(() => inFlight--);
      };
      const limited = ratewise.createFetch({ maxConcurrency: 2, fetch: counting });
      await Promise.all(Array.from({ length: 6 }, (_, i) => limited(mock.chat, chatInit()).then(() => order.push(i))));
      equal(peak, 2, 'peak requests in flight');
      equal(order, [0, 1, 2, 3, 4, 5], 'completion order of equal-latency calls');
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
