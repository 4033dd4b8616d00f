// Shared-suite tests for the second hardening pass (issue 19), classify group:
// run in Node, workerd, Chromium, Deno and Bun through suite.mjs.
import { check, equal } from './suite.mjs';

export const tests = [
  [
    'maxErrorBodyBytes: 200 keeps only the quota phrase of the body, not its type or code: still one network call and an alert',
    async ({ ratewise, mock }) => {
      await mock.script(['insufficient_quota', 'insufficient_quota', 'insufficient_quota', 'insufficient_quota']);
      const alerts = [];
      const fetch = ratewise.createFetch({
        maxErrorBodyBytes: 200,
        baseDelayMs: 1,
        onQuotaExhausted: ({ classification }) => {
          alerts.push(classification.kind);
        },
      });
      const res = await fetch(mock.chat, { method: 'POST', body: '{}' });
      await res.arrayBuffer();
      equal(res.status, 429, 'status');
      equal((await mock.stats()).requests, 1, 'network calls');
      equal(alerts, ['quota_exhausted'], 'alerts');
    },
  ],
  [
    "classify() unwraps a RetryError's lastError (or its last errors[] item), a few levels deep",
    ({ ratewise }) => {
      const quota = {
        name: 'AI_APICallError',
        statusCode: 429,
        responseHeaders: { 'content-type': 'application/json' },
        responseBody:
          '{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}',
      };
      const rate = {
        ...quota,
        responseBody: '{"error":{"code":"rate_limit_exceeded","message":"Rate limit reached"}}',
      };
      const retry = (fields) =>
        Object.assign(new Error('Failed after 3 attempts'), { name: 'AI_RetryError', ...fields });
      equal(ratewise.classify(retry({ lastError: quota, errors: [rate, quota] })).kind, 'quota_exhausted', 'lastError');
      equal(ratewise.classify(retry({ errors: [quota, rate] })).kind, 'rate_limit', 'the last of errors');
      equal(ratewise.classify(retry({ lastError: retry({ lastError: quota }) })).kind, 'quota_exhausted', 'nested');
      equal(ratewise.classify(retry({})).kind, 'unknown', 'nothing wrapped');
    },
  ],
  [
    'classify() and createFetch read a failure before any response alike: one classifier for rejections',
    async ({ ratewise }) => {
      const named = (name, message) => Object.assign(new Error(message), { name });
      const table = [
        [new TypeError('Failed to parse URL from htp//x'), 'bad_request'],
        [new TypeError('Invalid URL'), 'bad_request'],
        [new TypeError('Headers.append: "a b" is an invalid header name.'), 'bad_request'],
        [new TypeError('Too many subrequests.'), 'bad_request'],
        [new TypeError('fetch failed'), 'network'],
        [new TypeError('Failed to fetch'), 'network'],
        [named('TimeoutError', 'The operation timed out.'), 'timeout'],
        [named('APIConnectionTimeoutError', 'Request timed out.'), 'timeout'],
        [named('APIConnectionError', 'Connection error.'), 'network'],
        [named('FetchError', 'request to https://x failed, reason: socket hang up'), 'network'],
        // workerd's and Bun's rejections are plain Errors and TypeErrors.
        [new Error('Network connection lost.'), 'network'],
        [new Error('Too many subrequests.'), 'bad_request'],
        [new TypeError('protocol must be http:, https: or s3:'), 'bad_request'],
        // The AI SDK's APICallError without a status: it could not connect.
        [named('AI_APICallError', 'Cannot connect to API: fetch failed'), 'network'],
        [named('ConnectTimeoutError', 'Connect Timeout Error'), 'timeout'],
        [new DOMException('The operation timed out.', 'TimeoutError'), 'timeout'],
        // An abort is someone's decision: never sent again.
        [new DOMException('This operation was aborted', 'AbortError'), 'unknown'],
        [named('APIUserAbortError', 'Request was aborted.'), 'unknown'],
        // Not a failed request at all.
        [new RangeError('Invalid array length'), 'unknown'],
        [named('OpenAIError', 'The OPENAI_API_KEY environment variable is missing'), 'unknown'],
      ];
      for (const [error, kind] of table) {
        const what = `${error.name}: ${error.message}`;
        const c = ratewise.classify(error);
        equal(c.kind, kind, `classify(${what})`);
        let sent = 0;
        let seen = null;
        const fetch = ratewise.createFetch({
          maxRetries: 1,
          baseDelayMs: 1,
          throwOnError: true,
          onEvent: (event) => {
            if (event.type === 'attempt') seen ??= event.classification;
          },
          fetch: async () => {
            sent++;
            throw error;
          },
        });
        const e = await fetch('https://api.openai.com/v1/models').catch((x) => x);
        const pick = (x) => [x.kind, x.action, x.reason, x.status, x.message];
        equal(pick(seen), pick(c), `createFetch's classification of ${what} is classify()'s`);
        if (c.kind !== 'unknown') {
          check(ratewise.isRatewiseError(e), `createFetch rejected with a RatewiseError for ${what}: ${e}`);
          equal(e.kind, kind, `createFetch on ${what}: kind`);
        }
        equal(sent, c.action === 'retry' ? 2 : 1, `createFetch on ${what}: attempts`);
      }
    },
  ],
];
