// Benchmark (not a test): goodput under rate limits of every shape, under a tokens limit, and
// time-to-learn under an empty quota.
//
//   node bench/goodput.mjs [--k 60] [--l 10] [--window-ms 1000] [--c 8,20] [--shapes fixed,sliding,bucket]
//                          [--latency 0,0.3,1] [--jitter 0.5]
//                          [--contenders ratewise,ratewise-blind,openai-2,openai-10,p-retry,ky]
//                          [--token-k 6] [--token-limit 10000] [--token-window-ms 3000] [--max-tokens 4000]
//                          [--no-tokens] [--no-quota] [--quota-timeout-ms 6000] [--timeout-ms N]
//                          [--no-isolates] [--help]
//
// Every contender gets its own freshly started mock (tests/mock/server.mjs: new port, zeroed
// counters), so a retry left over from one contender can never reach the next one's server. Counts
// of 429s and network calls are the mock's (the server's truth); a counting wrapper around fetch
// cross-checks them client side.
//
// Rate-limit scenarios: for each shape (fixed window, sliding log, token bucket; L requests per
// --window-ms) and each concurrency C, each contender runs two batches of K chat completions (C
// workers pulling from one shared queue) on one client against one mock:
//   start    from a standing start (a fresh client, a fresh limit): floor = (⌈K/L⌉−1) × W, the
//            time at which the last window a perfect client needs opens;
//   steady   right after the first batch, on the same client and server: the limit is in use, so
//            K requests need K/L windows: floor = K/L × W.
// Tokens scenario: a fixed window of --token-limit tokens per --token-window-ms (and 100 requests
// per second), --token-k calls of max_tokens --max-tokens each: ⌊limit / tokens⌋ calls fit a window,
// and the floors are as above with that as L.
//
// Contenders:
//   ratewise        createFetch({ maxConcurrency: C }) used as a plain fetch: the defaults, cold start
//                   included (throttle: { coldStart: 1 }), retries, retry budget.
//   ratewise-blind  the same with throttle: { coldStart: 0 }: no hold before the first answer.
//   openai-2        new OpenAI({ apiKey, baseURL }), its built-in retry at the default maxRetries 2.
//   openai-10       the same with maxRetries 10.
//   p-retry         pRetry(fn, { retries: 10 }) around fetch: p-retry's documented defaults (factor 2,
//                   minTimeout 1000 ms, no maxTimeout, randomize false); fn throws on 429/5xx
//                   (retried) and throws AbortError on other non-2xx. p-retry does not read retry-after.
//   ky              ky.post(url, { json, retry: { limit: 10, methods: ['post'],
//                   statusCodes: [408, 413, 429, 500, 502, 503, 504] } }): ky honours retry-after on
//                   413/429/503 and otherwise backs off 0.3 s × 2^(n−1).
//
// Isolates (bench/isolates.mjs, skipped with --no-isolates): K calls over N = 2, 4, 8 Worker isolates in
// workerd sharing one limit, with and without the RatewiseCoordinator Durable Object.
//
// Quota scenario (mock `quota: true`): K requests at the first C, capped at --quota-timeout-ms:
// network calls, how many reached the server after the caller had seen the first failure, and
// when the caller first saw a failure.
//
// Every batch is bounded: workers stop at the cap and unfinished requests are reported as timed
// out. The process closes every mock and exits 0.
import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ky from 'ky';
import OpenAI from 'openai';
import pRetry, { AbortError } from 'p-retry';
import { startMock } from '../tests/mock/server.mjs';
import { help } from './help.mjs';

help(import.meta.url);

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const ALL_CONTENDERS = ['ratewise', 'ratewise-blind', 'openai-2', 'openai-10', 'p-retry', 'ky'];
const { values: args } = parseArgs({
  options: {
    k: { type: 'string', default: '60' },
    l: { type: 'string', default: '10' },
    'window-ms': { type: 'string', default: '1000' },
    c: { type: 'string', default: '8,20' },
    shapes: { type: 'string', default: 'fixed,sliding,bucket' },
    // Answer latency as a fraction of the window, each answer drawn in latency × (1 ± jitter).
    latency: { type: 'string', default: '0' },
    jitter: { type: 'string', default: '0.5' },
    contenders: { type: 'string', default: ALL_CONTENDERS.join(',') },
    'token-k': { type: 'string', default: '6' },
    'token-limit': { type: 'string', default: '10000' },
    'token-window-ms': { type: 'string', default: '3000' },
    'max-tokens': { type: 'string', default: '4000' },
    'no-tokens': { type: 'boolean', default: false },
    'no-quota': { type: 'boolean', default: false },
    'no-isolates': { type: 'boolean', default: false },
    'timeout-ms': { type: 'string' },
    'quota-timeout-ms': { type: 'string', default: '6000' },
  },
});
const fail = (message) => {
  console.error(message);
  process.exit(2);
};
const int = (name, min, text = args[name]) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got ${text}`);
  return n;
};
const list = (name, known) => {
  const items = args[name].split(',').map((s) => s.trim());
  for (const item of items)
    if (!known.includes(item)) fail(`--${name}: unknown "${item}" (known: ${known.join(', ')})`);
  return items;
};
const K = int('k', 1);
const L = int('l', 1);
const WINDOW_MS = int('window-ms', 1);
const CS = args.c.split(',').map((c) => int('c', 1, c));
// retry-after-only: a fixed window answering 429 + retry-after and no x-ratelimit-*; on429: a fixed
// window whose rate-limit headers come on 429s only.
const SHAPES = list('shapes', ['fixed', 'aligned', 'sliding', 'sliding-next', 'bucket', 'retry-after-only', 'on429']);
const LATENCIES = args.latency.split(',').map((v) => {
  const n = Number(v);
  if (!(Number.isFinite(n) && n >= 0)) fail(`--latency: ${v} is not a fraction of the window >= 0`);
  return n;
});
const JITTER = Number(args.jitter);
if (!(JITTER >= 0 && JITTER <= 1)) fail(`--jitter must be from 0 to 1, got ${args.jitter}`);
/** The mock's settings for a shape of the list. */
const shapeConfig = (shape) =>
  shape === 'retry-after-only'
    ? { shape: 'fixed', rateLimitHeaders: 'none' }
    : shape === 'on429'
      ? { shape: 'fixed', rateLimitHeaders: 'on429' }
      : { shape };
const CONTENDERS = list('contenders', ALL_CONTENDERS);
const TOKEN_K = int('token-k', 1);
const TOKEN_LIMIT = int('token-limit', 1);
const TOKEN_WINDOW_MS = int('token-window-ms', 1);
const MAX_TOKENS = int('max-tokens', 0);
const QUOTA_TIMEOUT_MS = int('quota-timeout-ms', 1);
const capFor = (floorMs) =>
  args['timeout-ms'] !== undefined ? int('timeout-ms', 1) : Math.max(3 * floorMs, floorMs + 10_000);

// The package as installed by scripts/pack.sh; the raw build output as a fallback.
const candidates = ['../tests/js/node_modules/ratewise/node.js', '../pkg/node.js'].map(
  (p) => new URL(p, import.meta.url),
);
const ratewiseUrl = candidates.find((u) => existsSync(fileURLToPath(u)));
if (!ratewiseUrl) fail('ratewise is not built: run ./scripts/build.sh && ./scripts/pack.sh');
const { createFetch } = await import(ratewiseUrl.href);

// ---------------------------------------------------------------------------
// Contenders: each makes one "do request i" function from a mock URL and a counting fetch
// ---------------------------------------------------------------------------

const API_KEY = 'sk-bench-0000000000000000';
const HEADERS = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
const chatBody = (maxTokens) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Hello' }],
  ...(maxTokens ? { max_tokens: maxTokens } : {}),
});

/** A failure as the caller sees it: a short label. */
function describeError(e) {
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return e.name;
  const status = e?.status ?? e?.response?.status;
  const code = e?.code ?? e?.error?.code;
  const name = e?.constructor?.name ?? e?.name ?? 'Error';
  return [name, status, typeof code === 'string' ? code : null].filter(Boolean).join(' ');
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** ratewise as a plain fetch, with these createFetch options on top of the bench's own. */
function ratewise(name, config, options) {
  return {
    name,
    config,
    make({ url, fetch, signal, c, body }) {
      const alerts = { count: 0 };
      const rw = createFetch({
        maxConcurrency: c,
        fetch,
        signal,
        onQuotaExhausted: () => {
          alerts.count += 1; // observes only; returns no fallback
        },
        ...options,
      });
      const extra = () => ({ stats: rw.stats(), breaker: rw.breaker(), alerts: alerts.count });
      return {
        extra,
        async one() {
          const res = await rw(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: HEADERS,
            body: JSON.stringify(body),
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
  };
}

function openai(name, config, maxRetries) {
  return {
    name,
    config,
    make({ url, fetch, signal, body }) {
      const client = new OpenAI({ apiKey: API_KEY, baseURL: `${url}/v1`, fetch, maxRetries });
      return { one: () => client.chat.completions.create(body, { signal }) };
    },
  };
}

const contenders = [
  ratewise('ratewise', 'createFetch({ maxConcurrency: C }) as plain fetch (throttle: { coldStart: 1 })', {}),
  ratewise('ratewise-blind', 'createFetch({ maxConcurrency: C, throttle: { coldStart: 0 } })', {
    throttle: { coldStart: 0 },
  }),
  openai('openai-2', 'new OpenAI({ apiKey, baseURL }) (maxRetries 2, the default)', undefined),
  openai('openai-10', 'new OpenAI({ apiKey, baseURL, maxRetries: 10 })', 10),
  {
    name: 'p-retry',
    config: 'pRetry(fn, { retries: 10 }) (defaults: factor 2, minTimeout 1 s, no retry-after); fn throws on 429/5xx',
    make({ url, fetch, signal, body }) {
      const attempt = async () => {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: HEADERS,
          body: JSON.stringify(body),
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
    make({ url, fetch, signal, body }) {
      const retry = { limit: 10, methods: ['post'], statusCodes: [408, 413, 429, 500, 502, 503, 504] };
      return {
        one: async () => {
          try {
            return await ky
              .post(`${url}/v1/chat/completions`, {
                json: body,
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
].filter((c) => CONTENDERS.includes(c.name));

// ---------------------------------------------------------------------------
// A run: one contender's client against one fresh mock, one or more batches
// ---------------------------------------------------------------------------

const TIMED_OUT = Symbol('timed out');

/** Starts a mock and a client; returns { batch(k, capMs), close() }. */
async function startRun(contender, mockOptions, { c, body }) {
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
  const { one, extra } = contender.make({ url: mock.url, fetch: countingFetch, signal: controller.signal, c, body });
  let capped = false;

  /** K requests, C workers pulling from one queue, at most capMs. */
  async function batch(k, capMs) {
    const before = mock.stats();
    const fetchesBefore = fetchLog.length;
    let timer;
    const cap = new Promise((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), capMs);
    });
    const results = [];
    let next = 0;
    const started = Date.now();
    async function worker() {
      while (!capped && next < k) {
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
          return;
        }
        results[i] = { ...outcome, at: Date.now() - started };
      }
    }
    await Promise.all(Array.from({ length: c }, worker));
    const wallMs = Date.now() - started;
    clearTimeout(timer);
    const after = mock.stats();
    const done = results.filter(Boolean);
    const failures = done.filter((r) => !r.ok);
    const errorKinds = {};
    for (const f of failures) errorKinds[f.error] = (errorKinds[f.error] || 0) + 1;
    const byStatus = {};
    for (const [s, n] of Object.entries(after.byStatus)) byStatus[s] = n - (before.byStatus[s] ?? 0);
    const fetches = fetchLog.slice(fetchesBefore);
    const firstBadAnswer = fetches.reduce(
      (m, f) => (f.status !== null && (f.status < 200 || f.status > 299) ? Math.min(m, f.end) : m),
      Number.POSITIVE_INFINITY,
    );
    const sentBefore = fetches.filter((f) => f.start < firstBadAnswer).length;
    return {
      wallMs,
      capped,
      ok: done.filter((r) => r.ok).length,
      failed: failures.length,
      timedOut: k - done.length,
      requests: after.requests - before.requests,
      byStatus,
      clientFetches: fetches.length,
      answered: fetches.filter((f) => f.status !== null).length,
      firstFailure: failures.reduce((m, r) => Math.min(m, r.at), Number.POSITIVE_INFINITY),
      firstBadAnswer: Number.isFinite(firstBadAnswer) ? firstBadAnswer - started : Number.POSITIVE_INFINITY,
      sentBefore,
      sentAfter: fetches.length - sentBefore,
      errorKinds,
      extras: extra?.(),
    };
  }

  async function close() {
    controller.abort(new Error('benchmark run over'));
    await mock.close();
  }
  return { batch, close };
}

// ---------------------------------------------------------------------------
// Warm-up: every client, 40 requests 20 at a time, against an unlimited mock (JIT of the
// clients and of the mock, wasm, sockets), so no contender's first window pays for it
// ---------------------------------------------------------------------------

{
  const warm = await startMock({});
  for (const c of contenders) {
    const { one } = c.make({ url: warm.url, fetch: globalThis.fetch, signal: undefined, c: 20, body: chatBody(0) });
    for (let round = 0; round < 2; round++) await Promise.all(Array.from({ length: 20 }, () => one()));
  }
  await warm.close();
}

// ---------------------------------------------------------------------------
// Report helpers
// ---------------------------------------------------------------------------

const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const kinds = (o) =>
  Object.entries(o)
    .map(([k, v]) => `${v}× ${k}`)
    .join(', ') || '–';
const checks = [];
/** Client-side fetch counts against the mock's: equal, unless calls were cut off in flight at the cap. */
function crossCheck(name, r, scenario, k) {
  if (r.capped ? !(r.answered <= r.requests && r.requests <= r.clientFetches) : r.clientFetches !== r.requests)
    checks.push(
      `${name} (${scenario}): client sent ${r.clientFetches} fetches (${r.answered} answered), mock counted ${r.requests}`,
    );
  if (r.extras && !r.capped && r.extras.stats.calls < k)
    checks.push(`${name} (${scenario}): stats().calls ${r.extras.stats.calls} < ${k}`);
}

// ---------------------------------------------------------------------------
// Scenarios 1 and 2: rate limits of every shape, and a tokens limit, start and steady
// ---------------------------------------------------------------------------

console.log(`# ratewise goodput benchmark`);
console.log(``);
console.log(
  `Node ${process.version}, ratewise from ${fileURLToPath(ratewiseUrl).replace(`${process.cwd()}/`, '')}. ` +
    `floor(start) = (⌈K/L⌉−1) × W + one answer; floor(steady) = K/L × W + one answer (at least ⌈K/C⌉ answers). 429s and network calls are the mock's counts.`,
);
console.log(``);

const rows = [];
const scenarios = [];
for (const shape of SHAPES) {
  for (const latency of LATENCIES) {
    const latencyMs = latency * WINDOW_MS;
    for (const c of CS) {
      scenarios.push({
        label: `${shape} ${L}/${fmtMs(WINDOW_MS)}${latency ? `, answers ${latency} W ± ${JITTER * 100}%` : ''}`,
        shape,
        c,
        k: K,
        perWindow: L,
        windowMs: WINDOW_MS,
        latencyMs,
        mock: { limit: L, windowMs: WINDOW_MS, ...shapeConfig(shape), latencyMs, latencyJitter: latency ? JITTER : 0 },
        body: chatBody(0),
      });
    }
  }
}
if (!args['no-tokens']) {
  const tokensPerCall = Math.ceil('Hello'.length / 4) + MAX_TOKENS;
  const perWindow = Math.floor(TOKEN_LIMIT / tokensPerCall);
  if (perWindow < 1) fail(`--max-tokens ${MAX_TOKENS} does not fit --token-limit ${TOKEN_LIMIT}`);
  for (const c of CS) {
    scenarios.push({
      label: `tokens ${TOKEN_LIMIT}/${fmtMs(TOKEN_WINDOW_MS)}, ${tokensPerCall} a call`,
      shape: 'tokens',
      c,
      k: TOKEN_K,
      perWindow,
      windowMs: TOKEN_WINDOW_MS,
      mock: { limit: 100, windowMs: 1000, tokenLimit: TOKEN_LIMIT, tokenWindowMs: TOKEN_WINDOW_MS },
      body: chatBody(MAX_TOKENS),
    });
  }
}

for (const s of scenarios) {
  // The floor includes one answer's time (and, when concurrency binds, K/C answers').
  const answerMs = s.latencyMs ?? 0;
  const byConcurrency = Math.ceil(s.k / s.c) * answerMs;
  const startFloor = Math.max((Math.ceil(s.k / s.perWindow) - 1) * s.windowMs + answerMs, byConcurrency);
  const steadyFloor = Math.max((s.k / s.perWindow) * s.windowMs + answerMs, byConcurrency);
  for (const contender of contenders) {
    const run = await startRun(contender, s.mock, { c: s.c, body: s.body });
    const start = await run.batch(s.k, capFor(Math.max(startFloor, steadyFloor)));
    const steady = start.capped ? null : await run.batch(s.k, capFor(steadyFloor));
    await run.close();
    const scenario = `${s.label}, C=${s.c}`;
    crossCheck(contender.name, start, `${scenario} start`, s.k);
    if (steady) crossCheck(contender.name, steady, `${scenario} steady`, s.k);
    rows.push({ s, contender: contender.name, start, steady, startFloor, steadyFloor });
    process.stderr.write(`  ${scenario}: ${contender.name} done\n`);
  }
}

const cell = (r, floor) => {
  if (!r) return ['–', '–', '–', '–'];
  const ratio = `${r.capped ? '>' : ''}${(r.wallMs / floor).toFixed(2)}×`;
  const failed = r.failed + r.timedOut;
  return [ratio, String(r.byStatus[429] ?? 0), String(failed), String(r.requests)];
};
console.log(`## Scenarios 1–2: rate limits and a tokens limit; K=${K} (tokens: K=${TOKEN_K}), C workers`);
console.log(``);
console.log(
  '| limit | C | client | start: wall ÷ floor | 429s | failed | network calls | steady: wall ÷ floor | 429s | failed | network calls |',
);
console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const a = cell(r.start, r.startFloor);
  const b = cell(r.steady, r.steadyFloor);
  console.log(`| ${r.s.label} | ${r.s.c} | ${r.contender} | ${a.join(' | ')} | ${b.join(' | ')} |`);
}
console.log(``);
const notes = rows.filter((r) => r.start.failed || r.steady?.failed || r.start.capped);
for (const r of notes) {
  const errs = { ...r.start.errorKinds };
  for (const [k, v] of Object.entries(r.steady?.errorKinds ?? {})) errs[k] = (errs[k] ?? 0) + v;
  console.log(
    `- ${r.s.label}, C=${r.s.c}, ${r.contender}: ${kinds(errs)}${r.start.capped || r.steady?.capped ? ' (hit the cap)' : ''}`,
  );
}
if (notes.length) console.log(``);

// ---------------------------------------------------------------------------
// Scenario 3: quota exhausted
// ---------------------------------------------------------------------------

let rwq = null;
if (!args['no-quota']) {
  const c = CS[0];
  console.log(
    `## Scenario 3: quota exhausted (every request answered 429 insufficient_quota), ${K} requests at concurrency ${c}, cap ${fmtMs(QUOTA_TIMEOUT_MS)}`,
  );
  console.log(``);
  console.log(
    '| client | caller first saw a failure at | network calls (server) | sent before the 1st quota answer arrived | sent after it | failed | unfinished at cap | what the caller saw |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const contender of contenders) {
    const run = await startRun(contender, { quota: true }, { c, body: chatBody(0) });
    const r = await run.batch(K, QUOTA_TIMEOUT_MS);
    await run.close();
    const learned = Number.isFinite(r.firstFailure) ? fmtMs(r.firstFailure) : `never (> ${fmtMs(QUOTA_TIMEOUT_MS)})`;
    console.log(
      `| ${contender.name} | ${learned} | ${r.requests} | ${r.sentBefore} | ${r.sentAfter} | ${r.failed} | ${r.timedOut} | ${kinds(r.errorKinds)} |`,
    );
    crossCheck(contender.name, r, 'quota', K);
    if (r.ok) checks.push(`${contender.name} (quota): ${r.ok} requests "succeeded" against an exhausted quota`);
    if (contender.name === 'ratewise') rwq = r;
  }
  console.log(``);
}

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

const mark = (ok) => (ok ? 'met' : 'NOT met');
for (const name of ['ratewise', 'ratewise-blind'].filter((n) => CONTENDERS.includes(n))) {
  console.log(`## ${name} against the targets`);
  console.log(``);
  console.log(
    '| limit | C | phase | wall ≤ 1.10× floor | ≤ 5% of calls 429 | 0 failed | at least as fast as openai-2 |',
  );
  console.log('|---|---:|---|---|---|---|---|');
  let all = true;
  for (const r of rows.filter((x) => x.contender === name)) {
    const base = rows.find((x) => x.s === r.s && x.contender === 'openai-2');
    for (const phase of ['start', 'steady']) {
      const b = r[phase];
      if (!b) continue;
      const floor = phase === 'start' ? r.startFloor : r.steadyFloor;
      const ratio = b.wallMs / floor;
      const share = b.requests ? (b.byStatus[429] ?? 0) / b.requests : 0;
      const failed = b.failed + b.timedOut;
      // Against openai-2 in the same batch: by wall time when it finished every request too;
      // when it gave up on some, ratewise (which finished them all) is ahead whatever the time.
      const other = base?.[phase];
      let fast = null;
      let versus = '–';
      if (other) {
        const gaveUp = other.failed + other.timedOut;
        fast = failed === 0 && (gaveUp > 0 || b.wallMs <= other.wallMs);
        versus = `${fmtMs(b.wallMs)} vs ${fmtMs(other.wallMs)}${gaveUp ? ` (openai-2 gave up on ${gaveUp})` : ''} ${mark(fast)}`;
      }
      const cells = [
        `${ratio.toFixed(2)}× ${mark(ratio <= 1.1 && !b.capped)}`,
        `${(100 * share).toFixed(1)}% ${mark(share <= 0.05)}`,
        `${failed} ${mark(failed === 0)}`,
        versus,
      ];
      all &&= ratio <= 1.1 && !b.capped && share <= 0.05 && failed === 0 && fast !== false;
      console.log(`| ${r.s.label} | ${r.s.c} | ${phase} | ${cells.join(' | ')} |`);
    }
  }
  console.log(``);
  console.log(`${name}: ${all ? 'every target met' : 'some targets NOT met (see above)'}`);
  console.log(``);
}
if (rwq) {
  const quotaOk = Number.isFinite(rwq.firstFailure) && rwq.sentAfter === 0;
  console.log(
    `Quota: ${rwq.sentBefore} call(s) sent before the first quota answer came back (in flight at once), ${rwq.sentAfter} after it → ${mark(quotaOk)}`,
  );
  console.log(``);
}
console.log(
  checks.length
    ? `CHECKS FAILED:\n${checks.map((c) => `- ${c}`).join('\n')}`
    : 'Cross-checks passed: client-side fetch counts equal the mock request counts for every batch.',
);

// One limit shared by N Worker isolates, with and without the coordinator (bench/isolates.mjs).
if (!args['no-isolates']) {
  const { runIsolates } = await import('./isolates.mjs');
  await runIsolates();
}

process.exit(0);
