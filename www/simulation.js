// The side-by-side simulation, without the page: each contender's run (ratewise's createFetch, and
// a status-only retry loop), what every attempt looked like, and the summary and verdict drawn from
// them. No DOM: timeline.js draws what this returns, and tests/demo/simulation.test.mjs runs it in
// Node against the mock API. Time comes from the `now` a caller passes (ms since the batch started).
import { fmtInt, fmtSeconds, humanMs } from './format.js';

export const CONTENDERS = ['ratewise', 'baseline'];

/** Each input's bounds and default; `clampParams` applies them. */
export const PARAM_BOUNDS = {
  requests: [1, 200, 20],
  concurrency: [1, 50, 5],
  limit: [1, 1000, 5],
  windowMs: [100, 60000, 1000],
  retries: [0, 10, 2],
  latencyMs: [0, 5000, 40],
};

/** Raw form values (strings or numbers) -> whole numbers within bounds; booleans kept. */
export function clampParams(raw) {
  const out = {
    quota: Boolean(raw.quota),
    throttle: raw.throttle !== false,
    fallback: Boolean(raw.fallback),
    budget: Boolean(raw.budget),
  };
  for (const [key, [min, max, dflt]] of Object.entries(PARAM_BOUNDS)) {
    const v = Math.round(Number(raw[key]));
    out[key] = Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : dflt;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The mock's control API
// ---------------------------------------------------------------------------

/** GET (no body) or POST (JSON body) to /__mock/<path>; rejects on a non-2xx answer. */
export async function mockControl(path, body, { fetch = globalThis.fetch, baseUrl = '' } = {}) {
  const init =
    body === undefined
      ? {}
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const res = await fetch(`${baseUrl}/__mock/${path}`, init);
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    throw new Error(`mock ${path} answered ${res.status} ${text}`.trim());
  }
  return res.json();
}

/** The demo's API key, and the second project's key ratewise may fall back to. */
export const DEMO_KEY = 'sk-demo-key';
export const BACKUP_KEY = 'sk-demo-backup';

/**
 * Resets the mock and sets its limit, window, quota mode and latency for one contender's run.
 * The fallback scenario empties only the demo key's account: the backup key still has quota.
 */
export async function prepareMock(params, env = {}) {
  // Open the connections first (control calls are not counted as LLM
  // requests), so neither contender pays for connection setup in its timeline.
  await Promise.all(
    Array.from({ length: Math.min(params.concurrency, 6) }, () => mockControl('config', undefined, env)),
  );
  await mockControl('reset', {}, env);
  await mockControl(
    'config',
    {
      limit: params.limit,
      windowMs: params.windowMs,
      quota: params.quota,
      quotaKeys: params.fallback ? [DEMO_KEY] : [],
      latencyMs: params.latencyMs,
      retryAfterStyle: 'seconds',
    },
    env,
  );
}

// ---------------------------------------------------------------------------
// The runaway batch: two spend budgets, one per tag
// ---------------------------------------------------------------------------

/** The tags of the runaway-batch scenario: every fourth request is interactive, the rest the batch. */
export const BATCH_TAG = 'nightly-batch';
export const INTERACTIVE_TAG = 'interactive';
/** What one of the mock's answers uses: 9 input and 5 output tokens. */
export const TOKENS_PER_ANSWER = 14;
/** The alerts below the cap, as fractions of it. */
export const ALERT_AT = [0.5, 0.8, 0.95];

/** The budget tag of request i in the runaway-batch scenario. */
export const budgetTag = (i) => (i % 4 === 0 ? INTERACTIVE_TAG : BATCH_TAG);

/**
 * The scenario's budgets: the batch may spend half of what its requests would (in tokens, per day),
 * so it meets its cap halfway; interactive traffic has a budget of its own with room for all of it.
 */
export function budgetsFor(params) {
  const batch = Array.from({ length: params.requests }, (_, i) => budgetTag(i)).filter((t) => t === BATCH_TAG).length;
  return [
    {
      name: 'batch',
      tag: BATCH_TAG,
      limitTokens: TOKENS_PER_ANSWER * Math.max(1, Math.ceil(batch / 2)),
      window: 'day',
      alertAt: ALERT_AT,
    },
    { name: 'interactive', tag: INTERACTIVE_TAG, limitTokens: TOKENS_PER_ANSWER * params.requests * 2, window: 'day' },
  ];
}

// ---------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------

/** Runs task(i) for i in 0..n-1, at most `limit` at a time. */
export async function pool(n, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, limit) }, worker));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An empty run: one lane per request, filled in as the requests go. */
export function newRun(contender, params, { id = contender, start = 0 } = {}) {
  return {
    id,
    contender,
    params,
    start,
    end: null,
    lanes: Array.from({ length: params.requests }, (_, i) => ({
      i,
      start: null,
      firstSend: null,
      end: null,
      route: null, // the route of the last attempt (0: the request as sent, 1: the backup key)
      attempts: [],
      outcome: null, // 'ok' | 'failed' | 'alert'
      blocked: false, // stopped by ratewise with no network call
      detail: '',
    })),
    clientCalls: 0,
    alerts: 0,
    shortCircuits: 0,
    server: null,
    stats: null,
    breaker: null,
    extra: {},
  };
}

function chatInit(i, params) {
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_KEY}` },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `Say hello (request ${i + 1})` }],
      // The runaway batch: a call reserves its output cap, as a real batch job would ask for one.
      ...(params?.budget ? { max_tokens: 5 } : {}),
    }),
  };
  // Each call names its budget (ratewise strips the header; the status-only loop just sends it).
  if (params?.budget) init.headers['x-ratewise-budget'] = budgetTag(i);
  return init;
}

const laneUrl = (baseUrl, i) => `${baseUrl}/v1/chat/completions?lane=${i}`;
const laneOf = (url) => Number(new URL(String(url), 'http://lane.invalid').searchParams.get('lane'));

/** The createFetch options the demo uses besides maxRetries and its hooks (shown in its code box). */
export function ratewiseExtras(params) {
  const extras = {
    maxConcurrency: params.concurrency,
    maxQueue: Math.max(params.requests, 1),
    throttle: params.throttle,
    quotaCooldownMs: 60_000,
  };
  // The fallback scenario: a second project's key, used once the first is out of quota.
  if (params.fallback) extras.routes = [{ apiKey: BACKUP_KEY }];
  // The runaway batch: the batch and interactive traffic each on a budget of its own.
  if (params.budget) extras.budgets = budgetsFor(params);
  return extras;
}

/** A value as it would be written in the code box. */
function codeValue(v) {
  if (typeof v === 'number') return v.toLocaleString('en-US').replace(/,/g, '_');
  if (Array.isArray(v)) return `[${v.map(codeValue).join(', ')}]`;
  if (v && typeof v === 'object') {
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${k}: ${codeValue(x)}`)
      .join(', ')} }`;
  }
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/** The code box above ratewise's timeline: what runRatewise passes to createFetch. */
export function ratewiseCode(params) {
  const extra = ratewiseExtras(params);
  return [
    "import { createFetch } from 'ratewise';",
    '',
    'const fetch = createFetch({',
    `  maxRetries: ${params.retries},`,
    ...Object.entries(extra).map(([k, v]) => `  ${k}: ${codeValue(v)},`),
    '  onEvent,           // after every attempt: draws this timeline',
    '  onQuotaExhausted,  // per call that hits an empty account; alerts count firstReport',
    ...(params.budget ? ['  onBudget,          // at 50/80/95% of a budget, with its forecast'] : []),
    '  fetch: countingFetch, // globalThis.fetch that records each network call',
    '});',
    '',
    `// all ${params.requests} calls start at once; maxConcurrency queues them`,
    "await fetch('/v1/chat/completions?lane=N', { method: 'POST', body });",
  ].join('\n');
}

export const BASELINE_CODE = `// What a status-only client does (openai-node's makeRequest / retryRequest):
for (let retriesLeft = maxRetries; ; retriesLeft--) {
  const res = await fetch(url, init);
  const hint = res.headers.get('x-should-retry'); // 'true' | 'false' | null
  const retryable = hint ? hint === 'true'
    : [408, 409, 429].includes(res.status) || res.status >= 500;
  if (res.ok || !retryable || retriesLeft === 0) return res;
  // retry-after-ms, else retry-after (seconds or date),
  // else 0.5 s * 2^n * (1 - 0.25 * random), at most 8 s
  await sleep(retryDelay(res.headers, retriesLeft));
  // the body is never read: a 429 is a 429
}`;

export const baselineCode = (params) => BASELINE_CODE.replace('maxRetries', String(params.retries));

/**
 * (a) The batch through ratewise: every request starts at once and createFetch's
 * maxConcurrency queues them. Fills in `run` as it goes; resolves when all are done.
 * env: { createFetch, isQuotaExhaustedError, now, fetch?, baseUrl? }
 */
export async function runRatewise(run, env) {
  const { createFetch, isQuotaExhaustedError, now, fetch = globalThis.fetch, baseUrl = '' } = env;
  const { params } = run;

  // The fetch ratewise wraps: records every network call, per lane.
  const countingFetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    const lane = run.lanes[laneOf(url)];
    const attempt = { start: now(), end: null, status: null, kind: null, delayMs: null, decision: null };
    lane.attempts.push(attempt);
    lane.firstSend ??= attempt.start;
    run.clientCalls += 1;
    const p = fetch(input, init);
    p.then(
      (res) => {
        attempt.end = now();
        attempt.status = res.status;
      },
      (err) => {
        attempt.end = now();
        attempt.status = 0;
        attempt.error = String(err?.message || err);
      },
    );
    return p;
  };
  const onEvent = (e) => {
    const lane = run.lanes[laneOf(e.url)];
    if (!lane) return;
    const attempt = lane.attempts[e.attempt - 1];
    if (!attempt) {
      lane.blocked = true;
      lane.lastEvent = e;
      return;
    }
    attempt.kind = e.kind;
    attempt.route = e.route;
    lane.route = e.route;
    attempt.action = e.classification?.action;
    attempt.decision = e.decision;
    attempt.delayMs = e.delayMs;
    attempt.stop = e.stop;
    lane.lastEvent = e;
  };
  const onQuotaExhausted = (info) => {
    const lane = run.lanes[laneOf(info.url)];
    // breakerOpen: the open quota breaker answered without a network call;
    // only a real quota response from the server is worth paging someone.
    if (info.breakerOpen === true) {
      run.shortCircuits += 1;
      return;
    }
    // firstReport: once per incident, however many calls were in flight (page a human on these).
    if (info.firstReport) run.alerts += 1;
    if (lane) lane.alertedAt = now();
  };
  // The runaway batch's alerts below the cap, each with its forecast (when the cap is hit at this rate).
  run.budgetAlerts = [];
  const onBudget = (a) =>
    run.budgetAlerts.push({
      budget: a.budget,
      threshold: a.threshold,
      fraction: a.fraction,
      forecast: a.forecast ?? null,
      windowEndsAt: a.windowEndsAt,
      at: now(),
    });

  run.extra = ratewiseExtras(params);
  const rwFetch = createFetch({
    maxRetries: params.retries,
    ...run.extra,
    onEvent,
    onQuotaExhausted,
    ...(params.budget ? { onBudget } : {}),
    fetch: countingFetch,
  });

  const one = async (i) => {
    const lane = run.lanes[i];
    lane.start = now();
    try {
      const res = await rwFetch(laneUrl(baseUrl, i), chatInit(i, params));
      const text = await res.text();
      const kind = lane.lastEvent?.kind;
      lane.status = res.status;
      lane.outcome = res.ok ? 'ok' : kind === 'quota_exhausted' ? 'alert' : 'failed';
      lane.detail = res.ok ? '200 OK' : `${res.status} ${kind || ''}`.trim();
      // A spent budget answers with a local 429 naming it: nothing was sent.
      const stopped = !res.ok && params.budget && budgetStop(text);
      if (stopped) {
        lane.outcome = 'budget';
        lane.detail = `429 budget_exhausted: the "${stopped}" budget is spent`;
      }
    } catch (e) {
      lane.outcome = isQuotaExhaustedError(e) || e?.kind === 'quota_exhausted' ? 'alert' : 'failed';
      lane.detail = `${e?.name || 'Error'}: ${e?.message || e}`;
    }
    if (lane.attempts.length === 0) lane.blocked = true;
    if (params.budget) lane.tag = budgetTag(i);
    lane.end = now();
  };

  await Promise.all(run.lanes.map((_, i) => one(i)));
  run.end = now();
  run.stats = rwFetch.stats();
  run.breaker = rwFetch.breaker();
  return run;
}

/** The budget named by a local budget_exhausted answer's body, else null. */
function budgetStop(text) {
  try {
    const error = JSON.parse(text)?.error;
    return error?.code === 'budget_exhausted' ? error.budget : null;
  } catch {
    return null;
  }
}

/** openai-node's delay: retry-after-ms, retry-after (s or HTTP date), else 0.5 s * 2^n with up to 25 % jitter, max 8 s. */
export function statusOnlyDelay(headers, retriesRemaining, maxRetries, random = Math.random) {
  let ms;
  const msHeader = headers.get('retry-after-ms');
  if (msHeader && !Number.isNaN(Number.parseFloat(msHeader))) ms = Number.parseFloat(msHeader);
  const sHeader = headers.get('retry-after');
  if (sHeader && !ms) {
    const s = Number.parseFloat(sHeader);
    ms = Number.isNaN(s) ? Date.parse(sHeader) - Date.now() : s * 1000;
  }
  if (ms === undefined || Number.isNaN(ms)) {
    const n = maxRetries - retriesRemaining;
    ms = Math.min(0.5 * 2 ** n, 8) * (1 - random() * 0.25) * 1000;
  }
  return Math.max(0, ms);
}

/** openai-node's shouldRetry: x-should-retry if present, else 408, 409, 429 and 5xx. */
export function statusOnlyRetryable(res) {
  const header = res.headers.get('x-should-retry');
  if (header === 'true') return true;
  if (header === 'false') return false;
  return res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500;
}

/**
 * (b) The batch through a status-only retry loop, `concurrency` at a time.
 * env: { now, fetch?, baseUrl?, sleep? }
 */
export async function runBaseline(run, env) {
  const { now, fetch = globalThis.fetch, baseUrl = '' } = env;
  const wait = env.sleep ?? sleep;
  const { params } = run;

  const one = async (i) => {
    const lane = run.lanes[i];
    lane.start = now();
    try {
      for (let left = params.retries; ; left--) {
        const attempt = { start: now(), end: null, status: null, delayMs: null, decision: null };
        lane.attempts.push(attempt);
        lane.firstSend ??= attempt.start;
        run.clientCalls += 1;
        const res = await fetch(laneUrl(baseUrl, i), chatInit(i, params));
        attempt.end = now();
        attempt.status = res.status;
        attempt.kind = res.ok ? 'ok' : `HTTP ${res.status}`;
        if (!res.ok && left > 0 && statusOnlyRetryable(res)) {
          attempt.decision = 'retry';
          attempt.delayMs = statusOnlyDelay(res.headers, left, params.retries);
          await res.body?.cancel();
          await wait(attempt.delayMs);
          continue;
        }
        attempt.decision = 'stop';
        await res.text();
        lane.status = res.status;
        lane.outcome = res.ok ? 'ok' : 'failed';
        lane.detail = res.ok ? '200 OK' : `${res.status}: gave up`;
        break;
      }
    } catch (e) {
      lane.outcome = 'failed';
      lane.detail = String(e?.message || e);
    }
    lane.end = now();
  };
  await pool(params.requests, params.concurrency, one);
  run.end = now();
  return run;
}

/**
 * Runs ratewise's call path a few times against a stub fetch (no network),
 * so one-off start-up costs (JIT, first closures) do not land in the first
 * timed run and make the comparison unfair.
 */
export async function warmUp(createFetch) {
  const answers = [
    () => new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } }),
    () =>
      new Response(
        '{"error":{"message":"Rate limit reached. Please try again in 1ms.","type":"requests","code":"rate_limit_exceeded"}}',
        { status: 429, headers: { 'retry-after-ms': '0' } },
      ),
    () =>
      new Response(
        '{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}',
        { status: 429 },
      ),
  ];
  for (let round = 0; round < 4; round++) {
    for (const answer of answers) {
      const f = createFetch({ maxRetries: 0, fetch: async () => answer(), onEvent() {}, onQuotaExhausted() {} });
      const res = await f('https://warmup.invalid/v1/chat/completions', { method: 'POST', body: '{}' });
      await res.text();
    }
  }
}

// ---------------------------------------------------------------------------
// Timeline geometry and labels
// ---------------------------------------------------------------------------

/** A tick step that puts at most `maxTicks` ticks on `total` ms. */
export function niceStep(total, maxTicks = 8) {
  const steps = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 15000, 30000, 60000];
  return steps.find((s) => total / s <= maxTicks) || 120000;
}

/** The shared time scale of both timelines, ms, rounded up to a whole tick. */
export function scaleMs(runs, nowMs) {
  let t = 1000;
  for (const c of CONTENDERS) {
    const r = runs[c];
    if (!r) continue;
    t = Math.max(t, (r.end ?? nowMs) - r.start);
  }
  const step = niceStep(t);
  return Math.ceil((t * 1.04) / step) * step;
}

/** The CSS class of one attempt's mark: ok, r429, quota, err or pending. */
export function attemptClass(contender, a) {
  if (a.end === null) return 'pending';
  if (a.status >= 200 && a.status < 300) return 'ok';
  if (contender === 'ratewise') {
    if (a.kind === 'quota_exhausted' || a.action === 'alert') return 'quota';
    if (a.kind === 'rate_limit' || (a.kind === null && a.status === 429)) return 'r429';
    return 'err';
  }
  return a.status === 429 ? 'r429' : 'err';
}

/** The tooltip of attempt number n. */
export function attemptTitle(contender, a, n) {
  const parts = [`attempt ${n}`];
  if (a.end === null) parts.push('in flight');
  else {
    parts.push(a.status ? `HTTP ${a.status}` : 'no response');
    if (contender === 'ratewise' && a.kind) parts.push(a.kind);
    parts.push(`${Math.round(a.end - a.start)} ms`);
  }
  if (a.route > 0) parts.push(`route ${a.route} (the backup key)`);
  if (a.decision === 'retry' && a.delayMs !== null) parts.push(`then wait ${Math.round(a.delayMs)} ms`);
  if (a.decision === 'stop' && a.stop) parts.push(`stop: ${a.stop}`);
  return parts.join(' · ');
}

/** Changes exactly when a lane's drawing would change. */
export function laneSignature(lane) {
  return [
    lane.start !== null,
    lane.firstSend !== null,
    lane.end !== null,
    lane.outcome,
    ...lane.attempts.map((a) => `${a.end !== null}${a.kind}${a.decision}${a.route ?? ''}`),
  ].join('|');
}

// ---------------------------------------------------------------------------
// Summary and verdict
// ---------------------------------------------------------------------------

/** One contender's row of numbers; null where the run has not finished (or the mock has not answered). */
export function summarize(run) {
  if (!run) return null;
  const lanes = run.lanes;
  const done = run.end !== null;
  const retries = lanes.reduce((n, l) => n + Math.max(0, l.attempts.length - 1), 0);
  return {
    wall: done ? run.end - run.start : null,
    calls: run.server ? run.server.requests : null,
    r429: run.server ? (run.server.byStatus?.['429'] ?? 0) : null,
    retries: done ? retries : null,
    succeeded: done ? lanes.filter((l) => l.outcome === 'ok').length : null,
    // A request its budget stopped is the budget working, not a failure: it has a row of its own.
    failures: done ? lanes.filter((l) => l.outcome && l.outcome !== 'ok' && l.outcome !== 'budget').length : null,
    alerts: run.contender === 'ratewise' ? (done ? run.alerts : null) : 'n/a',
    shortcircuits:
      run.contender === 'ratewise'
        ? done
          ? lanes.filter((l) => l.blocked && l.outcome === 'alert').length
          : null
        : 'n/a',
    blocked: lanes.filter((l) => l.blocked).length,
    // Requests answered by a fallback route (the backup key).
    backup:
      run.contender === 'ratewise'
        ? done
          ? lanes.filter((l) => l.outcome === 'ok' && l.route > 0).length
          : null
        : 'n/a',
    // The runaway batch: requests a spent budget stopped (no network call), and tokens the answers used.
    budgetStopped:
      run.contender === 'ratewise' ? (done ? lanes.filter((l) => l.outcome === 'budget').length : null) : 'n/a',
    clientCalls: run.clientCalls,
  };
}

const LOWER_IS_BETTER = ['wall', 'calls', 'r429', 'retries', 'failures'];

/** Which contender did better on each row, once both have finished: [{ key, better, worse }]. */
export function compareSummaries(s) {
  const out = [];
  if (s.ratewise?.wall == null || s.baseline?.wall == null) return out;
  const pick = (key, ratewiseBetter) =>
    out.push({
      key,
      better: ratewiseBetter ? 'ratewise' : 'baseline',
      worse: ratewiseBetter ? 'baseline' : 'ratewise',
    });
  for (const key of LOWER_IS_BETTER) {
    const a = s.ratewise[key];
    const b = s.baseline[key];
    if (typeof a !== 'number' || typeof b !== 'number' || a === b) continue;
    if (key === 'wall' && Math.abs(a - b) < 100) continue;
    pick(key, a < b);
  }
  const a = s.ratewise.succeeded;
  const b = s.baseline.succeeded;
  if (a !== b) out.push({ key: 'succeeded', better: a > b ? 'ratewise' : 'baseline', worse: null });
  return out;
}

/** The sentence under the summary, or null until both contenders have the mock's counts. */
export function verdict(s, runs, nowEpochMs = Date.now()) {
  const rw = s.ratewise;
  const base = s.baseline;
  if (!rw || !base || rw.calls === null || base.calls === null) return null;
  const run = runs.ratewise;
  const params = run.params;
  const plural = (n, w) => `${fmtInt(n)} ${w}${n === 1 ? '' : 's'}`;
  let text;
  if (params.budget) return { text: budgetVerdict(run, runs.baseline), mode: 'budget' };
  if (params.fallback) {
    const straight = run.lanes.filter((l) => l.route > 0 && l.attempts.every((a) => a.route > 0)).length;
    text =
      `The demo key is out of quota: ratewise answered ${plural(rw.succeeded, 'request')} of ${params.requests}, ` +
      `${fmtInt(rw.backup)} through the backup key (route 1), with ${plural(rw.calls, 'network call')} and ${plural(rw.alerts, 'alert')}; ` +
      `${plural(straight, 'request')} went straight to the backup, as the quota breaker kept them off the empty account. ` +
      `The status-only loop has one key: it made ${plural(base.calls, 'network call')} and answered ${plural(base.succeeded, 'request')}.`;
    return { text, mode: 'fallback' };
  }
  if (params.quota) {
    const firstAlert = run.lanes
      .map((l) => l.alertedAt)
      .filter((t) => t !== undefined)
      .sort((x, y) => x - y)[0];
    const when = firstAlert !== undefined ? ` ${humanMs(firstAlert - run.start)} in` : '';
    text =
      `Empty account: ratewise raised the alert${when}, after the first answer, and made ${plural(rw.calls, 'network call')}` +
      (rw.blocked
        ? ` (${rw.blocked} calls stopped by the breaker without touching the network)`
        : ' (one per request, none retried)') +
      `. The status-only loop cannot tell a quota from a rate limit: it made ${plural(base.calls, 'network call')} in ${fmtSeconds(base.wall)}, and no one was told.`;
    const open = run.breaker;
    if (Array.isArray(open) && open.length) {
      const next = Math.max(0, (open[0].retryAtMs ?? nowEpochMs) - nowEpochMs);
      text += ` fetch.breaker() lists ${plural(open.length, 'key')} as ${open[0].state ?? 'open'}; the next probe may go in ${humanMs(next)}.`;
    }
  } else {
    let paced = '';
    if (run.extra.throttle && rw.r429 < base.r429) {
      paced =
        ' Its throttle read the x-ratelimit headers instead of learning the limit from 429s: one call went first, ' +
        'the rest of the window after its answer, and each later window at its reset';
      paced +=
        rw.wall > base.wall + 100
          ? `, ${fmtSeconds(rw.wall - base.wall)} behind the loop's retries on this run.`
          : ', as fast as the retries with fewer calls.';
    }
    text =
      `Rate limit of ${params.limit} per ${humanMs(params.windowMs)}: ratewise finished in ${fmtSeconds(rw.wall)} with ${plural(rw.calls, 'network call')} ` +
      `and ${plural(rw.r429, '429')}; the status-only loop took ${fmtSeconds(base.wall)}, ${plural(base.calls, 'call')} and ${plural(base.r429, '429')}` +
      (base.failures ? `, and gave up on ${plural(base.failures, 'request')}.` : '.') +
      (rw.failures ? ` ratewise gave up on ${plural(rw.failures, 'request')}.` : '') +
      paced;
  }
  return { text, mode: params.quota ? 'quota' : 'rate' };
}

/** The runaway batch's sentence: the batch stopped at its cap, interactive traffic untouched, the alerts. */
export function budgetVerdict(run, baseline) {
  const plural = (n, w) => `${fmtInt(n)} ${w}${n === 1 ? '' : 's'}`;
  const batch = run.lanes.filter((l) => l.tag === BATCH_TAG);
  const interactive = run.lanes.filter((l) => l.tag === INTERACTIVE_TAG);
  const stopped = batch.filter((l) => l.outcome === 'budget').length;
  const cap = run.extra.budgets?.[0]?.limitTokens ?? 0;
  const alerts = (run.budgetAlerts ?? []).filter((a) => a.budget === 'batch');
  const early = alerts.some((a) => a.threshold === null);
  const said = alerts
    .filter((a) => typeof a.threshold === 'number')
    .map((a) => {
      const pct = `${Math.round(a.threshold * 100)}%`;
      if (typeof a.forecast !== 'number') return pct;
      const left = a.forecast - Date.now();
      return left > 0 ? `${pct} (cap at this rate in ${humanMs(left)})` : `${pct} (at the cap)`;
    });
  const sent = baseline ? baseline.lanes.filter((l) => l.attempts.length > 0).length : null;
  return (
    `Runaway batch: its budget (${fmtInt(cap)} tokens a day) stopped ${plural(stopped, 'request')} of ${batch.length} at the cap, ` +
    `with no network call; the ${plural(interactive.length, 'interactive request')} on their own budget ` +
    `${interactive.every((l) => l.outcome === 'ok') ? 'all answered' : 'did not all answer'}. ` +
    (said.length ? `onBudget alerted below the cap at ${said.join(', ')}. ` : 'No alert fired. ') +
    (early ? 'Its forecast also warned that the cap comes before the day ends. ' : '') +
    (sent === null ? '' : `The status-only loop has no budget: it sent all ${plural(sent, 'request')}.`)
  );
}
