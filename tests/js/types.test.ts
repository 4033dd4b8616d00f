// Type test for pkg-template/index.d.ts, checked by `tsc -p tests/js` against
// the installed package: what users write must compile, and mistakes must not.
import {
  classify,
  createFetch,
  isQuotaExhaustedError,
  type QuotaExhaustedError,
  type AttemptEvent,
  type Classification,
  type Kind,
  type RatewiseFetch,
} from 'ratewise';

const c: Classification = classify({ status: 429, headers: new Headers(), body: '{}' });
const kind: Kind = c.kind;
const wait: number | null = c.retryAfterMs;
classify({ status: 503, headers: [['retry-after', '1']], body: { error: {} }, url: new URL('https://api.openai.com') });
classify({ statusCode: 429, responseBody: '{}', responseHeaders: { a: 'b' } });
classify(new TypeError('fetch failed'));

const f: RatewiseFetch = createFetch({
  maxRetries: 2,
  jitter: 'decorrelated',
  maxConcurrency: 4,
  retryBudget: { capacity: 100 },
  throttle: { coldStart: 2 },
  routes: [{ apiKey: 'sk-backup', model: 'gpt-4o-mini' }],
  onEvent: (e: AttemptEvent) => void [e.route, e.tokens ?? 0],
  onQuotaExhausted: ({ classification, breakerOpen }) =>
    breakerOpen ? undefined : new Response(JSON.stringify(classification)),
});
const res: Promise<Response> = f('https://api.openai.com/v1/models', { method: 'GET' });
const waited: number = f.stats().waitedMs;
const open: string[] = f.breaker().map((b) => b.key);
f.resetBreaker();

try {
  await res;
} catch (e) {
  if (isQuotaExhaustedError(e)) {
    const err: QuotaExhaustedError = e;
    void err.classification?.message;
  }
}

// @ts-expect-error jitter takes one of four names
createFetch({ jitter: 'sometimes' });
// @ts-expect-error status is a number
classify({ status: '429' });
// @ts-expect-error routes hold objects
createFetch({ routes: ['sk-backup'] });
// @ts-expect-error throttle takes a boolean or { coldStart }
createFetch({ throttle: { coldstart: 1 } });

void [kind, wait, waited, open];
