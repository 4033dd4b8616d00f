/**
 * tests/mock/state.mjs — the mock's state and the rules that change it: config (validated), the
 * rate limits (requests and tokens, of one shape: fixed window, sliding log or token bucket),
 * quota-exhausted keys, the failure script and the request stats.
 * No HTTP here: tests/mock/http.mjs reads and updates this state for each request.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { SCRIPT_NAMES, TOKEN_LIMIT, TOKENS_PER_REQUEST } from './fixtures.mjs';

const NOMINAL_REQUEST_LIMIT = 10000; // reported as the request limit when `limit` is unlimited
const LOG_CAP = 10000; // stats.log keeps the newest entries only

export const DEFAULTS = Object.freeze({
  port: 0,
  limit: null, // null = unlimited
  windowMs: 1000,
  shape: 'fixed', // 'fixed' | 'aligned' | 'sliding' | 'sliding-next' | 'bucket': how the limits refill
  rateLimitHeaders: 'always', // 'always' | 'on429' | 'none': which answers carry the rate-limit headers
  tokenLimit: null, // tokens per tokenWindowMs; null = not enforced (a nominal limit is reported)
  tokenWindowMs: null, // null = windowMs
  quota: false,
  quotaKeys: [],
  quotaProjects: [], // OpenAI-Project values whose quota is gone (any key)
  latencyMs: 0,
  latencyJitter: 0, // each answer takes latencyMs × (1 ± latencyJitter), drawn from a seeded generator
  seed: 1,
  streamGapMs: 50,
  retryAfterStyle: 'seconds', // 'seconds' | 'ms' | 'none'
  exposeHeaders: true,
  preflightMaxAge: null, // seconds for Access-Control-Max-Age; null = header omitted
  static: null,
  mounts: {},
  gatewayPrefix: null, // e.g. '/openai': the LLM endpoints are also served under it, as by a gateway
  quiet: true,
});

/** First 8 hex chars of sha256(key); the raw key is never stored. */
export function hashKey(key) {
  return crypto.createHash('sha256').update(key).digest('hex').slice(0, 8);
}

export const SHAPES = ['fixed', 'aligned', 'sliding', 'sliding-next', 'bucket'];
export const RATE_LIMIT_HEADERS = ['always', 'on429', 'none'];

/** A seeded xorshift32 draw in [0, 1): latencies are reproducible from `seed`. */
export function drawLatencyMs(state) {
  const { latencyMs, latencyJitter, seed } = state.config;
  if (!latencyJitter) return latencyMs;
  let x = state.rng ?? (seed >>> 0 || 1);
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  state.rng = x;
  return latencyMs * (1 + latencyJitter * (2 * (x / 2 ** 32) - 1));
}

const isSliding = (m) => m.shape === 'sliding' || m.shape === 'sliding-next';

// ---------------------------------------------------------------------------
// Rate limits: one meter per limit (requests, tokens), all of the configured shape
// ---------------------------------------------------------------------------

/**
 * A limit of `limit` units per `windowMs`, refilled as `shape` says:
 * - fixed: a window opens at the first request that finds none open and lasts windowMs; it
 *   refills all at once when it ends;
 * - aligned: a fixed window aligned to the clock (starting at multiples of windowMs);
 * - sliding: at most `limit` units in any windowMs (a log of what was admitted, and when);
 * - sliding-next: a sliding log whose reset says when its oldest entry leaves (the next slot);
 * - bucket: a bucket of `limit` units refilled continuously at limit per windowMs (GCRA).
 * `enforce: false` counts and reports but never refuses (the nominal limits).
 */
function newMeter(shape, limit, windowMs, now, enforce = true) {
  return { shape, limit, windowMs, enforce, start: null, used: 0, log: [], level: limit, at: now };
}

function refresh(m, now) {
  if (m.shape === 'fixed') {
    if (m.start !== null && now >= m.start + m.windowMs) {
      m.start = null;
      m.used = 0;
    }
    // A window opens at the first request that finds none open, admitted or not.
    m.start ??= now;
  } else if (m.shape === 'aligned') {
    const start = Math.floor(now / m.windowMs) * m.windowMs;
    if (m.start !== start) {
      m.start = start;
      m.used = 0;
    }
  } else if (isSliding(m)) {
    let drop = 0;
    while (drop < m.log.length && m.log[drop].t <= now - m.windowMs) drop++;
    if (drop) {
      m.log.splice(0, drop);
      m.used = m.log.reduce((sum, e) => sum + e.n, 0);
    }
  } else {
    m.level = Math.min(m.limit, m.level + ((now - m.at) * m.limit) / m.windowMs);
    m.at = now;
  }
}

/** How long until `n` units fit, ms (0: now). */
function waitFor(m, now, n) {
  if (!m.enforce) return 0;
  if (m.shape === 'fixed' || m.shape === 'aligned')
    return m.used + n <= m.limit ? 0 : (m.start ?? now) + m.windowMs - now;
  if (isSliding(m)) {
    let over = m.used + n - m.limit;
    if (over <= 0) return 0;
    for (const e of m.log) {
      over -= e.n;
      if (over <= 0) return e.t + m.windowMs - now;
    }
    return m.windowMs;
  }
  return m.level >= n ? 0 : ((n - m.level) * m.windowMs) / m.limit;
}

function take(m, now, n) {
  if (m.shape === 'fixed' || m.shape === 'aligned') {
    m.start ??= now;
    m.used += n;
  } else if (isSliding(m)) {
    m.log.push({ t: now, n });
    m.used += n;
  } else {
    m.level -= n;
  }
}

/** What the headers report: what is left, and how long until the limit is back to its initial state. */
function meterView(m, now) {
  if (m.shape === 'bucket') {
    return { remaining: Math.max(0, Math.floor(m.level)), resetMs: ((m.limit - m.level) * m.windowMs) / m.limit };
  }
  let resetMs = 0;
  if ((m.shape === 'fixed' || m.shape === 'aligned') && m.start !== null) resetMs = m.start + m.windowMs - now;
  if (m.shape === 'sliding' && m.log.length) resetMs = m.log[m.log.length - 1].t + m.windowMs - now;
  if (m.shape === 'sliding-next' && m.log.length) resetMs = m.log[0].t + m.windowMs - now;
  return { remaining: Math.max(0, m.limit - m.used), resetMs };
}

function meters(state, now) {
  const { shape, limit, windowMs, tokenLimit, tokenWindowMs } = state.config;
  state.meters ??= {
    requests: newMeter(shape, limit ?? NOMINAL_REQUEST_LIMIT, windowMs, now, limit !== null),
    tokens:
      tokenLimit === null
        ? null // nominal: TOKENS_PER_REQUEST per request served, from the requests meter
        : newMeter(shape, tokenLimit, tokenWindowMs ?? windowMs, now),
  };
  return state.meters;
}

/**
 * Tokens a request is charged: the characters of its prompt text ÷ 4 (every string member but
 * names, ids and payloads) plus the output it asks for (max_tokens, max_completion_tokens,
 * max_output_tokens, generationConfig.maxOutputTokens), as OpenAI counts a request against its
 * token limit before answering it.
 */
const NOT_TEXT = new Set([
  'model',
  'role',
  'type',
  'id',
  'tool_call_id',
  'url',
  'image_url',
  'data',
  'b64_json',
  'file_data',
  'file_id',
  'media_type',
  'mime_type',
  'mimeType',
]);
const OUTPUT_KEYS = new Set(['max_tokens', 'max_completion_tokens', 'max_output_tokens', 'maxOutputTokens']);

export function requestTokens(body) {
  let chars = 0;
  let output = 0;
  const walk = (value, key) => {
    if (typeof value === 'string') {
      if (!NOT_TEXT.has(key)) chars += [...value].length;
    } else if (typeof value === 'number') {
      if (OUTPUT_KEYS.has(key) && Number.isInteger(value)) output = Math.max(output, value);
    } else if (Array.isArray(value)) {
      for (const item of value) walk(item, key);
    } else if (value && typeof value === 'object' && !NOT_TEXT.has(key)) {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(body, null);
  return Math.ceil(chars / 4) + output;
}

/**
 * Admits one LLM request at `now` that is charged `tokens`: `ok` when every limit has room (and
 * then it is counted), and the view the rate-limit headers and bodies describe.
 */
export function admit(state, now, tokens = 0) {
  const m = meters(state, now);
  refresh(m.requests, now);
  if (m.tokens) refresh(m.tokens, now);
  const requestWait = waitFor(m.requests, now, 1);
  const tokenWait = m.tokens ? waitFor(m.tokens, now, Math.min(tokens, m.tokens.limit)) : 0;
  const ok = requestWait === 0 && tokenWait === 0;
  if (ok) {
    take(m.requests, now, 1);
    if (m.tokens) take(m.tokens, now, tokens);
  }
  const r = meterView(m.requests, now);
  const t = m.tokens ? meterView(m.tokens, now) : null;
  return {
    ok,
    view: {
      limit: m.requests.limit,
      remaining: r.remaining,
      leftMs: r.resetMs,
      used: m.requests.limit - r.remaining,
      tokenLimit: m.tokens ? m.tokens.limit : TOKEN_LIMIT,
      tokensRemaining: t ? t.remaining : Math.max(0, TOKEN_LIMIT - m.requests.used * TOKENS_PER_REQUEST),
      tokenResetMs: t ? t.resetMs : r.resetMs,
      tokensUsed: t ? m.tokens.limit - t.remaining : m.requests.used * TOKENS_PER_REQUEST,
      requested: tokens,
      // Refused: which limit, and how long until this request would fit.
      exceeded: ok ? null : tokenWait > requestWait ? 'tokens' : 'requests',
      waitMs: Math.max(requestWait, tokenWait),
    },
  };
}

/** Normalises one script step to an object and validates it; throws on a bad step. */
function normalizeStep(step) {
  const entry = typeof step === 'string' ? { name: step } : step;
  if (!entry || typeof entry !== 'object') throw new Error(`invalid script step: ${JSON.stringify(step)}`);
  const raw =
    entry.body !== undefined || entry.chunks !== undefined || (entry.status !== undefined && entry.name === undefined);
  if (raw) {
    if (!Number.isInteger(entry.status ?? 200)) throw new Error('raw script step needs an integer status');
    return { ...entry, raw: true };
  }
  if (!SCRIPT_NAMES.includes(entry.name)) {
    throw new Error(`unknown script step "${entry.name}"; known: ${SCRIPT_NAMES.join(', ')}`);
  }
  return { ...entry, raw: false };
}

function normalizeMounts(mounts) {
  const out = {};
  for (const [prefix, dir] of Object.entries(mounts || {})) {
    let p = prefix.startsWith('/') ? prefix : `/${prefix}`;
    if (!p.endsWith('/')) p += '/';
    out[p] = path.resolve(String(dir));
  }
  return out;
}

/** Merges a patch into a config, validating every field it touches. */
function mergeConfig(base, patch = {}) {
  const next = {
    ...base,
    mounts: { ...base.mounts },
    quotaKeys: [...base.quotaKeys],
    quotaProjects: [...base.quotaProjects],
  };
  for (const [key, value] of Object.entries(patch)) {
    switch (key) {
      case 'limit':
        if (value === null || value === undefined || value === Infinity) next.limit = null;
        else if (Number.isInteger(value) && value >= 0) next.limit = value;
        else throw new Error('limit must be a non-negative integer or null');
        break;
      case 'shape':
        if (!SHAPES.includes(value)) throw new Error(`shape must be one of ${SHAPES.join(', ')}`);
        next.shape = value;
        break;
      case 'tokenLimit':
        if (value === null || value === undefined || value === Infinity) next.tokenLimit = null;
        else if (Number.isInteger(value) && value > 0) next.tokenLimit = value;
        else throw new Error('tokenLimit must be a positive integer or null');
        break;
      case 'tokenWindowMs':
        if (value === null || value === undefined) next.tokenWindowMs = null;
        else if (Number.isFinite(value) && value > 0) next.tokenWindowMs = value;
        else throw new Error('tokenWindowMs must be a positive number or null');
        break;
      case 'rateLimitHeaders':
        if (!RATE_LIMIT_HEADERS.includes(value))
          throw new Error(`rateLimitHeaders must be one of ${RATE_LIMIT_HEADERS.join(', ')}`);
        next.rateLimitHeaders = value;
        break;
      case 'latencyJitter':
        if (!(Number.isFinite(value) && value >= 0 && value <= 1))
          throw new Error('latencyJitter must be a number from 0 to 1');
        next.latencyJitter = value;
        break;
      case 'seed':
        if (!Number.isInteger(value)) throw new Error('seed must be an integer');
        next.seed = value;
        break;
      case 'windowMs':
      case 'latencyMs':
      case 'streamGapMs':
        if (!(Number.isFinite(value) && value >= 0)) throw new Error(`${key} must be a non-negative number`);
        if (key === 'windowMs' && value === 0) throw new Error('windowMs must be > 0');
        next[key] = value;
        break;
      case 'quota':
      case 'exposeHeaders':
      case 'quiet':
        next[key] = Boolean(value);
        break;
      case 'quotaKeys':
        if (!Array.isArray(value)) throw new Error('quotaKeys must be an array of keys');
        next.quotaKeys = value.map(String);
        break;
      case 'quotaProjects':
        if (!Array.isArray(value)) throw new Error('quotaProjects must be an array of OpenAI-Project ids');
        next.quotaProjects = value.map(String);
        break;
      case 'retryAfterStyle':
        if (!['seconds', 'ms', 'none'].includes(value))
          throw new Error("retryAfterStyle must be 'seconds', 'ms' or 'none'");
        next.retryAfterStyle = value;
        break;
      case 'preflightMaxAge':
        next.preflightMaxAge = value == null ? null : Number(value);
        break;
      case 'static':
        next.static = value ? path.resolve(String(value)) : null;
        break;
      case 'mounts':
        next.mounts = normalizeMounts(value);
        break;
      case 'port':
        next.port = value;
        break;
      case 'gatewayPrefix':
        if (value == null || value === '') next.gatewayPrefix = null;
        else if (typeof value === 'string' && /^(\/[\w.~-]+)+$/.test(value)) next.gatewayPrefix = value;
        else throw new Error("gatewayPrefix must be a path such as '/openai' (no trailing slash) or null");
        break;
      default:
        throw new Error(`unknown option "${key}"`);
    }
  }
  return next;
}

/** Config as reported by the control API: quota keys appear only as hashes. */
export function publicConfig(config) {
  const { quotaKeys, ...rest } = config;
  return { ...rest, quotaKeys: quotaKeys.map(hashKey) };
}

function emptyStats() {
  return { requests: 0, byStatus: {}, byPath: {}, preflights: 0, log: [] };
}

export function createState(options) {
  const config = mergeConfig(DEFAULTS, options);
  return {
    startupConfig: config,
    config,
    script: [],
    meters: null, // created at the first LLM request, from the config
    stats: emptyStats(),
    startedAt: Date.now(),
    hung: new Set(),
    timers: new Set(),
    closed: false,
  };
}

export function setConfig(state, patch) {
  const next = mergeConfig(state.config, patch);
  const limits = ['limit', 'windowMs', 'shape', 'tokenLimit', 'tokenWindowMs'];
  if (limits.some((k) => next[k] !== state.config[k])) state.meters = null;
  if (next.seed !== state.config.seed) state.rng = undefined;
  state.config = next;
  return publicConfig(next);
}

export function setScript(state, steps) {
  if (!Array.isArray(steps)) throw new Error('steps must be an array');
  state.script = steps.map(normalizeStep);
  return { pending: state.script.length };
}

export function resetState(state) {
  state.config = state.startupConfig;
  state.script = [];
  state.meters = null;
  state.rng = undefined;
  state.stats = emptyStats();
  for (const res of state.hung) res.destroy();
  state.hung.clear();
}

export function statsSnapshot(state) {
  return structuredClone(state.stats);
}

export function isQuotaExhausted(config, key, project = null) {
  // A project out of quota is out whatever the key (OpenAI bills projects separately).
  if (project !== null && config.quotaProjects.includes(project)) return true;
  // A non-empty quotaKeys list takes precedence: only those keys are exhausted.
  if (config.quotaKeys.length) return key !== null && config.quotaKeys.includes(key);
  return config.quota;
}

export function recordRequest(state, ctx, status) {
  const s = state.stats;
  s.requests += 1;
  s.byStatus[status] = (s.byStatus[status] || 0) + 1;
  s.byPath[ctx.path] = (s.byPath[ctx.path] || 0) + 1;
  s.log.push({
    t: ctx.started - state.startedAt,
    method: ctx.method,
    path: ctx.path,
    status,
    bytes: ctx.bytes ?? 0, // request body size: shows a replayed body was not re-sent empty
    key: ctx.key ? hashKey(ctx.key) : null,
    project: ctx.project ?? null,
    ratewiseHeaders: ctx.ratewiseHeaders ?? [], // names of the x-ratewise-* headers received
  });
  if (s.log.length > LOG_CAP) s.log.shift();
  if (!state.config.quiet) process.stderr.write(`[mock] ${ctx.method} ${ctx.path} -> ${status || 'no response'}\n`);
}
