/**
 * tests/mock/http.mjs — HTTP handling: CORS, routing a request to an LLM endpoint (script step ->
 * quota -> window -> 200), the control API (/__mock/*) or a static file.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_MODEL,
  SCRIPTS,
  openaiError,
  quotaResponse,
  rateLimitedResponse,
  rawResponse,
  streamChunks,
  successResponse,
} from './fixtures.mjs';
import {
  admit,
  drawLatencyMs,
  isQuotaExhausted,
  publicConfig,
  recordRequest,
  requestTokens,
  resetState,
  setConfig,
  setScript,
  statsSnapshot,
} from './state.mjs';

export const HOST = '127.0.0.1';

/** Headers a browser page may read when `exposeHeaders` is true. */
const EXPOSED_HEADERS = [
  'retry-after',
  'retry-after-ms',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
  'anthropic-ratelimit-requests-limit',
  'anthropic-ratelimit-requests-remaining',
  'anthropic-ratelimit-requests-reset',
  'anthropic-ratelimit-tokens-limit',
  'anthropic-ratelimit-tokens-remaining',
  'anthropic-ratelimit-tokens-reset',
  'request-id',
  'x-request-id',
  'x-should-retry',
  'openai-processing-ms',
].join(', ');

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

function extractKey(req, url) {
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  const h = req.headers;
  return h['x-api-key'] || h['api-key'] || h['x-goog-api-key'] || url.searchParams.get('key') || null;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Lenient JSON parse for LLM bodies: anything unparsable counts as {}. */
function parseLenient(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}

function sleep(state, ms) {
  if (!ms) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      state.timers.delete(timer);
      resolve();
    }, ms);
    state.timers.add(timer);
  });
}

export function send(res, { status, headers, body }) {
  if (res.destroyed || res.writableEnded) return;
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    ...headers,
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

export const sendJson = (res, status, body) => send(res, { status, headers: {}, body });

function applyCors(state, req, res) {
  const requested = req.headers['access-control-request-headers'];
  res.setHeader('Access-Control-Allow-Origin', '*');
  // '*' does not cover Authorization in browsers, so list it and echo what was asked for.
  res.setHeader('Access-Control-Allow-Headers', ['*', 'authorization', requested].filter(Boolean).join(', '));
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
  if (state.config.exposeHeaders) res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
  if (state.config.preflightMaxAge != null && req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Max-Age', String(state.config.preflightMaxAge));
  }
}

/** The path with the configured gateway prefix removed (a gateway serves the API under it), else as is. */
function unprefixed(config, pathname) {
  const prefix = config.gatewayPrefix;
  return prefix && pathname.startsWith(`${prefix}/`) ? pathname.slice(prefix.length) : pathname;
}

function matchLlmRoute(method, pathname) {
  if (method !== 'POST') return null;
  if (pathname === '/v1/chat/completions') return { provider: 'openai' };
  // Azure OpenAI's classic data plane: /openai/deployments/{deployment}/chat/completions?api-version=…
  // (https://learn.microsoft.com/azure/ai-foundry/openai/reference), the key in the `api-key` header.
  const azure = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(pathname);
  if (azure) return { provider: 'azure', model: decodeURIComponent(azure[1]) };
  if (pathname === '/v1/messages') return { provider: 'anthropic' };
  const gemini = /^\/v1beta\/models\/([^/:]+):generateContent$/.exec(pathname);
  if (gemini) return { provider: 'gemini', model: decodeURIComponent(gemini[1]) };
  return null;
}

async function runScriptStep(state, req, res, entry, ctx) {
  if (entry.delayMs) await sleep(state, entry.delayMs);
  if (entry.name === 'reset') {
    recordRequest(state, ctx, 0);
    req.socket.destroy();
    return;
  }
  if (entry.name === 'hang') {
    recordRequest(state, ctx, 0);
    state.hung.add(res);
    res.on('close', () => state.hung.delete(res));
    return;
  }
  if (entry.raw && Array.isArray(entry.chunks)) {
    recordRequest(state, ctx, entry.status ?? 200);
    return streamRaw(state, res, entry);
  }
  const response = entry.raw ? rawResponse(entry) : SCRIPTS[entry.name](ctx, entry, state.config);
  if (!entry.raw) {
    if (entry.status !== undefined) response.status = entry.status;
    Object.assign(response.headers, entry.headers || {});
  }
  recordRequest(state, ctx, response.status);
  send(res, response);
}

/** A raw scripted answer whose body goes out as `chunks`, `streamGapMs` apart. */
async function streamRaw(state, res, entry) {
  res.writeHead(entry.status ?? 200, { 'content-type': 'text/event-stream; charset=utf-8', ...(entry.headers || {}) });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  for (let i = 0; i < entry.chunks.length; i++) {
    if (i > 0) await sleep(state, state.config.streamGapMs);
    if (res.destroyed) return;
    res.write(entry.chunks[i]);
  }
  res.end();
}

async function streamCompletion(state, res, response, ctx) {
  if (res.destroyed) return;
  const { 'content-type': _ignored, ...headers } = response.headers;
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  const events = streamChunks(ctx.model, ctx.includeUsage);
  for (let i = 0; i < events.length; i++) {
    if (i > 0) await sleep(state, state.config.streamGapMs);
    if (res.destroyed) return;
    if (i === events.length - 1) res.end(events[i]);
    else res.write(events[i]);
  }
}

/** Drops the rate-limit headers (`x-ratelimit-*`, `anthropic-ratelimit-*`) of a canned response. */
function stripRateLimitHeaders(response) {
  for (const name of Object.keys(response.headers)) {
    if (/^(x-ratelimit-|anthropic-ratelimit-)/i.test(name)) delete response.headers[name];
  }
}

async function handleLlm(state, req, res, route, url) {
  const started = Date.now();
  const raw = await readBody(req);
  const body = parseLenient(raw);
  const ctx = {
    bytes: Buffer.byteLength(raw),
    // Azure speaks OpenAI's format; its deployment stands for the model.
    provider: route.provider === 'azure' ? 'openai' : route.provider,
    model: route.model || (typeof body.model === 'string' && body.model) || DEFAULT_MODEL[route.provider],
    stream: body.stream === true,
    // OpenAI sends a last chunk with the usage only when the request asks for it.
    includeUsage: body.stream_options?.include_usage === true,
    key: extractKey(req, url),
    project: req.headers['openai-project'] ?? null,
    // ratewise's own headers (x-ratewise-priority, x-ratewise-budget) must never reach a provider.
    ratewiseHeaders: Object.keys(req.headers).filter((name) => name.startsWith('x-ratewise-')),
    method: req.method,
    path: url.pathname,
    started,
  };
  if (route.provider === 'azure' && !url.searchParams.get('api-version')) {
    // Azure OpenAI answers a data-plane call without a (known) api-version with 404 "Resource not found".
    const response = { status: 404, headers: {}, body: { error: { code: '404', message: 'Resource not found' } } };
    recordRequest(state, ctx, response.status);
    return send(res, response);
  }

  const step = state.script.shift();
  if (step) return runScriptStep(state, req, res, step, ctx);

  if (isQuotaExhausted(state.config, ctx.key, ctx.project)) {
    const response = quotaResponse(ctx);
    recordRequest(state, ctx, response.status);
    return send(res, response);
  }

  const { ok, view } = admit(state, Date.now(), requestTokens(body));
  if (!ok) {
    const response = rateLimitedResponse(ctx, view, state.config.retryAfterStyle);
    if (state.config.rateLimitHeaders === 'none') stripRateLimitHeaders(response);
    recordRequest(state, ctx, response.status);
    return send(res, response);
  }

  recordRequest(state, ctx, 200);
  await sleep(state, drawLatencyMs(state));
  const response = successResponse(ctx, view);
  if (state.config.rateLimitHeaders !== 'always') stripRateLimitHeaders(response);
  if (ctx.provider === 'openai' && ctx.stream) return streamCompletion(state, res, response, ctx);
  send(res, response);
}

async function handleControl(state, req, res, pathname) {
  const op = `${req.method} ${pathname.slice('/__mock/'.length)}`;
  let body = {};
  if (req.method === 'POST') {
    const text = await readBody(req);
    try {
      body = text.trim() ? JSON.parse(text) : {};
    } catch {
      return sendJson(res, 400, { error: 'request body is not valid JSON' });
    }
  }
  try {
    switch (op) {
      case 'GET config':
        return sendJson(res, 200, publicConfig(state.config));
      case 'POST config':
        return sendJson(res, 200, setConfig(state, body));
      case 'GET script':
        return sendJson(res, 200, { pending: state.script.length, steps: state.script });
      case 'POST script':
        return sendJson(res, 200, setScript(state, body.steps));
      case 'POST reset':
        resetState(state);
        return sendJson(res, 200, { ok: true });
      case 'GET stats':
        return sendJson(res, 200, statsSnapshot(state));
      default:
        return sendJson(res, 404, { error: `unknown control endpoint ${op}` });
    }
  } catch (err) {
    return sendJson(res, 400, { error: err.message });
  }
}

/** Resolves root + rel, or null when the result would leave root. */
function containedPath(root, rel) {
  const base = path.resolve(root);
  const full = path.resolve(path.join(base, rel));
  return full === base || full.startsWith(base + path.sep) ? full : null;
}

function resolveStatic(config, pathname) {
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const mounts = Object.entries(config.mounts).sort((a, b) => b[0].length - a[0].length);
  for (const [prefix, dir] of mounts) {
    if (decoded.startsWith(prefix)) return containedPath(dir, decoded.slice(prefix.length));
    if (decoded === prefix.slice(0, -1)) return containedPath(dir, '');
  }
  return config.static ? containedPath(config.static, decoded) : null;
}

function contentType(file) {
  if (file.endsWith('.d.ts')) return 'text/plain; charset=utf-8';
  return CONTENT_TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream';
}

function serveStatic(state, req, res, pathname) {
  let file = resolveStatic(state.config, pathname);
  const notFound = () => sendJson(res, 404, { error: 'not found' });
  if (!file) return notFound();
  fs.stat(file, (err, st) => {
    if (!err && st.isDirectory()) {
      file = path.join(file, 'index.html');
      return fs.stat(file, (err2, st2) => (err2 || !st2.isFile() ? notFound() : streamFile(req, res, file, st2)));
    }
    return err || !st.isFile() ? notFound() : streamFile(req, res, file, st);
  });
}

function streamFile(req, res, file, st) {
  res.writeHead(200, { 'content-type': contentType(file), 'content-length': st.size, 'cache-control': 'no-store' });
  if (req.method === 'HEAD') return res.end();
  fs.createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

export async function handleRequest(state, req, res) {
  const url = new URL(req.url, `http://${HOST}`);
  applyCors(state, req, res);
  if (req.method === 'OPTIONS') {
    state.stats.preflights += 1;
    res.writeHead(204);
    return res.end();
  }
  if (url.pathname.startsWith('/__mock/')) return handleControl(state, req, res, url.pathname);
  const route = matchLlmRoute(req.method, unprefixed(state.config, url.pathname));
  if (route) return handleLlm(state, req, res, route, url);
  if (req.method === 'GET' || req.method === 'HEAD') return serveStatic(state, req, res, url.pathname);
  // Source: OpenAI's answer to an unknown path, e.g. {"error":{"message":"Invalid URL (POST /v1/foo)",...}}
  return sendJson(res, 404, openaiError(`Invalid URL (${req.method} ${url.pathname})`, 'invalid_request_error', null));
}
