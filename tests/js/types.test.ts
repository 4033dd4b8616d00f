// Type test for pkg-template/index.d.ts, checked by `tsc -p tests/js` against
// the installed package: what users write must compile, and mistakes must not.
import {
  classify,
  createFetch,
  isBudgetExhaustedError,
  type BudgetExhaustedError,
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
  if (isBudgetExhaustedError(e)) {
    const err: BudgetExhaustedError = e;
    const name: string | null = err.budget;
    const resets: number | null = err.resetsAtMs;
    const spent: Kind = 'budget_exhausted';
    void [name, resets, spent, err.kind === 'budget_exhausted'];
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

const perInvocation = createFetch().forInvocation({ subrequests: 40 });
const left: number = perInvocation.subrequests().limit - perInvocation.subrequests().spent;
// @ts-expect-error the budget is a number
createFetch().forInvocation({ subrequests: '40' });

const kept = new Map<string, Response>();
const cachedFetch = createFetch({
  cache: {
    ttlMs: 3_600_000,
    streams: true,
    key: async (request) => `${request.url} ${await request.clone().text()}`,
    store: { get: (k) => kept.get(k), put: (k, r) => void kept.set(k, r) },
  },
});
const hits: number = cachedFetch.stats().cacheHits;
createFetch().forInvocation({ waitUntil: (p) => void p });
// @ts-expect-error the cache needs ttlMs
createFetch({ cache: { streams: true } });

const laned = createFetch({ routes: [{ model: 'gpt-4o-mini' }], lanes: { bulk: { route: 1 } } });
void laned('https://api.openai.com/v1/chat/completions', { method: 'POST', lane: 'bulk' });
const bulkCalls: number = laned.stats().byLane.bulk + laned.stats().bulkDiverted;
// @ts-expect-error two lanes only
void laned('https://api.openai.com/v1/models', { lane: 'batch' });

void [kind, wait, waited, open, left, hits, bulkCalls];

// The README's first example, as written there: a hook that only alerts returns nothing.
createFetch({
  maxRetries: 4,
  onQuotaExhausted: ({ classification, firstReport }) => {
    // firstReport: once per incident, not once per call in flight or per failed probe.
    if (firstReport) console.error('page someone:', classification.message);
  },
});
createFetch({
  onQuotaExhausted: async ({ classification }) => {
    await Promise.resolve(classification.kind);
  },
});

// redisCoordinator takes a client of one of the three shapes, and nothing else.
import { redisCoordinator, type Coordinator } from 'ratewise';
const viaNodeRedis: Coordinator = redisCoordinator(
  { sendCommand: async (args: string[]) => args.length, isReady: true },
  { prefix: 'app:' },
);
redisCoordinator({ call: async (command: string) => command, status: 'ready' });
redisCoordinator({ eval: async () => 1, evalsha: async () => 1 });
createFetch({ coordinator: viaNodeRedis }).forInvocation({ coordinator: viaNodeRedis });
// @ts-expect-error not a Redis client
redisCoordinator({ get: async () => null });
// @ts-expect-error the prefix is a string
redisCoordinator({ eval: async () => 1, evalsha: async () => 1 }, { prefix: 1 });
// telemetry (issue 24): the real api's Tracer and Meter fit; the events carry the request id and model.
import { metrics, trace } from '@opentelemetry/api';
createFetch({ telemetry: true });
createFetch({ telemetry: { bodyWaitMs: 60_000 } });
createFetch({ telemetry: { tracer: trace.getTracer('app'), meter: metrics.getMeter('app'), legacyMetrics: true } });
createFetch({
  // onEvent also gets the usage events once the tap is on (telemetry turns it on): narrow by `type`.
  onEvent: (e) =>
    void (e.type === 'attempt'
      ? [e.requestId?.length, e.model?.length, e.queuedMs + e.pacedMs + e.leasedMs, e.breaker]
      : [e.model?.length, e.usage.inputTokens]),
});
// @ts-expect-error: a tracer must have startSpan
createFetch({ telemetry: { tracer: {} } });
const h = createFetch().health();
const hashes: string[] = [...h.breakers.map((b) => b.key), ...h.limits.map((l) => l.key)];
void [hashes, h.ok, h.queue.waiting, h.coordinator.errors, h.limits[0]?.requests?.remaining ?? 0];
// Usage and prices (issue 21): a table or a function, onUsage's event, stats().usage.
const priced: RatewiseFetch = createFetch({
  prices: { 'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 } },
  onUsage: (e) => void [e.usage.inputTokens, e.costUsd ?? 0, e.model, e.estimated, e.end],
  onEvent: (e) => void (e.type === 'usage' ? e.usage.outputTokens : e.attempt),
});
createFetch({ usage: true, prices: ({ model, usage }) => (model === 'x' ? usage.outputTokens * 1e-6 : undefined) });
// The answer's id (gen_ai.response.id), or null.
createFetch({ onUsage: (e) => void (e.responseId === null ? 0 : e.responseId.length) });
const spent: number = priced.stats().usage.byLane.bulk.costUsd;
void spent;
// @ts-expect-error a price needs its output price
createFetch({ prices: { 'gpt-4o': { input: 2.5 } } });

// Spend budgets (issue 21): the options, onBudget's alert, init.budget.
const budgeted: RatewiseFetch = createFetch({
  prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
  budgets: [
    { name: 'daily', limitUsd: 5, window: 'day', alertAt: [0.5, 0.9] },
    { name: 'batch', limitTokens: 1e6, window: 3_600_000, tag: 'nightly' },
  ],
  onBudget: (a) => void [a.budget, a.fraction, a.threshold ?? 0, a.forecast ?? 0, a.windowEndsAt],
});
void budgeted('https://api.openai.com/v1/chat/completions', { method: 'POST', budget: 'nightly' });
// @ts-expect-error a window is a day, a month or ms
createFetch({ budgets: [{ name: 'x', limitUsd: 1, window: 'week' }] });
