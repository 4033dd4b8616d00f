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
];
