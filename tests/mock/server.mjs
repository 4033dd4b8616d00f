/**
 * tests/mock/server.mjs — a mock LLM API for ratewise's tests, benchmarks and demo page.
 *
 * A real HTTP server (node:http, no npm dependencies, binds 127.0.0.1 only) that speaks
 * just enough of three provider APIs to exercise failure classification and retries:
 *
 *   POST /v1/chat/completions                     OpenAI chat completions (JSON or SSE stream)
 *   POST /v1/messages                             Anthropic Messages
 *   POST /v1beta/models/<model>:generateContent   Gemini generateContent
 *
 * Every canned error body and header below copies what the providers really send; each
 * one carries a comment naming where the exact text was observed or documented.
 *
 * Behaviour of an LLM request, in order:
 *   1. the next entry of the FIFO failure script, if any (see SCRIPTS);
 *   2. quota-exhausted mode (`quota`, `quotaKeys`);
 *   3. the fixed-window rate limit (`limit` per `windowMs`);
 *   4. otherwise a 200 after `latencyMs`.
 *
 * Rate-limit window: a window OPENS at the first LLM request that finds no open window
 * (after start, after reset(), or once the previous window has expired) and lasts
 * `windowMs`. Only requests answered 200 consume the window; scripted, quota and 429
 * responses do not. Changing `limit` or `windowMs` closes the current window.
 *
 * Control API (JSON): POST /__mock/config, POST /__mock/script, POST /__mock/reset,
 * GET /__mock/stats, GET /__mock/config, GET /__mock/script. Same operations in-process
 * through the object returned by startMock().
 *
 * Also serves static files (`static`, `mounts`) and answers CORS for everything.
 * CLI: node tests/mock/server.mjs [--port N] [--limit N] [--window-ms N] [--quota]
 *      [--static DIR] [--mount /pkg/=DIR] [--latency-ms N] [--stream-gap-ms N]
 *      [--retry-after-style seconds|ms|none] [--no-expose-headers] [--quiet]
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

const HOST = '127.0.0.1';
const OPENAI_ORG = 'org-mock';
const ANTHROPIC_ORG = '7e57e57e-0000-4000-8000-00000000c0de';
const TOKEN_LIMIT = 150000; // fixed nominal tokens-per-window limit
const TOKENS_PER_REQUEST = 100; // nominal tokens charged per served request
const NOMINAL_REQUEST_LIMIT = 10000; // reported as the request limit when `limit` is unlimited
const DEFAULT_SCRIPTED_WAIT_MS = 1000; // wait advertised by scripted rate-limit entries
const LOG_CAP = 10000; // stats.log keeps the newest entries only
const REPLY_TEXT = 'Hello from the mock';
const STREAM_PIECES = ['Hello', ' from', ' the', ' mock'];

const DEFAULT_MODEL = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-3-5-haiku-latest',
  gemini: 'gemini-2.0-flash',
};

const DEFAULTS = Object.freeze({
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
  quiet: true,
});

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

// ---------------------------------------------------------------------------
// Small helpers: ids, durations, timestamps, keys
// ---------------------------------------------------------------------------

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomAlnum(length) {
  const bytes = crypto.randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALNUM[b % ALNUM.length];
  return out;
}

const openaiRequestId = () => `req_${crypto.randomBytes(16).toString('hex')}`;
const anthropicRequestId = () => `req_011C${randomAlnum(20)}`;

/** Trims a number of seconds to at most 3 decimals: 59.5600001 -> "59.56". */
const trimSeconds = (s) => String(Number(s.toFixed(3)));

/**
 * OpenAI's Go-style duration, as in x-ratelimit-reset-requests and the
 * "Please try again in ..." text: "20ms", "1s", "13.694s", "2m59.56s", "6m0s".
 */
export function openaiDuration(ms) {
  const total = Math.max(0, Math.round(ms));
  if (total < 1000) return `${total}ms`;
  let seconds = total / 1000;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const secPart = `${trimSeconds(seconds)}s`;
  if (hours) return `${hours}h${minutes}m${secPart}`;
  if (minutes) return `${minutes}m${secPart}`;
  return secPart;
}

/**
 * Gemini RetryInfo.retryDelay: whole seconds, truncated, as the real API does
 * (message "Please retry in 58.934310785s" came with retryDelay "58s",
 * googleapis/python-genai#2114). Below one second we send fractional seconds
 * ("0.539477544s" style, seen in google-gemini/gemini-cli googleQuotaErrors.test.ts)
 * rather than a misleading "0s".
 */
function geminiRetryDelay(ms) {
  if (ms >= 1000) return `${Math.floor(ms / 1000)}s`;
  return `${trimSeconds(Math.max(ms, 1) / 1000)}s`;
}

/** RFC 3339 UTC timestamp rounded UP to the second (Anthropic *-reset headers). */
function rfc3339Ceil(epochMs) {
  return new Date(Math.ceil(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** First 8 hex chars of sha256(key); the raw key is never stored. */
export function hashKey(key) {
  return crypto.createHash('sha256').update(key).digest('hex').slice(0, 8);
}

function extractKey(req, url) {
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  return req.headers['x-api-key'] || req.headers['x-goog-api-key'] || url.searchParams.get('key') || null;
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

// ---------------------------------------------------------------------------
// Retry-after and rate-limit headers
// ---------------------------------------------------------------------------

/** retry-after / retry-after-ms as explicitly requested by a script entry (or none). */
function explicitRetryHeaders(entry) {
  const headers = {};
  if (entry.retryAfter != null) headers['retry-after'] = String(entry.retryAfter);
  if (entry.retryAfterMs != null) {
    headers['retry-after-ms'] = String(entry.retryAfterMs);
    if (entry.retryAfter == null) headers['retry-after'] = String(Math.max(1, Math.ceil(entry.retryAfterMs / 1000)));
  }
  return headers;
}

/**
 * retry-after headers for a rate-limit 429: an entry's explicit values win;
 * otherwise `retryAfterStyle` decides ('seconds' = ceil, min 1; 'ms' adds
 * retry-after-ms; 'none' sends neither).
 */
function retryHeaders(waitMs, style, entry = {}) {
  const explicit = explicitRetryHeaders(entry);
  if (Object.keys(explicit).length) return explicit;
  if (style === 'none') return {};
  const headers = { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) };
  if (style === 'ms') headers['retry-after-ms'] = String(Math.max(1, Math.round(waitMs)));
  return headers;
}

/** Wait advertised by a scripted entry: retryAfterMs, else retryAfter seconds, else fallback. */
function entryWaitMs(entry, fallbackMs = DEFAULT_SCRIPTED_WAIT_MS) {
  if (entry.retryAfterMs != null) return Number(entry.retryAfterMs);
  if (entry.retryAfter != null) return Number(entry.retryAfter) * 1000;
  return fallbackMs;
}

/** The window as the rate-limit headers describe it. */
function windowView(state, win) {
  const limit = state.config.limit ?? NOMINAL_REQUEST_LIMIT;
  return {
    limit,
    remaining: Math.max(0, limit - win.used),
    tokensRemaining: Math.max(0, TOKEN_LIMIT - win.used * TOKENS_PER_REQUEST),
    leftMs: win.leftMs,
  };
}

// Header names: https://platform.openai.com/docs/guides/rate-limits ("Rate limits in headers");
// duration values like "12ms"/"9ms" observed at
// https://community.openai.com/t/how-to-get-rate-limit-reset-time-for-response-api/1268905
function openaiRateHeaders(view) {
  return {
    'x-ratelimit-limit-requests': String(view.limit),
    'x-ratelimit-remaining-requests': String(view.remaining),
    'x-ratelimit-reset-requests': openaiDuration(view.leftMs),
    'x-ratelimit-limit-tokens': String(TOKEN_LIMIT),
    'x-ratelimit-remaining-tokens': String(view.tokensRemaining),
    'x-ratelimit-reset-tokens': openaiDuration(view.leftMs),
  };
}

// Header names and RFC 3339 reset values: https://docs.anthropic.com/en/api/rate-limits
// ("Response headers"); retry-after on 429 per the same page.
function anthropicRateHeaders(view, now = Date.now()) {
  const reset = rfc3339Ceil(now + view.leftMs);
  return {
    'anthropic-ratelimit-requests-limit': String(view.limit),
    'anthropic-ratelimit-requests-remaining': String(view.remaining),
    'anthropic-ratelimit-requests-reset': reset,
    'anthropic-ratelimit-tokens-limit': String(TOKEN_LIMIT),
    'anthropic-ratelimit-tokens-remaining': String(view.tokensRemaining),
    'anthropic-ratelimit-tokens-reset': reset,
  };
}

function openaiBaseHeaders(ctx) {
  return {
    'content-type': 'application/json',
    'x-request-id': openaiRequestId(),
    'openai-organization': OPENAI_ORG,
    'openai-processing-ms': String(Math.max(1, Date.now() - ctx.started)),
    'openai-version': '2020-10-01',
  };
}

const anthropicBaseHeaders = () => ({ 'content-type': 'application/json', 'request-id': anthropicRequestId() });
const geminiBaseHeaders = () => ({ 'content-type': 'application/json; charset=UTF-8' });

// ---------------------------------------------------------------------------
// Canned error bodies (each with its source)
// ---------------------------------------------------------------------------

const openaiError = (message, type, code, param = null) => ({ error: { message, type, param, code } });

// Source: feder-cr/invisible_playwright_mcp#249 and openai/codex#10060 — e.g.
// "Rate limit reached for gpt-4o-mini in organization org-… on requests per min (RPM): Limit 3,
// Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits
// to learn more.", type "requests", code "rate_limit_exceeded".
function openaiRateLimitBody(model, limit, used, waitMs) {
  return openaiError(
    `Rate limit reached for ${model} in organization ${OPENAI_ORG} on requests per min (RPM): ` +
      `Limit ${limit}, Used ${used}, Requested 1. Please try again in ${openaiDuration(waitMs)}. ` +
      'Visit https://platform.openai.com/account/rate-limits to learn more.',
    'requests',
    'rate_limit_exceeded',
  );
}

// Source: ChatGPTNextWeb/NextChat#4101 and #3664 (2024 wording, code "insufficient_quota");
// listed as "429 - You exceeded your current quota" in
// https://platform.openai.com/docs/guides/error-codes/api-errors
const OPENAI_INSUFFICIENT_QUOTA = openaiError(
  'You exceeded your current quota, please check your plan and billing details. For more information ' +
    'on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
  'insufficient_quota',
  'insufficient_quota',
);

// Source: DrShushen/climb#13 and Aider-AI/aider#1880 — type "tokens", code "rate_limit_exceeded".
function openaiRequestTooLargeBody(model) {
  return openaiError(
    `Request too large for ${model} in organization ${OPENAI_ORG} on tokens per min (TPM): ` +
      'Limit 30000, Requested 50000. The input or output tokens must be reduced in order to run ' +
      'successfully. Visit https://platform.openai.com/account/rate-limits to learn more.',
    'tokens',
    'rate_limit_exceeded',
  );
}

// Message: https://platform.openai.com/docs/guides/error-codes/api-errors
// ("503 - The engine is currently overloaded, please try again later"); type server_error as
// logged by openai-python 0.x (error_type=server_error, langbot-app/LangBot#126).
const OPENAI_OVERLOADED = openaiError(
  'The engine is currently overloaded, please try again later.',
  'server_error',
  null,
);

// Source: langbot-app/LangBot#126 (error_message='The server had an error while processing your
// request. Sorry about that!' error_type=server_error) and LlmKira/Openaibot#125.
const OPENAI_SERVER_ERROR = openaiError(
  'The server had an error while processing your request. Sorry about that!',
  'server_error',
  null,
);

// Source: chatanywhere/GPT_API_free#62 (401, type invalid_request_error, code invalid_api_key).
// The masked key is a fixed placeholder: the mock never echoes a caller's key.
const OPENAI_INVALID_API_KEY = openaiError(
  'Incorrect API key provided: sk-mock1***************************************abcd. ' +
    'You can find your API key at https://platform.openai.com/account/api-keys.',
  'invalid_request_error',
  'invalid_api_key',
);

// Source: chathub-dev/chathub#126 and crewAIInc/crewAI-examples#121 (400, param "messages").
const OPENAI_CONTEXT_LENGTH = openaiError(
  "This model's maximum context length is 128000 tokens. However, your messages resulted in " +
    '130000 tokens. Please reduce the length of the messages.',
  'invalid_request_error',
  'context_length_exceeded',
  'messages',
);

// Error shape {"type":"error","error":{type,message},"request_id"}: https://docs.anthropic.com/en/api/errors
const anthropicError = (type, message, requestId) => ({
  type: 'error',
  error: { type, message },
  request_id: requestId,
});

// Source: OpenHands/OpenHands#9259, Trae-AI/TRAE#625, bhouston/mycoder#62 (observed for input
// tokens per minute; the mock reports its request limit in the same template).
function anthropicRateLimitMessage(limit) {
  return (
    `This request would exceed the rate limit for your organization (${ANTHROPIC_ORG}) of ` +
    `${limit} requests per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits. ` +
    'You can see the response headers for current usage. Please reduce the prompt length or the ' +
    'maximum tokens requested, or try again later. You may also contact sales at ' +
    'https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.'
  );
}

// Source: anthropics/claude-code#66314 and #4684; anthropics/claude-quickstarts#229.
const ANTHROPIC_CREDIT_MESSAGE =
  'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.';

const GEMINI_HELP = {
  '@type': 'type.googleapis.com/google.rpc.Help',
  links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }],
};

// Source: google-gemini/gemini-cli packages/core/src/utils/googleQuotaErrors.test.ts
// ("should return RetryableQuotaError for another short retry delay"), RooCodeInc/Roo-Code#3883,
// googleapis/python-genai#1875 (per-minute); googleapis/python-genai#2044 and
// google-gemini/gemini-cli#8437 (GenerateRequestsPerDayPerProjectPerModel-FreeTier, which also
// arrived with a short RetryInfo — retrying does not help until the daily reset).
function geminiQuotaBody({ model, quotaId, quotaValue, waitMs }) {
  return {
    error: {
      code: 429,
      message:
        'You exceeded your current quota, please check your plan and billing details. For more information ' +
        'on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current ' +
        'usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: ' +
        `generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: ${quotaValue}, ` +
        `model: ${model}\nPlease retry in ${trimSeconds(waitMs / 1000)}s.`,
      status: 'RESOURCE_EXHAUSTED',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
          violations: [
            {
              quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
              quotaId,
              quotaDimensions: { location: 'global', model },
              quotaValue: String(quotaValue),
            },
          ],
        },
        GEMINI_HELP,
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: geminiRetryDelay(waitMs) },
      ],
    },
  };
}

const GEMINI_PER_MINUTE = 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier';
const GEMINI_PER_DAY = 'GenerateRequestsPerDayPerProjectPerModel-FreeTier';
const GEMINI_DAILY_LIMIT = 50;
const GEMINI_DAILY_WAIT_MS = 47000; // retryDelay "47s" seen with a PerDay violation (python-genai#2044)

// Source: the Cloudflare error page api.openai.com returned in Significant-Gravitas/AutoGPT#341 and
// yoheinakajima/babyagi#64 (title "api.openai.com | 502: Bad gateway", "Error code 502").
function cloudflare502Html() {
  const ray = crypto.randomBytes(8).toString('hex');
  return `<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html class="no-js" lang="en-US">
<head>
<title>api.openai.com | 502: Bad gateway</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta http-equiv="X-UA-Compatible" content="IE=Edge" />
<meta name="robots" content="noindex, nofollow" />
<meta name="viewport" content="width=device-width,initial-scale=1" />
<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/main.css" />
</head>
<body>
<div id="cf-wrapper">
    <div id="cf-error-details" class="p-0">
        <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">
            <h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl text-black-dark leading-tight mr-2">
              <span class="inline-block">Bad gateway</span>
              <span class="code-label">Error code 502</span>
            </h1>
            <div>
               Visit <a href="https://www.cloudflare.com/5xx-error-landing?utm_source=errorcode_502&utm_campaign=api.openai.com" target="_blank" rel="noopener noreferrer">cloudflare.com</a> for more information.
            </div>
        </header>
        <div class="w-240 lg:w-full mx-auto mb-8 lg:px-8">
            <div class="clearfix">
                <div class="w-1/2 md:w-full float-left pr-6 md:pb-10 md:pr-0 leading-relaxed">
                    <h2 class="text-3xl font-normal leading-1.3 mb-4">What happened?</h2>
                    <p>The web server reported a bad gateway error.</p>
                </div>
                <div class="w-1/2 md:w-full float-left leading-relaxed">
                    <h2 class="text-3xl font-normal leading-1.3 mb-4">What can I do?</h2>
                    <p class="mb-6">Please try again in a few minutes.</p>
                </div>
            </div>
        </div>
        <div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto text-center sm:text-left border-solid border-0 border-t border-gray-300">
  <p class="text-13">
    <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: <strong class="font-semibold">${ray}</strong></span>
  </p>
</div>
    </div>
</div>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------
// Responses: normal, window-limited, quota-exhausted, scripted
// ---------------------------------------------------------------------------

/** 429 for a request beyond the window's limit, in the provider's own format. */
function rateLimitedResponse(state, ctx, win) {
  const view = windowView(state, win);
  const style = state.config.retryAfterStyle;
  if (ctx.provider === 'anthropic') {
    const headers = { ...anthropicBaseHeaders(), ...anthropicRateHeaders(view), ...retryHeaders(win.leftMs, style) };
    const body = anthropicError('rate_limit_error', anthropicRateLimitMessage(view.limit), headers['request-id']);
    return { status: 429, headers, body };
  }
  if (ctx.provider === 'gemini') {
    // The Gemini API sends no retry-after / rate-limit headers: the delay is only in the body.
    const body = geminiQuotaBody({ model: ctx.model, quotaId: GEMINI_PER_MINUTE, quotaValue: view.limit, waitMs: win.leftMs });
    return { status: 429, headers: geminiBaseHeaders(), body };
  }
  const headers = { ...openaiBaseHeaders(ctx), ...openaiRateHeaders(view), ...retryHeaders(win.leftMs, style) };
  return { status: 429, headers, body: openaiRateLimitBody(ctx.model, view.limit, win.used, win.leftMs) };
}

/** Quota-exhausted answer for each provider. */
function quotaResponse(ctx) {
  if (ctx.provider === 'anthropic') {
    const headers = anthropicBaseHeaders();
    return { status: 400, headers, body: anthropicError('invalid_request_error', ANTHROPIC_CREDIT_MESSAGE, headers['request-id']) };
  }
  if (ctx.provider === 'gemini') {
    const body = geminiQuotaBody({ model: ctx.model, quotaId: GEMINI_PER_DAY, quotaValue: GEMINI_DAILY_LIMIT, waitMs: GEMINI_DAILY_WAIT_MS });
    return { status: 429, headers: geminiBaseHeaders(), body };
  }
  return { status: 429, headers: openaiBaseHeaders(ctx), body: OPENAI_INSUFFICIENT_QUOTA };
}

/**
 * Named script entries. Each builds { status, headers, body } from the request context
 * and the entry's options. `reset` and `hang` are handled separately (no response).
 * Named entries send their own provider's format whatever endpoint they hit.
 */
const SCRIPTS = {
  rate_limit(ctx, entry, state) {
    const waitMs = entryWaitMs(entry);
    const limit = state.config.limit ?? 500;
    const view = { limit, remaining: 0, tokensRemaining: TOKEN_LIMIT, leftMs: waitMs };
    const headers = { ...openaiBaseHeaders(ctx), ...openaiRateHeaders(view), ...retryHeaders(waitMs, state.config.retryAfterStyle, entry) };
    return { status: 429, headers, body: openaiRateLimitBody(ctx.model, limit, limit, waitMs) };
  },
  insufficient_quota(ctx, entry) {
    return { status: 429, headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) }, body: OPENAI_INSUFFICIENT_QUOTA };
  },
  request_too_large(ctx, entry) {
    return { status: 429, headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) }, body: openaiRequestTooLargeBody(ctx.model) };
  },
  overloaded(ctx, entry) {
    return { status: 503, headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) }, body: OPENAI_OVERLOADED };
  },
  server_error(ctx, entry) {
    return { status: 500, headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) }, body: OPENAI_SERVER_ERROR };
  },
  invalid_api_key(ctx, entry) {
    return { status: 401, headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) }, body: OPENAI_INVALID_API_KEY };
  },
  context_length(ctx, entry) {
    return { status: 400, headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) }, body: OPENAI_CONTEXT_LENGTH };
  },
  // Source: anthropics/anthropic-sdk-typescript#616 — 529 {"type":"error","error":{"type":"overloaded_error",
  // "message":"Overloaded"}} with headers request-id and x-should-retry: true, no retry-after.
  anthropic_overloaded(ctx, entry) {
    const headers = { ...anthropicBaseHeaders(), 'x-should-retry': 'true', ...explicitRetryHeaders(entry) };
    return { status: 529, headers, body: anthropicError('overloaded_error', 'Overloaded', headers['request-id']) };
  },
  anthropic_rate_limit(ctx, entry, state) {
    const waitMs = entryWaitMs(entry);
    const limit = state.config.limit ?? 50;
    const view = { limit, remaining: 0, tokensRemaining: TOKEN_LIMIT, leftMs: waitMs };
    const headers = { ...anthropicBaseHeaders(), ...anthropicRateHeaders(view), ...retryHeaders(waitMs, 'seconds', entry) };
    return { status: 429, headers, body: anthropicError('rate_limit_error', anthropicRateLimitMessage(limit), headers['request-id']) };
  },
  anthropic_credit(ctx, entry) {
    const headers = { ...anthropicBaseHeaders(), ...explicitRetryHeaders(entry) };
    return { status: 400, headers, body: anthropicError('invalid_request_error', ANTHROPIC_CREDIT_MESSAGE, headers['request-id']) };
  },
  bad_gateway_html(ctx, entry) {
    const headers = { 'content-type': 'text/html; charset=UTF-8', server: 'cloudflare', 'cf-ray': `${crypto.randomBytes(8).toString('hex')}-SJC`, ...explicitRetryHeaders(entry) };
    return { status: 502, headers, body: cloudflare502Html() };
  },
  gemini_rate_limit(ctx, entry, state) {
    const model = ctx.provider === 'gemini' ? ctx.model : DEFAULT_MODEL.gemini;
    const body = geminiQuotaBody({ model, quotaId: GEMINI_PER_MINUTE, quotaValue: state.config.limit ?? 15, waitMs: entryWaitMs(entry) });
    return { status: 429, headers: { ...geminiBaseHeaders(), ...explicitRetryHeaders(entry) }, body };
  },
  gemini_daily(ctx, entry) {
    const model = ctx.provider === 'gemini' ? ctx.model : DEFAULT_MODEL.gemini;
    const body = geminiQuotaBody({ model, quotaId: GEMINI_PER_DAY, quotaValue: GEMINI_DAILY_LIMIT, waitMs: entryWaitMs(entry, GEMINI_DAILY_WAIT_MS) });
    return { status: 429, headers: { ...geminiBaseHeaders(), ...explicitRetryHeaders(entry) }, body };
  },
};

/** Every accepted script name, including the two that send no response. */
export const SCRIPT_NAMES = Object.freeze([...Object.keys(SCRIPTS), 'reset', 'hang']);

/** Normalises one script step to an object and validates it; throws on a bad step. */
function normalizeStep(step) {
  const entry = typeof step === 'string' ? { name: step } : step;
  if (!entry || typeof entry !== 'object') throw new Error(`invalid script step: ${JSON.stringify(step)}`);
  const raw = entry.body !== undefined || (entry.status !== undefined && entry.name === undefined);
  if (raw) {
    if (!Number.isInteger(entry.status ?? 200)) throw new Error('raw script step needs an integer status');
    return { ...entry, raw: true };
  }
  if (!SCRIPT_NAMES.includes(entry.name)) {
    throw new Error(`unknown script step "${entry.name}"; known: ${SCRIPT_NAMES.join(', ')}`);
  }
  return { ...entry, raw: false };
}

function rawResponse(entry) {
  const headers = { 'content-type': 'application/json', ...(entry.headers || {}) };
  const body = entry.body === undefined ? '' : typeof entry.body === 'string' ? entry.body : JSON.stringify(entry.body);
  return { status: entry.status ?? 200, headers, body };
}

// ---------------------------------------------------------------------------
// Successful bodies
// ---------------------------------------------------------------------------

function openaiCompletion(model) {
  return {
    id: `chatcmpl-${randomAlnum(29)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: REPLY_TEXT, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
    system_fingerprint: 'fp_mock',
  };
}

function anthropicMessage(model) {
  return {
    id: `msg_01${randomAlnum(22)}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: REPLY_TEXT }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 9, output_tokens: 5 },
  };
}

function geminiContent(model) {
  return {
    candidates: [{ content: { parts: [{ text: REPLY_TEXT }], role: 'model' }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 5, totalTokenCount: 14 },
    modelVersion: model,
    responseId: randomAlnum(22),
  };
}

function successResponse(state, ctx, win) {
  const view = windowView(state, win);
  if (ctx.provider === 'anthropic') {
    return { status: 200, headers: { ...anthropicBaseHeaders(), ...anthropicRateHeaders(view) }, body: anthropicMessage(ctx.model) };
  }
  if (ctx.provider === 'gemini') {
    return { status: 200, headers: geminiBaseHeaders(), body: geminiContent(ctx.model) };
  }
  return { status: 200, headers: { ...openaiBaseHeaders(ctx), ...openaiRateHeaders(view) }, body: openaiCompletion(ctx.model) };
}

/** SSE chunks of a streamed chat completion, ending with data: [DONE]. */
function streamChunks(model) {
  const id = `chatcmpl-${randomAlnum(29)}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta, finish) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    system_fingerprint: 'fp_mock',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  return [
    chunk({ role: 'assistant', content: '', refusal: null }, null),
    ...STREAM_PIECES.map((piece) => chunk({ content: piece }, null)),
    chunk({}, 'stop'),
  ].map((c) => `data: ${JSON.stringify(c)}\n\n`).concat('data: [DONE]\n\n');
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

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
        if (!['seconds', 'ms', 'none'].includes(value)) throw new Error("retryAfterStyle must be 'seconds', 'ms' or 'none'");
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
      default:
        throw new Error(`unknown option "${key}"`);
    }
  }
  return next;
}

/** Config as reported by the control API: quota keys appear only as hashes. */
function publicConfig(config) {
  const { quotaKeys, ...rest } = config;
  return { ...rest, quotaKeys: quotaKeys.map(hashKey) };
}

function emptyStats() {
  return { requests: 0, byStatus: {}, byPath: {}, preflights: 0, log: [] };
}

function createState(options) {
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

function setConfig(state, patch) {
  const next = mergeConfig(state.config, patch);
  if (next.limit !== state.config.limit || next.windowMs !== state.config.windowMs) {
    state.window = { start: null, count: 0 };
  }
  state.config = next;
  return publicConfig(next);
}

function setScript(state, steps) {
  if (!Array.isArray(steps)) throw new Error('steps must be an array');
  state.script = steps.map(normalizeStep);
  return { pending: state.script.length };
}

function resetState(state) {
  state.config = state.startupConfig;
  state.script = [];
  state.window = { start: null, count: 0 };
  state.stats = emptyStats();
  for (const res of state.hung) res.destroy();
  state.hung.clear();
}

function statsSnapshot(state) {
  return structuredClone(state.stats);
}

/**
 * Fixed-window admission. Opens a window if none is open, then either counts the
 * request (ok) or reports it as over the limit. `used` is the count after admission.
 */
function admit(state, now) {
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

function isQuotaExhausted(config, key) {
  // A non-empty quotaKeys list takes precedence: only those keys are exhausted.
  if (config.quotaKeys.length) return key !== null && config.quotaKeys.includes(key);
  return config.quota;
}

function recordRequest(state, ctx, status) {
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

// ---------------------------------------------------------------------------
// HTTP plumbing
// ---------------------------------------------------------------------------

function send(res, { status, headers, body }) {
  if (res.destroyed || res.writableEnded) return;
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers, 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

const sendJson = (res, status, body) => send(res, { status, headers: {}, body });

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

function matchLlmRoute(method, pathname) {
  if (method !== 'POST') return null;
  if (pathname === '/v1/chat/completions') return { provider: 'openai' };
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
  const response = entry.raw ? rawResponse(entry) : SCRIPTS[entry.name](ctx, entry, state);
  if (!entry.raw) {
    if (entry.status !== undefined) response.status = entry.status;
    Object.assign(response.headers, entry.headers || {});
  }
  recordRequest(state, ctx, response.status);
  send(res, response);
}

async function streamCompletion(state, res, response, ctx) {
  if (res.destroyed) return;
  const { 'content-type': _ignored, ...headers } = response.headers;
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  const events = streamChunks(ctx.model);
  for (let i = 0; i < events.length; i++) {
    if (i > 0) await sleep(state, state.config.streamGapMs);
    if (res.destroyed) return;
    if (i === events.length - 1) res.end(events[i]);
    else res.write(events[i]);
  }
}

async function handleLlm(state, req, res, route, url) {
  const started = Date.now();
  const raw = await readBody(req);
  const body = parseLenient(raw);
  const ctx = {
    bytes: Buffer.byteLength(raw),
    provider: route.provider,
    model: route.model || (typeof body.model === 'string' && body.model) || DEFAULT_MODEL[route.provider],
    stream: body.stream === true,
    key: extractKey(req, url),
    method: req.method,
    path: url.pathname,
    started,
  };

  const step = state.script.shift();
  if (step) return runScriptStep(state, req, res, step, ctx);

  if (isQuotaExhausted(state.config, ctx.key)) {
    const response = quotaResponse(ctx);
    recordRequest(state, ctx, response.status);
    return send(res, response);
  }

  const win = admit(state, Date.now());
  if (!win.ok) {
    const response = rateLimitedResponse(state, ctx, win);
    recordRequest(state, ctx, response.status);
    return send(res, response);
  }

  recordRequest(state, ctx, 200);
  await sleep(state, state.config.latencyMs);
  const response = successResponse(state, ctx, win);
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
  fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
}

async function handleRequest(state, req, res) {
  const url = new URL(req.url, `http://${HOST}`);
  applyCors(state, req, res);
  if (req.method === 'OPTIONS') {
    state.stats.preflights += 1;
    res.writeHead(204);
    return res.end();
  }
  if (url.pathname.startsWith('/__mock/')) return handleControl(state, req, res, url.pathname);
  const route = matchLlmRoute(req.method, url.pathname);
  if (route) return handleLlm(state, req, res, route, url);
  if (req.method === 'GET' || req.method === 'HEAD') return serveStatic(state, req, res, url.pathname);
  // Source: OpenAI's answer to an unknown path, e.g. {"error":{"message":"Invalid URL (POST /v1/foo)",...}}
  return sendJson(res, 404, openaiError(`Invalid URL (${req.method} ${url.pathname})`, 'invalid_request_error', null));
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * Starts the mock LLM API on 127.0.0.1.
 *
 * @param {object} [options]
 * @param {number} [options.port=0] TCP port; 0 picks a free one.
 * @param {number|null} [options.limit=null] LLM requests served 200 per window; null/Infinity = unlimited.
 * @param {number} [options.windowMs=1000] Window length; a window opens at the first request after the previous one expired.
 * @param {boolean} [options.quota=false] Quota-exhausted mode for every key.
 * @param {string[]} [options.quotaKeys=[]] If non-empty, only these keys are quota-exhausted (overrides `quota`).
 * @param {number} [options.latencyMs=0] Delay before each 200.
 * @param {number} [options.streamGapMs=50] Gap between SSE chunks of a streamed chat completion.
 * @param {'seconds'|'ms'|'none'} [options.retryAfterStyle='seconds'] retry-after headers on window 429s.
 * @param {boolean} [options.exposeHeaders=true] List rate-limit headers in Access-Control-Expose-Headers.
 * @param {number|null} [options.preflightMaxAge=null] Access-Control-Max-Age for preflights (omitted when null).
 * @param {string} [options.static] Directory served at "/".
 * @param {Record<string,string>} [options.mounts] URL prefix -> directory, e.g. { '/pkg/': '/abs/pkg' }.
 * @param {boolean} [options.quiet=true] When false, logs one line per LLM request to stderr.
 * @returns {Promise<{url: string, port: number, state: object, close(): Promise<void>,
 *   setConfig(patch: object): object, script(steps: Array<string|object>): {pending: number},
 *   reset(): void, stats(): object, readonly config: object}>}
 */
export async function startMock(options = {}) {
  const state = createState(options);
  const server = http.createServer((req, res) => {
    handleRequest(state, req, res).catch((err) => {
      process.stderr.write(`[mock] internal error: ${err.stack || err}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: 'mock internal error' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(state.config.port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address();

  let closing = null;
  const close = () => {
    closing ??= new Promise((resolve) => {
      state.closed = true;
      for (const timer of state.timers) clearTimeout(timer);
      state.timers.clear();
      for (const res of state.hung) res.destroy();
      state.hung.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url: `http://${HOST}:${port}`,
    port,
    state,
    close,
    setConfig: (patch) => setConfig(state, patch),
    script: (steps) => setScript(state, steps),
    reset: () => resetState(state),
    stats: () => statsSnapshot(state),
    get config() {
      return publicConfig(state.config);
    },
  };
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { quiet: false };
  const mounts = {};
  const toInt = (flag, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} expects a non-negative integer, got "${v}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let inline;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      inline = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port': opts.port = toInt(flag, value()); break;
      case '--limit': opts.limit = toInt(flag, value()); break;
      case '--window-ms': opts.windowMs = toInt(flag, value()); break;
      case '--latency-ms': opts.latencyMs = toInt(flag, value()); break;
      case '--stream-gap-ms': opts.streamGapMs = toInt(flag, value()); break;
      case '--retry-after-style': opts.retryAfterStyle = value(); break;
      case '--quota': opts.quota = true; break;
      case '--no-expose-headers': opts.exposeHeaders = false; break;
      case '--quiet': opts.quiet = true; break;
      case '--static': opts.static = path.resolve(value()); break;
      case '--mount': {
        const spec = value();
        const sep = spec.indexOf('=');
        if (sep <= 0) throw new Error(`--mount expects /prefix/=DIR, got "${spec}"`);
        mounts[spec.slice(0, sep)] = path.resolve(spec.slice(sep + 1));
        break;
      }
      default:
        throw new Error(`unknown argument "${argv[i]}"`);
    }
  }
  if (Object.keys(mounts).length) opts.mounts = mounts;
  return opts;
}

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const mock = await startMock(options);
  process.stdout.write(`mock LLM API listening on ${mock.url}\n`);
  const shutdown = () => mock.close().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

function isMainModule() {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMainModule()) main();
