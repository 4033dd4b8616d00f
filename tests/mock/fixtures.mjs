/**
 * tests/mock/fixtures.mjs — what the providers really send: error and success bodies, rate-limit and
 * retry-after headers, each canned body with a comment naming where its exact text was observed or
 * documented. Pure builders: they read no mock state (the window arrives as a `view`).
 */
import crypto from 'node:crypto';

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

export const OPENAI_ORG = 'org-mock';
const ANTHROPIC_ORG = '7e57e57e-0000-4000-8000-00000000c0de';
export const TOKEN_LIMIT = 150000; // fixed nominal tokens-per-window limit
export const TOKENS_PER_REQUEST = 100; // nominal tokens charged per served request
const DEFAULT_SCRIPTED_WAIT_MS = 1000; // wait advertised by scripted rate-limit entries
/** What every successful answer says (the text of a chat completion, message or candidate). */
export const REPLY_TEXT = 'Hello from the mock';
const STREAM_PIECES = ['Hello', ' from', ' the', ' mock'];

export const DEFAULT_MODEL = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-3-5-haiku-latest',
  gemini: 'gemini-2.0-flash',
};

// ---------------------------------------------------------------------------
// Small helpers: ids, durations, timestamps
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

// Header names: https://platform.openai.com/docs/guides/rate-limits ("Rate limits in headers");
// duration values like "12ms"/"9ms" observed at
// https://community.openai.com/t/how-to-get-rate-limit-reset-time-for-response-api/1268905
// reset-* is the time until the limit "resets to its initial state" (the same page), so it is the
// end of a fixed window, when a sliding log's newest entry leaves it, or when a bucket is full.
function openaiRateHeaders(view) {
  return {
    'x-ratelimit-limit-requests': String(view.limit),
    'x-ratelimit-remaining-requests': String(view.remaining),
    'x-ratelimit-reset-requests': openaiDuration(view.leftMs),
    'x-ratelimit-limit-tokens': String(view.tokenLimit ?? TOKEN_LIMIT),
    'x-ratelimit-remaining-tokens': String(view.tokensRemaining),
    'x-ratelimit-reset-tokens': openaiDuration(view.tokenResetMs ?? view.leftMs),
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
    'anthropic-ratelimit-tokens-limit': String(view.tokenLimit ?? TOKEN_LIMIT),
    'anthropic-ratelimit-tokens-remaining': String(view.tokensRemaining),
    'anthropic-ratelimit-tokens-reset': rfc3339Ceil(now + (view.tokenResetMs ?? view.leftMs)),
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

export const openaiError = (message, type, code, param = null) => ({ error: { message, type, param, code } });

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

// The tokens-per-minute form of the message above: same template, "on tokens per min (TPM)",
// "Requested" the request's tokens, type "tokens".
function openaiTokenRateLimitBody(model, limit, used, requested, waitMs) {
  return openaiError(
    `Rate limit reached for ${model} in organization ${OPENAI_ORG} on tokens per min (TPM): ` +
      `Limit ${limit}, Used ${used}, Requested ${requested}. Please try again in ${openaiDuration(waitMs)}. ` +
      'Visit https://platform.openai.com/account/rate-limits to learn more.',
    'tokens',
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
  links: [
    { description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' },
  ],
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

/** 429 for a request beyond a limit, in the provider's own format; retry-after says when it fits. */
export function rateLimitedResponse(ctx, view, style) {
  const waitMs = view.waitMs ?? view.leftMs;
  if (ctx.provider === 'anthropic') {
    const headers = { ...anthropicBaseHeaders(), ...anthropicRateHeaders(view), ...retryHeaders(waitMs, style) };
    const body = anthropicError('rate_limit_error', anthropicRateLimitMessage(view.limit), headers['request-id']);
    return { status: 429, headers, body };
  }
  if (ctx.provider === 'gemini') {
    // The Gemini API sends no retry-after / rate-limit headers: the delay is only in the body.
    const body = geminiQuotaBody({
      model: ctx.model,
      quotaId: GEMINI_PER_MINUTE,
      quotaValue: view.limit,
      waitMs,
    });
    return { status: 429, headers: geminiBaseHeaders(), body };
  }
  const headers = { ...openaiBaseHeaders(ctx), ...openaiRateHeaders(view), ...retryHeaders(waitMs, style) };
  const body =
    view.exceeded === 'tokens'
      ? openaiTokenRateLimitBody(ctx.model, view.tokenLimit, view.tokensUsed, view.requested, waitMs)
      : openaiRateLimitBody(ctx.model, view.limit, view.used, waitMs);
  return { status: 429, headers, body };
}

/** Quota-exhausted answer for each provider. */
export function quotaResponse(ctx) {
  if (ctx.provider === 'anthropic') {
    const headers = anthropicBaseHeaders();
    return {
      status: 400,
      headers,
      body: anthropicError('invalid_request_error', ANTHROPIC_CREDIT_MESSAGE, headers['request-id']),
    };
  }
  if (ctx.provider === 'gemini') {
    const body = geminiQuotaBody({
      model: ctx.model,
      quotaId: GEMINI_PER_DAY,
      quotaValue: GEMINI_DAILY_LIMIT,
      waitMs: GEMINI_DAILY_WAIT_MS,
    });
    return { status: 429, headers: geminiBaseHeaders(), body };
  }
  return { status: 429, headers: openaiBaseHeaders(ctx), body: OPENAI_INSUFFICIENT_QUOTA };
}

/**
 * Named script entries. Each builds { status, headers, body } from the request context,
 * the entry's options and the current config. `reset` and `hang` are handled separately (no response).
 * Named entries send their own provider's format whatever endpoint they hit.
 */
export const SCRIPTS = {
  rate_limit(ctx, entry, config) {
    const waitMs = entryWaitMs(entry);
    const limit = config.limit ?? 500;
    const view = { limit, remaining: 0, tokensRemaining: TOKEN_LIMIT, leftMs: waitMs };
    const headers = {
      ...openaiBaseHeaders(ctx),
      ...openaiRateHeaders(view),
      ...retryHeaders(waitMs, config.retryAfterStyle, entry),
    };
    return { status: 429, headers, body: openaiRateLimitBody(ctx.model, limit, limit, waitMs) };
  },
  insufficient_quota(ctx, entry) {
    return {
      status: 429,
      headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) },
      body: OPENAI_INSUFFICIENT_QUOTA,
    };
  },
  request_too_large(ctx, entry) {
    return {
      status: 429,
      headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) },
      body: openaiRequestTooLargeBody(ctx.model),
    };
  },
  overloaded(ctx, entry) {
    return {
      status: 503,
      headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) },
      body: OPENAI_OVERLOADED,
    };
  },
  server_error(ctx, entry) {
    return {
      status: 500,
      headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) },
      body: OPENAI_SERVER_ERROR,
    };
  },
  invalid_api_key(ctx, entry) {
    return {
      status: 401,
      headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) },
      body: OPENAI_INVALID_API_KEY,
    };
  },
  context_length(ctx, entry) {
    return {
      status: 400,
      headers: { ...openaiBaseHeaders(ctx), ...explicitRetryHeaders(entry) },
      body: OPENAI_CONTEXT_LENGTH,
    };
  },
  // Source: anthropics/anthropic-sdk-typescript#616 — 529 {"type":"error","error":{"type":"overloaded_error",
  // "message":"Overloaded"}} with headers request-id and x-should-retry: true, no retry-after.
  anthropic_overloaded(_ctx, entry) {
    const headers = { ...anthropicBaseHeaders(), 'x-should-retry': 'true', ...explicitRetryHeaders(entry) };
    return { status: 529, headers, body: anthropicError('overloaded_error', 'Overloaded', headers['request-id']) };
  },
  anthropic_rate_limit(_ctx, entry, config) {
    const waitMs = entryWaitMs(entry);
    const limit = config.limit ?? 50;
    const view = { limit, remaining: 0, tokensRemaining: TOKEN_LIMIT, leftMs: waitMs };
    const headers = {
      ...anthropicBaseHeaders(),
      ...anthropicRateHeaders(view),
      ...retryHeaders(waitMs, 'seconds', entry),
    };
    return {
      status: 429,
      headers,
      body: anthropicError('rate_limit_error', anthropicRateLimitMessage(limit), headers['request-id']),
    };
  },
  anthropic_credit(_ctx, entry) {
    const headers = { ...anthropicBaseHeaders(), ...explicitRetryHeaders(entry) };
    return {
      status: 400,
      headers,
      body: anthropicError('invalid_request_error', ANTHROPIC_CREDIT_MESSAGE, headers['request-id']),
    };
  },
  bad_gateway_html(_ctx, entry) {
    const headers = {
      'content-type': 'text/html; charset=UTF-8',
      server: 'cloudflare',
      'cf-ray': `${crypto.randomBytes(8).toString('hex')}-SJC`,
      ...explicitRetryHeaders(entry),
    };
    return { status: 502, headers, body: cloudflare502Html() };
  },
  gemini_rate_limit(ctx, entry, config) {
    const model = ctx.provider === 'gemini' ? ctx.model : DEFAULT_MODEL.gemini;
    const body = geminiQuotaBody({
      model,
      quotaId: GEMINI_PER_MINUTE,
      quotaValue: config.limit ?? 15,
      waitMs: entryWaitMs(entry),
    });
    return { status: 429, headers: { ...geminiBaseHeaders(), ...explicitRetryHeaders(entry) }, body };
  },
  gemini_daily(ctx, entry) {
    const model = ctx.provider === 'gemini' ? ctx.model : DEFAULT_MODEL.gemini;
    const body = geminiQuotaBody({
      model,
      quotaId: GEMINI_PER_DAY,
      quotaValue: GEMINI_DAILY_LIMIT,
      waitMs: entryWaitMs(entry, GEMINI_DAILY_WAIT_MS),
    });
    return { status: 429, headers: { ...geminiBaseHeaders(), ...explicitRetryHeaders(entry) }, body };
  },
};

/** Every accepted script name, including the two that send no response. */
export const SCRIPT_NAMES = Object.freeze([...Object.keys(SCRIPTS), 'reset', 'hang']);

export function rawResponse(entry) {
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

export function successResponse(ctx, view) {
  if (ctx.provider === 'anthropic') {
    return {
      status: 200,
      headers: { ...anthropicBaseHeaders(), ...anthropicRateHeaders(view) },
      body: anthropicMessage(ctx.model),
    };
  }
  if (ctx.provider === 'gemini') {
    return { status: 200, headers: geminiBaseHeaders(), body: geminiContent(ctx.model) };
  }
  return {
    status: 200,
    headers: { ...openaiBaseHeaders(ctx), ...openaiRateHeaders(view) },
    body: openaiCompletion(ctx.model),
  };
}

/**
 * SSE chunks of a streamed chat completion, ending with data: [DONE]. With `includeUsage`
 * (`stream_options: { include_usage: true }`), every chunk carries `"usage": null` and a last
 * chunk with no choices carries the usage, as OpenAI documents
 * (https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options).
 */
export function streamChunks(model, includeUsage = false) {
  const id = `chatcmpl-${randomAlnum(29)}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta, finish) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    system_fingerprint: 'fp_mock',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const last = includeUsage
    ? [
        {
          ...chunk({}, null),
          choices: [],
          usage: {
            prompt_tokens: 9,
            completion_tokens: STREAM_PIECES.length,
            total_tokens: 9 + STREAM_PIECES.length,
            prompt_tokens_details: { cached_tokens: 0 },
            completion_tokens_details: { reasoning_tokens: 0 },
          },
        },
      ]
    : [];
  return [
    chunk({ role: 'assistant', content: '', refusal: null }, null),
    ...STREAM_PIECES.map((piece) => chunk({ content: piece }, null)),
    chunk({}, 'stop'),
    ...last,
  ]
    .map((c) => `data: ${JSON.stringify(c)}\n\n`)
    .concat('data: [DONE]\n\n');
}
