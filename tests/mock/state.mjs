/**
 * tests/mock/state.mjs — the mock's state and the rules that change it: config (validated), the
 * fixed rate-limit window, quota-exhausted keys, the failure script and the request stats.
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
  quota: false,
  quotaKeys: [],
  latencyMs: 0,
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

/** The window as the rate-limit headers and bodies describe it. */
export function windowView(state, win) {
  const limit = state.config.limit ?? NOMINAL_REQUEST_LIMIT;
  return {
    limit,
    remaining: Math.max(0, limit - win.used),
    tokensRemaining: Math.max(0, TOKEN_LIMIT - win.used * TOKENS_PER_REQUEST),
    leftMs: win.leftMs,
    used: win.used,
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
  const next = { ...base, mounts: { ...base.mounts }, quotaKeys: [...base.quotaKeys] };
  for (const [key, value] of Object.entries(patch)) {
    switch (key) {
      case 'limit':
        if (value === null || value === undefined || value === Infinity) next.limit = null;
        else if (Number.isInteger(value) && value >= 0) next.limit = value;
        else throw new Error('limit must be a non-negative integer or null');
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
    window: { start: null, count: 0 },
    stats: emptyStats(),
    startedAt: Date.now(),
    hung: new Set(),
    timers: new Set(),
    closed: false,
  };
}

export function setConfig(state, patch) {
  const next = mergeConfig(state.config, patch);
  if (next.limit !== state.config.limit || next.windowMs !== state.config.windowMs) {
    state.window = { start: null, count: 0 };
  }
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
  state.window = { start: null, count: 0 };
  state.stats = emptyStats();
  for (const res of state.hung) res.destroy();
  state.hung.clear();
}

export function statsSnapshot(state) {
  return structuredClone(state.stats);
}

/**
 * Fixed-window admission. Opens a window if none is open, then either counts the
 * request (ok) or reports it as over the limit. `used` is the count after admission.
 */
export function admit(state, now) {
  const w = state.window;
  const { limit, windowMs } = state.config;
  if (w.start === null || now >= w.start + windowMs) {
    w.start = now;
    w.count = 0;
  }
  const leftMs = w.start + windowMs - now;
  if (limit !== null && w.count >= limit) return { ok: false, leftMs, used: w.count };
  w.count += 1;
  return { ok: true, leftMs, used: w.count };
}

export function isQuotaExhausted(config, key) {
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
  });
  if (s.log.length > LOG_CAP) s.log.shift();
  if (!state.config.quiet) process.stderr.write(`[mock] ${ctx.method} ${ctx.path} -> ${status || 'no response'}\n`);
}
