/**
 * ratewise: tell an LLM API's rate limit from its empty account.
 *
 * OpenAI answers both a real rate limit (`rate_limit_exceeded`) and an empty
 * account (`insufficient_quota`) with HTTP 429. `classify()` tells them apart;
 * `createFetch()` retries the first kind and alerts on the second.
 */

/** The kind of failure a response represents. */
export type Kind =
  | 'ok'
  | 'rate_limit'
  | 'quota_exhausted'
  | 'overloaded'
  | 'server_error'
  | 'timeout'
  | 'network'
  | 'auth'
  | 'permission'
  | 'not_found'
  | 'bad_request'
  | 'context_length'
  | 'request_too_large'
  | 'content_filter'
  | 'unknown';

/**
 * What to do: `retry` (rate_limit, overloaded, server_error, timeout, network),
 * `alert` (quota_exhausted: waiting will not help, tell a human),
 * `fail` (the request itself is wrong), `none` (success).
 */
export type Action = 'none' | 'retry' | 'alert' | 'fail';

/** The provider that answered, from the URL host, headers or body shape. */
export type Provider =
  | 'openai'
  | 'azure'
  | 'anthropic'
  | 'gemini'
  | 'groq'
  | 'openrouter'
  | 'mistral'
  | 'deepseek'
  | 'unknown';

/** One rate-limit window as the server reported it. */
export interface RateLimitWindow {
  limit: number | null;
  remaining: number | null;
  /** Milliseconds until the window resets. */
  resetMs: number | null;
}

/** The `x-ratelimit-*` / `anthropic-ratelimit-*` windows of a response (also on 2xx). */
export interface Limits {
  requests: RateLimitWindow | null;
  tokens: RateLimitWindow | null;
  inputTokens: RateLimitWindow | null;
  outputTokens: RateLimitWindow | null;
}

/** What a response means and what to do about it. */
export interface Classification {
  kind: Kind;
  action: Action;
  /**
   * The server's own wait hint in ms (from `retry-after-ms`, `retry-after`,
   * an exhausted `x-ratelimit-reset-*`, `anthropic-ratelimit-*-reset`, Gemini
   * `RetryInfo`, or the message text), clamped to 0..2147483647; `null` if none.
   */
  retryAfterMs: number | null;
  provider: Provider;
  /** The HTTP status; 0 when there was no response. */
  status: number;
  /** The body's `error.code`. */
  code: string | null;
  /** The body's `error.type` (Gemini: `error.status`). */
  type: string | null;
  /** The body's `error.message`, with anything like an API key masked. */
  message: string | null;
  limits: Limits | null;
  /** One line saying which rule decided the kind. */
  reason: string;
}

/** Headers in any of the forms `classify()` reads. */
export type HeadersInput =
  | Headers
  | Record<string, string | string[] | number | null | undefined>
  | Array<[string, string]>;

/** A response to classify. */
export interface ClassifyInput {
  status: number;
  headers?: HeadersInput;
  /** The raw body text, or the parsed JSON; only the first 64 KiB are read. */
  body?: string | object | ArrayBuffer | Uint8Array | null;
  /** The request URL, for provider detection. */
  url?: string | URL;
  /** The current time in ms since the epoch (default `Date.now()`), for date hints. */
  now?: number;
}

/** An error thrown by `openai` or `@anthropic-ai/sdk` (APIError and subclasses). */
export interface SdkErrorInput {
  status?: number;
  headers?: HeadersInput;
  error?: unknown;
}

/** The Vercel AI SDK's `APICallError`. */
export interface ApiCallErrorInput {
  statusCode?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  url?: string;
}

/**
 * Classifies a response, or an error caught from the `openai`,
 * `@anthropic-ai/sdk` or Vercel AI SDK clients.
 *
 * @throws {TypeError | RangeError} naming the field, for malformed input.
 * @example
 * classify({ status: 429, body: '{"error":{"type":"insufficient_quota"}}' }).action // 'alert'
 */
export function classify(input: ClassifyInput | SdkErrorInput | ApiCallErrorInput | Error): Classification;

/** Passed to `onRetry` and `onEvent` after every attempt. */
export interface AttemptEvent {
  /** The attempt number, from 1. */
  attempt: number;
  kind: Kind;
  /** What happens next. */
  decision: 'retry' | 'stop';
  /** The wait before the next attempt, when retrying. */
  delayMs: number | null;
  /** Why the loop stopped, when stopping. */
  stop: StopReason | null;
  /** Time since the call started, ms. */
  elapsedMs: number;
  /** The request URL, with secret query values masked. */
  url: string;
  /** Which route answered: 0 is the request as sent, 1.. the fallback routes in order. */
  route: number;
  /** Whether a network request was made, or the open quota breaker answered. */
  source: 'network' | 'breaker';
  /**
   * The tokens the request was expected to use, booked against the server's tokens limits:
   * its prompt characters ÷ 4 plus `max_tokens` (or `max_completion_tokens`, `max_output_tokens`),
   * read from a string body. `null` when the body does not tell (bytes, a form, a stream).
   */
  tokens: number | null;
  classification: Classification;
}

/** Why a call stopped sending. */
export type StopReason =
  | 'success'
  | 'not_retryable'
  | 'retries_exhausted'
  | 'retry_after_too_long'
  | 'deadline'
  | 'body_not_replayable'
  | 'retry_budget_empty'
  | 'breaker_open';

/** Passed to `onQuotaExhausted`. Never holds the API key. */
export interface QuotaInfo {
  classification: Classification;
  /** The request URL, with secret query values masked. */
  url: string;
  attempt: number;
  /** The route that was out of quota (0: the request as sent). */
  route: number;
  /**
   * `false` for a quota response from the server (alert on these); `true` when the
   * open quota breaker answered without a network call (a fallback may still be returned).
   */
  breakerOpen: boolean;
}

/** A fallback route, used when the routes before it are out of quota. */
export interface Route {
  /** Replaces the API key (the Authorization bearer, `x-api-key` or `api-key` header). */
  apiKey?: string;
  /** Replaces the scheme, host and port of the URL; the path is kept. */
  baseURL?: string;
  /** Replaces `model` in a JSON string body. */
  model?: string;
}

/** The retry budget: retries cost tokens, successes refund them (AWS SDK "standard" retry quota). */
export interface RetryBudgetOptions {
  /** @default 500 */
  capacity?: number;
  /** Tokens one retry costs. @default 5 */
  retryCost?: number;
  /** Tokens a success refunds. @default 1 */
  refund?: number;
}

/** The proactive throttle's settings; `throttle: true` is `{ coldStart: 1 }`. */
export interface ThrottleOptions {
  /**
   * Requests sent to an origin and key nothing has been heard from yet; the other calls wait
   * (each polling with its own timer) for the first answer, whose headers say how much room is
   * left, instead of bursting blind. 0 lets every call go at once. An integer from 0 to 1000. @default 1
   */
  coldStart?: number;
}

/** Options of `createFetch()`. Unknown keys and wrong types throw. */
export interface RatewiseOptions {
  /** Retries after the first attempt. @default 3 */
  maxRetries?: number;
  /** First backoff step, ms. @default 500 */
  baseDelayMs?: number;
  /** Longest backoff delay, ms. @default 30000 */
  maxDelayMs?: number;
  /** How backoff delays are randomised. @default 'full' */
  jitter?: 'full' | 'equal' | 'decorrelated' | 'none';
  /** The longest server wait hint that is waited out; a longer one gives up at once. @default 60000 */
  maxRetryAfterMs?: number;
  /** Time budget of each call, ms: no attempt starts and no sleep runs past it. */
  deadlineMs?: number;
  /** Aborts every call made through this fetch. */
  signal?: AbortSignal;
  /** Reject with typed errors instead of returning the failed response. @default false */
  throwOnError?: boolean;
  /**
   * Called once when a quota is exhausted. Return (or resolve to) a Response,
   * such as a cached or fallback answer, to use it in place of the error.
   */
  onQuotaExhausted?: (info: QuotaInfo) => Response | undefined | Promise<Response | undefined>;
  /** Called before every retry sleep. Exceptions are ignored. */
  onRetry?: (event: AttemptEvent) => void;
  /** Called after every attempt. Exceptions are ignored. */
  onEvent?: (event: AttemptEvent) => void;
  /** The fetch to wrap. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** How much of an error body is read to classify it, bytes. @default 65536 */
  maxErrorBodyBytes?: number;
  /** Calls in flight at once; more wait in a FIFO queue. @default Infinity */
  maxConcurrency?: number;
  /** Calls that may wait for a slot; more reject with QueueFullError. @default Infinity */
  maxQueue?: number;
  /**
   * Hold attempts from the rate-limit headers of every response (2xx included), per origin and
   * API key, instead of learning the limit from 429s: a used-up window that refills all at once
   * releases its waiters at the reset the server announced (as many as fit); one that refills
   * continuously (a token bucket) lets each go when there is room; token limits are booked with
   * each request's estimated tokens. A wait longer than `maxRetryAfterMs` or past the deadline
   * is not waited out: the request goes. `false` turns it off. @default true
   */
  throttle?: boolean | ThrottleOptions;
  /** The retry budget, or `false` to retry without one. @default { capacity: 500, retryCost: 5, refund: 1 } */
  retryBudget?: boolean | RetryBudgetOptions;
  /**
   * After a quota failure, calls with the same origin and key fail at once for this
   * long (same classification, no network call); then one probe is let through. @default 300000
   */
  quotaCooldownMs?: number;
  /** Fallback routes, tried in order when the one before is out of quota or its breaker is open. */
  routes?: Route[];
}

/** Counters over the life of one `createFetch()` instance. */
export interface RatewiseStats {
  calls: number;
  /** Attempts, including those answered by the open quota breaker. */
  attempts: number;
  retries: number;
  /** Time slept before retries, ms. */
  waitedMs: number;
  byKind: Partial<Record<Kind, number>>;
  byStop: Partial<Record<StopReason, number>>;
  /** Requests that went to the network. */
  networkCalls: number;
  /** Attempts answered by the open quota breaker. */
  shortCircuits: number;
  /** Time waited for the proactive throttle, ms. */
  throttledMs: number;
  /** Calls that waited for a concurrency slot. */
  queued: number;
  /** Final answers per route (0: the request as sent). */
  byRoute: number[];
}

/** One key's quota breaker, for a health endpoint. Never holds the key. */
export interface BreakerState {
  /** 8 hex characters of a hash of the origin and API key. */
  key: string;
  state: 'open' | 'half_open';
  openedAtMs: number;
  /** When the next probe may go. */
  retryAtMs: number;
  /** Trips in a row since the key last worked. */
  trips: number;
}

/** A `fetch` that routes every failure by its classification. */
export interface RatewiseFetch {
  (input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Counts per kind, retries and total time waited. */
  stats(): RatewiseStats;
  /** The keys whose quota breaker is open or probing (empty when all is well). */
  breaker(): BreakerState[];
  /** Closes every quota breaker, e.g. once billing is fixed. */
  resetBreaker(): void;
}

/**
 * Returns a drop-in `fetch` that retries rate limits and overload with
 * backoff and server hints, fails fast on exhausted quota (calling
 * `onQuotaExhausted`), and never retries auth or bad requests.
 *
 * @throws {TypeError | RangeError} naming the option, for bad options.
 * @example
 * const client = new OpenAI({ fetch: createFetch({ onQuotaExhausted: page }), maxRetries: 0 });
 */
export function createFetch(options?: RatewiseOptions): RatewiseFetch;

interface ErrorDetails {
  kind: Kind | 'queue_full';
  status: number;
  attempts: number;
  reason: StopReason | string | null;
  classification: Classification | null;
  retryAfterMs: number | null;
  response: Response | null;
}

/** Base class of the errors `throwOnError: true` rejects with. */
export class RatewiseError extends Error implements ErrorDetails {
  readonly code: string;
  kind: Kind | 'queue_full';
  status: number;
  attempts: number;
  reason: StopReason | string | null;
  classification: Classification | null;
  retryAfterMs: number | null;
  response: Response | null;
}
/** The quota is exhausted: waiting will not help. `code` is 'RATEWISE_QUOTA_EXHAUSTED'. */
export class QuotaExhaustedError extends RatewiseError {}
/** Still rate limited after the retries. `code` is 'RATEWISE_RATE_LIMITED'. */
export class RateLimitError extends RatewiseError {}
/** Still overloaded or erroring after the retries. `code` is 'RATEWISE_OVERLOADED'. */
export class OverloadedError extends RatewiseError {}
/** Rejected as sent (auth, bad request, context length…). `code` is 'RATEWISE_REQUEST_REJECTED'. */
export class RequestRejectedError extends RatewiseError {}
/** No response after the retries. `code` is 'RATEWISE_NETWORK'. */
export class NetworkError extends RatewiseError {}
/** The concurrency queue was full. `code` is 'RATEWISE_QUEUE_FULL'. */
export class QueueFullError extends RatewiseError {}

/** Guards that work across realms and duplicate package copies. */
export function isRatewiseError(e: unknown): e is RatewiseError;
export function isQuotaExhaustedError(e: unknown): e is QuotaExhaustedError;
export function isRateLimitError(e: unknown): e is RateLimitError;
export function isOverloadedError(e: unknown): e is OverloadedError;
export function isRequestRejectedError(e: unknown): e is RequestRejectedError;
export function isNetworkError(e: unknown): e is NetworkError;
export function isQueueFullError(e: unknown): e is QueueFullError;
