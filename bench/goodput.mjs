// Benchmark (not a test): goodput under a rate limit, and time-to-learn under an empty quota.
//
//   node bench/goodput.mjs [--k 60] [--c 10] [--l 10] [--window-ms 1000]
//                          [--timeout-ms N] [--quota-timeout-ms 6000] [--ratewise-via fetch|openai]
//
// K requests (OpenAI chat completions), C workers pulling from one shared queue, against the mock
// LLM API (tests/mock/server.mjs) enforcing L requests per fixed window of --window-ms. Every
// contender gets its own freshly started mock (new port, zeroed counters), so a retry left over
// from one contender can never reach the next one's server. Counts of 429s and network calls are
// the mock's (the server's truth); a counting wrapper around fetch cross-checks them client side.
//
// Contenders:
//   ratewise    createFetch({ maxConcurrency: C }) used as a plain fetch (default throttle, retries,
//               retry budget); with --ratewise-via openai it is passed to
//               new OpenAI({ maxRetries: 0, fetch }) instead.
//   openai-2    new OpenAI({ apiKey, baseURL }), its built-in retry at the default maxRetries 2.
//   openai-10   the same with maxRetries 10.
//   p-retry     pRetry(fn, { retries: 10 }) around fetch: p-retry's documented defaults
//               (retries 10, factor 2, minTimeout 1000 ms, maxTimeout Infinity, randomize false);
//               fn throws on 429/5xx (retried) and throws AbortError on other non-2xx (not
//               retried). p-retry does not read retry-after.
//   ky          ky.post(url, { json, retry: { limit: 10, methods: ['post'],
//               statusCodes: [408, 413, 429, 500, 502, 503, 504] } }): ky honours retry-after on
//               413/429/503 and otherwise backs off 0.3 s * 2^(n-1).
//
// Scenario 1 (rate limit): floor = K/L windows * windowMs. Reports wall ÷ floor, failed requests
// (final non-200 or thrown), 429s received and network calls (mock stats).
// Scenario 2 (quota exhausted, mock `quota: true`): K requests at C, capped at --quota-timeout-ms;
// reports network calls, how many reached the server after the caller had seen the first failure,
// and when the caller first saw a failure.
//
// Every contender run is bounded: workers stop at the cap and unfinished requests are reported as
// timed out. The process closes every mock and exits 0.
import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import pRetry, { AbortError } from 'p-retry';
import ky from 'ky';
import { startMock } from '../tests/mock/server.mjs';

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    k: { type: 'string', default: '60' },
    c: { type: 'string', default: '10' },
    l: { type: 'string', default: '10' },
    'window-ms': { type: 'string', default: '1000' },
    'timeout-ms': { type: 'string' },
    'quota-timeout-ms': { type: 'string', default: '6000' },
    'ratewise-via': { type: 'string', default: 'fetch' },
  },
});
const int = (name, min) => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min}, got ${args[name]}`);
    process.exit(2);
  }
  return n;
};
const K = int('k', 1);
const C = int('c', 1);
const L = int('l', 1);
const WINDOW_MS = int('window-ms', 1);
const FLOOR_MS = (K / L) * WINDOW_MS;
const TIMEOUT_MS = args['timeout-ms'] !== undefined ? int('timeout-ms', 1) : Math.max(3 * FLOOR_MS, FLOOR_MS + 10_000);
const QUOTA_TIMEOUT_MS = int('quota-timeout-ms', 1);
const VIA = args['ratewise-via'];
if (!['fetch', 'openai'].includes(VIA)) {
  console.error(`--ratewise-via must be fetch or openai, got ${VIA}`);
  process.exit(2);
}

// The package as installed by scripts/pack.sh; the raw build output as a fallback.
const candidates = ['../tests/js/node_modules/ratewise/node.js', '../pkg/node.js'].map(
  (p) => new URL(p, import.meta.url),
);
const ratewiseUrl = candidates.find((u) => existsSync(fileURLToPath(u)));
if (!ratewiseUrl) {
  console.error('ratewise is not built: run ./scripts/build.sh && ./scripts/pack.sh');
  process.exit(1);
}
const { createFetch } = await import(ratewiseUrl.href);

// ---------------------------------------------------------------------------
// Contenders: each makes one "do request i" function from a mock URL and a counting fetch
// ---------------------------------------------------------------------------

const API_KEY = 'sk-bench-0000000000000000';
const BODY = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] };
const HEADERS = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

/** A failure as the caller sees it: a short label. */
function describeError(e) {
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return e.name;
  const status = e?.status ?? e?.response?.status;
  const code = e?.code ?? e?.error?.code;
  const name = e?.constructor?.name ?? e?.name ?? 'Error';
  return [name, status, typeof code === 'string' ? code : null].filter(Boolean).join(' ');
}

const contenders = [
  {
    name: 'ratewise',
    config:
      VIA === 'fetch'
        ? `createFetch({ maxConcurrency: ${C} }) as plain fetch`
        : `new OpenAI({ maxRetries: 0, fetch: createFetch({ maxConcurrency: ${C} }) })`,
    make({ url, fetch, signal }) {
      const alerts = { count: 0 };
      const rw = createFetch({
        maxConcurrency: C,
        fetch,
        signal,
        onQuotaExhausted: () => {
          alerts.count += 1; // observes only; returns no fallback
        },
      });
      const extra = () => ({ stats: rw.stats(), breaker: rw.breaker(), alerts: alerts.count });
      if (VIA === 'openai') {
        const client = new OpenAI({ apiKey: API_KEY, baseURL: `${url}/v1`, maxRetries: 0, fetch: rw });
        return { extra, one: () => client.chat.completions.create(BODY, { signal }) };
      }
      return {
        extra,
        async one() {
          const res = await rw(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: HEADERS,
            body: JSON.stringify(BODY),
          });
          const text = await res.text();
          if (res.status !== 200) {
            const code = safeJson(text)?.error?.code;
            const breaker = res.headers.get('x-ratewise-breaker') === 'open' ? ' (breaker)' : '';
            throw Object.assign(new Error(`HTTP ${res.status}`), {
              label: `Response ${res.status} ${code ?? ''}${breaker}`.trim(),
            });
          }
          return JSON.parse(text);
        },
      };
    },
  },
  {
    name: 'openai-2',
    config: 'new OpenAI({ apiKey, baseURL }) (maxRetries 2, the default)',
    make({ url, fetch, signal }) {
      const client = new OpenAI({ apiKey: API_KEY, baseURL: `${url}/v1`, fetch });
      return { one: () => client.chat.completions.create(BODY, { signal }) };
    },
  },
  {
    name: 'openai-10',
    config: 'new OpenAI({ apiKey, baseURL, maxRetries: 10 })',
    make({ url, fetch, signal }) {
      const client = new OpenAI({ apiKey: API_KEY, baseURL: `${url}/v1`, fetch, maxRetries: 10 });
      return { one: () => client.chat.completions.create(BODY, { signal }) };
    },
  },
  {
    name: 'p-retry',
    config: 'pRetry(fn, { retries: 10 }) (defaults: factor 2, minTimeout 1 s, no retry-after); fn throws on 429/5xx',
    make({ url, fetch, signal }) {
      const attempt = async () => {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: HEADERS,
          body: JSON.stringify(BODY),
          signal,
        });
        const text = await res.text();
        if (res.ok) return JSON.parse(text);
        const err = Object.assign(new Error(`HTTP ${res.status}`), {
          status: res.status,
          label: `Error ${res.status} ${safeJson(text)?.error?.code ?? ''}`.trim(),
        });
        if (res.status === 429 || res.status >= 500) throw err;
        throw new AbortError(err);
      };
      return { one: () => pRetry(attempt, { retries: 10, signal }) };
    },
  },
  {
    name: 'ky',
    config:
      "ky.post(url, { retry: { limit: 10, methods: ['post'], statusCodes: [408, 413, 429, 500, 502, 503, 504] } })",
    make({ url, fetch, signal }) {
      const retry = { limit: 10, methods: ['post'], statusCodes: [408, 413, 429, 500, 502, 503, 504] };
      return {
        one: async () => {
          try {
            return await ky
              .post(`${url}/v1/chat/completions`, {
                json: BODY,
                headers: { authorization: HEADERS.authorization },
                retry,
                signal,
                fetch,
              })
              .json();
          } catch (e) {
            if (e?.response) {
              const code = safeJson(await e.response.text().catch(() => ''))?.error?.code;
              e.label = `HTTPError ${e.response.status} ${code ?? ''}`.trim();
            }
            throw e;
          }
        },
      };
    },
  },
];

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// One contender run: C workers, a shared queue of K requests, a hard cap
// ---------------------------------------------------------------------------

const TIMED_OUT = Symbol('timed out');

async function runContender(contender, mockOptions, capMs) {
  const mock = await startMock(mockOptions);
  const controller = new AbortController();
  setMaxListeners(Infinity, controller.signal); // one listener per pending call or sleep is expected
  // Client side, every network call: when it was sent, when its response headers arrived, the status.
  const fetchLog = [];
  const countingFetch = (input, init) => {
    const entry = { start: Date.now(), end: null, status: null };
    fetchLog.push(entry);
    return globalThis.fetch(input, init).then((res) => {
      entry.end = Date.now();
      entry.status = res.status;
      return res;
    });
  };
  const { one, extra } = contender.make({ url: mock.url, fetch: countingFetch, signal: controller.signal });

  let timer;
  const cap = new Promise((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), capMs);
  });
  const results = [];
  let next = 0;
  let capped = false;
  const started = Date.now();
  async function worker() {
    while (!capped && next < K) {
      const i = next++;
      const outcome = await Promise.race([
        Promise.resolve()
          .then(one)
          .then(
            () => ({ ok: true }),
            (e) => ({ ok: false, error: e.label ?? describeError(e) }),
          ),
        cap,
      ]);
      if (outcome === TIMED_OUT) {
        capped = true;
        results[i] = { timedOut: true };
        return;
      }
      results[i] = { ...outcome, at: Date.now() - started };
    }
  }
  await Promise.all(Array.from({ length: C }, worker));
  const wallMs = Date.now() - started;
  clearTimeout(timer);
  controller.abort(new Error('benchmark cap reached'));

  const stats = mock.stats();
  const extras = extra?.();
  await mock.close();

  const done = results.filter((r) => r && !r.timedOut);
  const failures = done.filter((r) => !r.ok);
  const firstFailure = failures.reduce((m, r) => Math.min(m, r.at), Infinity);
  // The first non-2xx answer to reach the client's fetch layer, and the network calls sent
  // before it (already in flight) and at or after it (sent knowing the answer).
  const firstBadAnswer = fetchLog.reduce(
    (m, f) => (f.status !== null && (f.status < 200 || f.status > 299) ? Math.min(m, f.end) : m),
    Infinity,
  );
  const sentBefore = fetchLog.filter((f) => f.start < firstBadAnswer).length;
  const sentAfter = fetchLog.length - sentBefore;
  const answered = fetchLog.filter((f) => f.status !== null).length;
  const errorKinds = {};
  for (const f of failures) errorKinds[f.error] = (errorKinds[f.error] || 0) + 1;
  return {
    name: contender.name,
    config: contender.config,
    wallMs,
    capped,
    ok: done.filter((r) => r.ok).length,
    failed: failures.length,
    timedOut: K - done.length,
    requests: stats.requests,
    byStatus: stats.byStatus,
    clientFetches: fetchLog.length,
    answered,
    firstFailure,
    firstBadAnswer: Number.isFinite(firstBadAnswer) ? firstBadAnswer - started : Infinity,
    sentBefore,
    sentAfter,
    errorKinds,
    extras,
  };
}

// ---------------------------------------------------------------------------
// Warm-up: one request per client against an unlimited mock (JIT, wasm, sockets)
// ---------------------------------------------------------------------------

{
  const warm = await startMock({});
  for (const c of contenders) {
    const { one } = c.make({ url: warm.url, fetch: globalThis.fetch, signal: undefined });
    await one();
  }
  await warm.close();
}

// ---------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------

const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const pct = (a, b) => (b ? `${((100 * a) / b).toFixed(1)}%` : '–');
const kinds = (o) =>
  Object.entries(o)
    .map(([k, v]) => `${v}× ${k}`)
    .join(', ') || '–';
const checks = [];
/** Client-side fetch counts against the mock's: equal, unless calls were cut off in flight at the cap. */
function crossCheck(r, scenario) {
  if (r.capped ? !(r.answered <= r.requests && r.requests <= r.clientFetches) : r.clientFetches !== r.requests)
    checks.push(
      `${r.name} (${scenario}): client sent ${r.clientFetches} fetches (${r.answered} answered), mock counted ${r.requests}`,
    );
  if (r.extras && r.extras.stats.networkCalls !== r.clientFetches)
    checks.push(
      `ratewise (${scenario}): stats().networkCalls ${r.extras.stats.networkCalls} ≠ ${r.clientFetches} fetches seen by the wrapped fetch`,
    );
  if (r.extras && r.extras.stats.calls !== K - r.timedOut && !r.capped)
    checks.push(`ratewise (${scenario}): stats().calls ${r.extras.stats.calls} ≠ ${K}`);
}

console.log(`# ratewise goodput benchmark`);
console.log(``);
console.log(
  `K=${K} requests, C=${C} workers, mock limit L=${L} per ${WINDOW_MS} ms fixed window; floor = K/L × window = ${fmtMs(FLOOR_MS)}; ` +
    `cap ${fmtMs(TIMEOUT_MS)} per contender (quota scenario ${fmtMs(QUOTA_TIMEOUT_MS)}). Node ${process.version}, ratewise from ${fileURLToPath(ratewiseUrl).replace(`${process.cwd()}/`, '')}.`,
);
console.log(``);

// Scenario 1: rate limit -------------------------------------------------------

const rl = [];
for (const c of contenders) rl.push(await runContender(c, { limit: L, windowMs: WINDOW_MS }, TIMEOUT_MS));

console.log(`## Scenario 1: rate limit (${L} per ${WINDOW_MS} ms), ${K} requests at concurrency ${C}`);
console.log(``);
console.log(
  '| contender | wall | ÷ floor | ok | failed | timed out | 429s (server) | network calls (server) | 429 share | notes |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of rl) {
  const r429 = r.byStatus[429] ?? 0;
  const other = Object.entries(r.byStatus).filter(([s]) => s !== '200' && s !== '429');
  const notes = [];
  if (r.capped) notes.push(`hit the ${fmtMs(TIMEOUT_MS)} cap`);
  if (r.failed) notes.push(`errors: ${kinds(r.errorKinds)}`);
  if (other.length) notes.push(`other statuses: ${other.map(([s, n]) => `${n}× ${s}`).join(', ')}`);
  if (r.extras) {
    const s = r.extras.stats;
    notes.push(`retries ${s.retries}, throttled ${fmtMs(s.throttledMs)} total, stops ${JSON.stringify(s.byStop)}`);
  }
  console.log(
    `| ${r.name} | ${r.capped ? `>${fmtMs(r.wallMs)}` : fmtMs(r.wallMs)} | ${(r.wallMs / FLOOR_MS).toFixed(2)}× | ${r.ok} | ${r.failed} | ${r.timedOut} | ${r429} | ${r.requests} | ${pct(r429, r.requests)} | ${notes.join('; ') || '–'} |`,
  );
  crossCheck(r, 'rate limit');
  if ((r.byStatus[200] ?? 0) < r.ok)
    checks.push(`${r.name} (rate limit): ${r.ok} successes but only ${r.byStatus[200] ?? 0} 200s at the mock`);
}
console.log(``);

// Scenario 2: quota exhausted --------------------------------------------------

const qs = [];
for (const c of contenders) qs.push(await runContender(c, { quota: true }, QUOTA_TIMEOUT_MS));

console.log(
  `## Scenario 2: quota exhausted (every request answered 429 insufficient_quota), ${K} requests at concurrency ${C}, cap ${fmtMs(QUOTA_TIMEOUT_MS)}`,
);
console.log(``);
console.log(
  '| contender | caller first saw a failure at | network calls (server) | sent before the 1st quota answer arrived | sent after it | failed | unfinished at cap | wall | what the caller saw |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of qs) {
  const learned = Number.isFinite(r.firstFailure) ? fmtMs(r.firstFailure) : `never (> ${fmtMs(QUOTA_TIMEOUT_MS)})`;
  const wall = r.capped ? `>${fmtMs(r.wallMs)} (cap)` : fmtMs(r.wallMs);
  console.log(
    `| ${r.name} | ${learned} | ${r.requests} | ${r.sentBefore} | ${r.sentAfter} | ${r.failed} | ${r.timedOut} | ${wall} | ${kinds(r.errorKinds)} |`,
  );
  crossCheck(r, 'quota');
  if (r.ok) checks.push(`${r.name} (quota): ${r.ok} requests "succeeded" against an exhausted quota`);
}
const rwq = qs.find((r) => r.name === 'ratewise');
if (rwq.extras) {
  const s = rwq.extras.stats;
  const b = rwq.extras.breaker;
  console.log(``);
  console.log(
    `ratewise quota detail: stats() networkCalls ${s.networkCalls}, shortCircuits ${s.shortCircuits}, attempts ${s.attempts}, retries ${s.retries}, ` +
      `stops ${JSON.stringify(s.byStop)}; first quota answer reached its fetch at ${fmtMs(rwq.firstBadAnswer)}; onQuotaExhausted called ${rwq.extras.alerts}×; ` +
      `breaker() ${JSON.stringify(b.map(({ key, state, trips }) => ({ key, state, trips })))}`,
  );
}
console.log(``);

// Targets ------------------------------------------------------------------------

const rwr = rl.find((r) => r.name === 'ratewise');
const ratio = rwr.wallMs / FLOOR_MS;
const share = rwr.requests ? (rwr.byStatus[429] ?? 0) / rwr.requests : 0;
const mark = (ok) => (ok ? 'met' : 'NOT met');
const firstWave = rwq.sentBefore;
const quotaOk = Number.isFinite(rwq.firstFailure) && rwq.sentAfter === 0 && firstWave <= C;
console.log(`## ratewise targets`);
console.log(``);
console.log(
  `- wall ≤ 1.10× floor: ${ratio.toFixed(2)}× → ${mark(ratio <= 1.1 && !rwr.capped)}\n` +
    `- 0 failed requests: ${rwr.failed} failed, ${rwr.timedOut} timed out → ${mark(rwr.failed === 0 && rwr.timedOut === 0)}\n` +
    `- ≤ 5% of network calls answered 429: ${rwr.byStatus[429] ?? 0} of ${rwr.requests} = ${(100 * share).toFixed(1)}% → ${mark(share <= 0.05)}\n` +
    `- quota: 1 network call for the first quota error, 0 afterwards: ${firstWave} call(s) were sent before the first quota answer came back ` +
    `(${firstWave <= 1 ? 'exactly the one' : `sent concurrently by the first ${firstWave} of the ${C} workers, all in flight when it arrived; up to C=${C} allowed`}), ` +
    `${rwq.sentAfter} sent after it → ${mark(quotaOk)}${quotaOk && firstWave > 1 ? ` (strictly, "1 call" holds only with C=1: ${firstWave} were in flight)` : ''}`,
);
console.log(``);
console.log(
  `Notes: "failed" = final non-200 or thrown; 429s and network calls are the mock's counts. A perfect client can finish in ` +
    `${fmtMs((Math.ceil(K / L) - 1) * WINDOW_MS)} + one round trip (its last window opens at (⌈K/L⌉−1) × window), so ratios a little under 1.00× are possible. ` +
    `Timed-out contenders were abandoned at the cap (their mock closed), not waited for.`,
);
console.log(
  checks.length
    ? `\nCHECKS FAILED:\n${checks.map((c) => `- ${c}`).join('\n')}`
    : `Cross-checks passed: client-side fetch counts equal the mock's request counts for every run${rwr.extras ? ", and equal ratewise's stats().networkCalls" : ''}.`,
);

process.exit(0);
