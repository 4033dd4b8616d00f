// Shared-suite tests for the second hardening pass (issue 19), classify group:
// run in Node, workerd, Chromium, Deno and Bun through suite.mjs.
import { equal } from './suite.mjs';

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
];
