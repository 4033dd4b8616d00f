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
  | 'unknown'
  | 'budget_exhausted';

/**
 * What to do: `retry` (rate_limit, overloaded, server_error, timeout, network),
 * `alert` (quota_exhausted, budget_exhausted: waiting will not help, tell a human),
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
  | 'vertex'
  | 'bedrock'
  | 'xai'
  | 'cohere'
  | 'together'
  | 'fireworks'
  | 'unknown';

/**
 * The window of the rate limit or quota that was hit, when the response
 * names it ("tokens per day (TPD)", a `…PerDay…` quota, "1000 API calls /
 * month"). `day` and `month` heal in hours: fail over instead of waiting.
 */
export type LimitWindow = 'minute' | 'hour' | 'day' | 'week' | 'month';

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
  /** The window of the limit that was hit (rate_limit, quota_exhausted, request_too_large), when named; else `null`. */
  window: LimitWindow | null;
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

/**
 * A call's lane: `interactive` (the default) calls wait ahead of `bulk` ones for a concurrency slot,
 * and with `lanes.bulk.route` a bulk call under pressure starts on that cheaper route. Set per call
 * with the `x-ratewise-priority` request header or `init.lane`; neither is sent.
 */
export type Lane = 'interactive' | 'bulk';

/** `fetch` init, plus the call's lane. */
export interface RatewiseRequestInit extends RequestInit {
  lane?: Lane;
  /** The tag of the budget this call counts against (as `x-ratewise-budget`; never sent). */
  budget?: string;
}

/** Passed to `onRetry` and `onEvent` after every attempt. */
export interface AttemptEvent {
  /** Tells an attempt from a `UsageEvent` in `onEvent`. */
  type: 'attempt';
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
  /**
   * Whether a network request was made, the open quota breaker answered, or (one more event after
   * the call's last attempt, `kind: 'ok'`) the cache answered because every route was out of quota or down.
   */
  source: 'network' | 'breaker' | 'cache';
  /** The call's lane. */
  lane: Lane;
  /**
   * The tokens the request was expected to use, booked against the server's tokens limits:
   * its prompt characters ÷ 4 plus `max_tokens` (or `max_completion_tokens`, `max_output_tokens`),
   * read from a string body. `null` when the body does not tell (bytes, a form, a stream).
   */
  tokens: number | null;
  /** True on the one attempt whose quota failure opened the breaker: once per incident. */
  firstReport: boolean;
  classification: Classification;
  /** How long the call waited in the concurrency queue before this (first) attempt, ms; 0 otherwise. */
  queuedMs: number;
  /** How long the throttle held this attempt, ms. */
  pacedMs: number;
  /**
   * Why the throttle (last) held it: `window`, a reported window is used up until its reset or refill;
   * `answer`, held for an answer in flight to tell what is left (a cold start); `coordinator`, the
   * coordinator's permits are spent. `null` when not held.
   */
  pacedReason: 'window' | 'answer' | 'coordinator' | null;
  /** How long this attempt waited for the coordinator's lease answers, ms. */
  leasedMs: number;
  /** Whether this attempt's answer opened or closed a breaker (quota or outage). */
  breaker: 'opened' | 'closed' | null;
  /** The model the attempt's route asked for (a Gemini path, else the JSON body's `model`), if known. */
  model: string | null;
  /**
   * The provider's id of this request, from the response (`x-request-id`: OpenAI, Groq, Mistral and
   * most others; `request-id`: Anthropic; `apim-request-id` or `x-ms-request-id`: Azure;
   * `x-amzn-requestid`: Bedrock), to match the call in the provider's dashboard.
   */
  requestId: string | null;
}

/**
 * The tokens an answer used, the same whatever the provider: `inputTokens` counts every input
 * token, cached ones included (Anthropic's and Bedrock's uncached count plus their cache reads and
 * writes); `outputTokens` every output token, reasoning included (Gemini's candidates plus thoughts).
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from the provider's cache (a part of `inputTokens`). */
  cachedInputTokens: number;
  /** Input tokens written to the provider's cache (Anthropic, Bedrock; a part of `inputTokens`). */
  cacheWriteTokens: number;
  /** Reasoning tokens (a part of `outputTokens`). */
  reasoningTokens: number;
}

/**
 * Passed to `onUsage` (and to `onEvent`, when the usage tap is on) once a successful answer's body
 * has ended, been cancelled or failed: what the answer used and cost.
 */
export interface UsageEvent {
  type: 'usage';
  usage: Usage;
  /** The model the answer names (else the request's, from a Gemini-style path or the route), or null. */
  model: string | null;
  /**
   * The answer's id (`chatcmpl-…`, `resp_…`, `msg_…`, Gemini's `responseId`), or null when it names
   * none: visible ASCII, at most 128 characters. The call span's `gen_ai.response.id`.
   */
  responseId: string | null;
  /**
   * USD: the provider's own figure when it reports one (OpenRouter's `usage.cost`), else from
   * `prices`. `undefined` when no price is known (a warning is logged once per model).
   */
  costUsd: number | undefined;
  /**
   * True when a count is an estimate: the answer reported no usage (its text ÷ 4 characters per
   * token, the request's own estimate for the input), or its body was cut after its last usage.
   */
  estimated: boolean;
  /** How the body ended: read to the end, cancelled by the caller, or failed mid-way. */
  end: 'complete' | 'cancelled' | 'failed';
  provider: Provider;
  /** The request URL, with secret query values masked. */
  url: string;
  /** Which route answered: 0 is the request as sent, 1.. the fallback routes in order. */
  route: number;
  lane: Lane;
  /** Time since the call started, ms. */
  elapsedMs: number;
}

/** One model's prices, USD per million tokens. */
export interface ModelPrice {
  /** Uncached input. */
  input: number;
  /** Output, reasoning included. */
  output: number;
  /** Input read from the cache. @default input */
  cachedInput?: number;
  /** Input written to the cache. @default input */
  cacheWrite?: number;
}

/**
 * Prices by model name (`gpt-4o` also prices `gpt-4o-2024-08-06` and `openai/gpt-4o`, never
 * `gpt-4o-mini`), or a function returning USD (e.g. `genaiPrices` from `ratewise/prices`).
 */
export type Prices =
  | Record<string, ModelPrice>
  | ((answer: { model: string | null; provider: Provider; usage: Usage }) => number | undefined);

/** Usage summed over many answers. */
export interface UsageSum extends Usage {
  answers: number;
  /** Answers whose usage was (partly) estimated. */
  estimated: number;
  /** USD, over the answers with a price. */
  costUsd: number;
  /** Answers with no price. */
  unpriced: number;
}

/** `stats().usage`: zero until the usage tap is on. */
export interface UsageStats {
  total: UsageSum;
  /** Per route (0: the request as sent). */
  byRoute: UsageSum[];
  byLane: Record<Lane, UsageSum>;
  /** Per budget and scope: the instance's books, and the coordinator's as its last answer had them. */
  byBudget: BudgetBooks[];
}

/** One scope's books of a budget, in `stats().usage.byBudget`. */
export interface BudgetBooks {
  budget: string;
  /** A short hash of the scope (the limit key, or the tag): never a credential. */
  scope: string;
  unit: 'usd' | 'tokens';
  spent: number;
  /** Held by calls in flight. */
  reserved: number;
  limit: number;
  /** (spent + reserved) / limit. */
  fraction: number;
  /** When the window ends, ms since the epoch. */
  windowEndsAt: number;
  /** Whether these are the coordinator's books (as its last reserve answer had them). */
  shared: boolean;
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
  | 'breaker_open'
  | 'subrequests_spent';

/** Passed to `onQuotaExhausted`. Never holds the API key. */
export interface QuotaInfo {
  classification: Classification;
  /** The request URL, with secret query values masked. */
  url: string;
  attempt: number;
  /** The route that was out of quota (0: the request as sent). */
  route: number;
  /**
   * `false` for a quota response from the server; `true` when the open quota breaker
   * answered without a network call (a fallback may still be returned).
   */
  breakerOpen: boolean;
  /**
   * `true` for the one failure that opened the quota breaker: once per incident, however
   * many calls were in flight or probes fail after. Page a human on these only.
   */
  firstReport: boolean;
}

/** The kinds `failoverOn` may list. */
export type FailoverKind = 'quota_exhausted' | 'rate_limit' | 'overloaded' | 'server_error' | 'timeout' | 'network';

/**
 * A fallback route, used in order when the routes before it are out of quota, down
 * (outage breaker) or, per `failoverOn`, failing. Each field replaces part of the request.
 */
export interface Route {
  /** Replaces the API key (the Authorization bearer, `x-api-key` or `api-key` header). */
  apiKey?: string;
  /**
   * An API base as SDKs take one (`https://gw.example/openai/v1`): replaces the URL's origin
   * and the path it shares with it (`/v1/chat/completions` → `/openai/v1/chat/completions`).
   */
  baseURL?: string;
  /** Replaces `model` in a JSON string body, or in a Gemini-style path (`/models/{model}:…`). */
  model?: string;
  /** Sends to an Azure OpenAI deployment instead (alone: it sets the URL, the key and the model). */
  azure?: AzureRoute;
  /**
   * Headers the route sets, or removes with `null` (after `apiKey`): `{ 'OpenAI-Project': 'proj_B' }` sends the
   * same request to a sibling project. Its breaker and limits are those of the headers it sends.
   */
  headers?: Record<string, string | null>;
}

/**
 * An Azure OpenAI deployment (the classic data plane):
 * `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…` with the `api-key` header.
 * The request's own credentials are not sent there. The body must be one Azure accepts (OpenAI's chat format).
 */
export interface AzureRoute {
  /** `https://{resource}.openai.azure.com` (or any endpoint, such as `…cognitiveservices.azure.com`); or give `resource`. */
  endpoint?: string;
  /** The resource name in `https://{resource}.openai.azure.com`; or give `endpoint`. */
  resource?: string;
  /** The deployment, which names the model. */
  deployment: string;
  /** The `api-version` query parameter, e.g. `'2024-10-21'`. */
  apiVersion: string;
  /** Sent as the `api-key` header. */
  apiKey: string;
}

/** The outage breaker: consecutive failures that open it for a route, and for how long. */
export interface OutageBreakerOptions {
  /** Overload, server-error, timeout or network failures in a row. @default 5 */
  failures?: number;
  /** How long the route is skipped before one probe, ms. @default 30000 */
  cooldownMs?: number;
}

/** Passed to `onBreakerOpen` and `onBreakerClose`: once per opening and closing. Never holds the key. */
export interface BreakerEvent {
  /** `quota`: calls are answered from the breaker; `outage`: the route is skipped while another can go. */
  kind: 'quota' | 'outage';
  /** 8 hex characters of a hash of the origin, credentials (and model, where limits are per model). */
  key: string;
  /** The route it concerns (0: the request as sent). */
  route: number;
  /** The request URL on that route, with secret query values masked. */
  url: string;
  /** When it opened: when the next probe may go, ms since the epoch; `null` when it closed. */
  retryAtMs: number | null;
  /** The answer that opened or closed it. */
  classification: Classification;
}

/** Priority lanes: where a bulk call goes under pressure. */
export interface LanesOptions {
  bulk?: BulkLaneOptions;
}

/** The bulk lane. */
export interface BulkLaneOptions {
  /**
   * The route (1 is the first of `routes`) a bulk call starts on when the primary is under pressure:
   * the call had to wait for a concurrency slot, or the throttle knows the primary's rate-limit window
   * is nearly spent (a tenth or less left, at least 1, or calls waiting for it).
   */
  route: number;
}

/** Where `cache` keeps answers: `get` may return (or resolve to) a Response or undefined. */
export interface CacheStore {
  get(key: string): Response | undefined | null | Promise<Response | undefined | null>;
  put(key: string, response: Response): void | Promise<void>;
}

/**
 * The cached-response fallback: the last good answer to an identical request (method, URL without
 * credentials, body, and the same credentials: one tenant's answer is never given to another) is given
 * when every route the call could try was out of quota or down.
 */
export interface CacheOptions {
  /** How long a stored answer may be given, ms. */
  ttlMs: number;
  /**
   * Where answers are kept. @default `caches.default` in Workers, `caches.open('ratewise')` in browsers,
   * a bounded in-memory LRU in Node, Deno and Bun
   */
  store?: CacheStore;
  /** The key of a request, in place of a hash of method, URL and body (e.g. to keep tenants apart). */
  key?: (request: Request) => string | Promise<string>;
  /** Store `text/event-stream` answers too (read whole, replayed as one complete stream). @default false */
  streams?: boolean;
  /**
   * Store any request with a replayable body, not only GETs and POSTs to a generation endpoint
   * (`/chat/completions`, `/responses`, `/embeddings`, `/messages`, `:generateContent`, …). @default false
   */
  anyRequest?: boolean;
  /**
   * Let requests with different credentials (API keys, `?key=`, `OpenAI-Project`) share entries. Off, an
   * answer is only given to the tenant it was made for: answers can depend on the account (fine-tuned
   * models, org settings, paid data). @default false
   */
  shareAcrossKeys?: boolean;
  /** Entries the in-memory store keeps. @default 500 */
  maxEntries?: number;
  /** Body bytes the in-memory store keeps; a larger answer is never stored (any store). @default 8388608 */
  maxBytes?: number;
}

/** The retry budget: retries cost tokens, successes refund them (AWS SDK "standard" retry quota). */
/** The proactive throttle's settings; `throttle: true` is `{ coldStart: 1 }`. */
export interface ThrottleOptions {
  /**
   * Requests sent to an origin and key nothing has been heard from yet; the other calls wait
   * (each polling with its own timer) for the first answer whose headers say how much room is
   * left, instead of bursting blind, but only a short step (twice the shortest round trip seen,
   * 100 to 500 ms), after which twice as many may go, and so on: never a whole completion.
   * 0 lets every call go at once. An integer from 0 to 1000. @default 1
   */
  coldStart?: number;
}

export interface RetryBudgetOptions {
  /** @default 500 */
  capacity?: number;
  /** Tokens one retry costs. @default 5 */
  retryCost?: number;
  /** Tokens a success refunds. @default 1 */
  refund?: number;
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
  // `void`: a hook that only alerts (a block body with no return) is what most users write.
  // biome-ignore lint/suspicious/noConfusingVoidType: a callback's result, not a value
  onQuotaExhausted?: (info: QuotaInfo) => Response | undefined | void | Promise<Response | undefined | void>;
  /** Called before every retry sleep. Exceptions are ignored. */
  onRetry?: (event: AttemptEvent) => void;
  /**
   * Called after every attempt, and (when the usage tap is on) with a `UsageEvent` when an answer's
   * body ends. Exceptions are ignored.
   */
  // A method's parameter is bivariant: a hook written for AttemptEvent alone still type-checks.
  onEvent?: { hook(event: AttemptEvent | UsageEvent): void }['hook'];
  /** The fetch to wrap. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** How much of an error body is read to classify it, bytes. @default 65536 */
  maxErrorBodyBytes?: number;
  /** Calls in flight at once; more wait in a queue, interactive calls first, each lane FIFO. @default Infinity */
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
   * long (same classification, no network call); then one probe is let through. Each
   * probe that finds the quota still gone doubles it, up to 1 hour. @default 300000
   */
  quotaCooldownMs?: number;
  /** Fallback routes, tried in order when the one before is out of quota, down, or failing as `failoverOn` says. */
  routes?: Route[];
  /**
   * The kinds that move a call to the next route once the current one has nothing more to
   * give: the kind is not retried, its retries are spent, or the server asks for a wait over
   * `maxRetryAfterMs`. @default ['quota_exhausted']
   */
  failoverOn?: FailoverKind[];
  /**
   * Opens for a route after consecutive overload, server-error, timeout or network failures;
   * while open, calls skip that route for another that can go (with none, they are sent as
   * usual). `false` disables it. @default { failures: 5, cooldownMs: 30000 }
   */
  outageBreaker?: boolean | OutageBreakerOptions;
  /** Called once when a quota or outage breaker opens (not again for each call or failed probe). Exceptions are ignored. */
  onBreakerOpen?: (event: BreakerEvent) => void;
  /** Called once when a breaker closes (a call on its route succeeded). Exceptions are ignored. */
  onBreakerClose?: (event: BreakerEvent) => void;
  /**
   * A `RatewiseCoordinator` Durable Object namespace binding (`env.RATEWISE`): a quota seen by any
   * isolate opens the breaker in all of them. Usually passed per invocation to `forInvocation`,
   * where `env` is at hand.
   */
  coordinator?: CoordinatorNamespace | Coordinator;
  /** Called when the coordinator fails or takes over a second; the call goes on with local state. */
  onCoordinatorError?: (info: { op: 'lookup' | 'publish' | 'lease' | 'budget'; message: string }) => void;
  /**
   * Read a 2xx `text/event-stream` up to its first event (16 KB, 5 s at most) before answering: if
   * that event is an error (`event: error`, `response.failed`, a `data: {"error":…}` line), the
   * attempt is routed as the answer it stands for (retry, alert, breaker, fallback). The returned
   * stream still yields every byte, in order, unbuffered after the peek. @default false
   */
  peekStream?: boolean;
  /**
   * With `peekStream`, called for an error event that comes after output reached the caller: it is
   * passed through to the caller and never retried. Exceptions are ignored.
   */
  onStreamError?: (info: { classification: Classification }) => void;
  /**
   * The cached-response fallback: successes are copied in the background (the caller's response is
   * neither delayed nor changed), and a call whose routes were all out of quota or down (quota_exhausted,
   * the open breaker, overloaded, 5xx, timeout, network) gets the last good answer to the same request,
   * marked `x-ratewise-cache: hit` with `age` and `x-ratewise-cache-age-ms`. A lookup waits (up to
   * 1 s) for a copy of the same request still being stored, unless a Worker's other invocation made it.
   */
  cache?: CacheOptions;
  /** Priority lanes: with `bulk.route`, bulk calls move to that route under pressure (see `Lane`). */
  lanes?: LanesOptions;
  /**
   * OpenTelemetry spans and metrics of every call (GenAI semantic conventions): `true` takes the
   * global tracer and meter of `@opentelemetry/api` (an optional peer dependency), or give them.
   * @default false
   */
  telemetry?: boolean | TelemetryOptions;
  /**
   * The usage tap: `true` reads every successful answer's usage as its body passes to the caller
   * (unchanged, never delayed), `false` never.
   * @default on when `onUsage`, `prices`, `budgets` or `telemetry` is given
   */
  usage?: boolean;
  /** Prices the answers (`UsageEvent.costUsd`, `stats().usage`). @default none */
  prices?: Prices;
  /** Called once per successful answer with what it used and cost. Exceptions are ignored. */
  onUsage?: (event: UsageEvent) => void;
  /**
   * Spend budgets: a call holds its estimate (input estimate plus its output cap, at its model's prices)
   * on every budget that applies before it is sent, and settles its real cost when its usage is known. A
   * spent budget answers at once with a local 429 (`x-should-retry: false`, a JSON body naming it), or with
   * `throwOnError` a `BudgetExhaustedError`; nothing is sent. The books are the instance's, in memory.
   * Turns the usage tap on. @default none
   */
  budgets?: SpendBudget[];
  /** Called once per threshold per window, and when the forecast says the cap comes before the window ends. */
  onBudget?: (alert: BudgetAlert) => void;
}

/** The `telemetry` option; a tracer or meter left out is taken from the global API. */
export interface TelemetryOptions {
  /** An OpenTelemetry `Tracer` (from `@opentelemetry/api`). */
  tracer?: { startSpan(...args: never[]): unknown };
  /** An OpenTelemetry `Meter`. */
  meter?: { createHistogram(...args: never[]): unknown; createCounter(...args: never[]): unknown };
  /** Also record the older `gen_ai.client.operation.duration` and `gen_ai.client.token.usage`. @default false */
  legacyMetrics?: boolean;
  /**
   * With the usage tap on (telemetry turns it on unless `usage: false`), a call span ends when its
   * answer's body ends, fails or is cancelled, with its usage; a body still unread this many ms after
   * the headers ends its span then, at the time of the headers, marked `ratewise.usage.pending`.
   * @default 300000
   */
  bodyWaitMs?: number;
}

/** A spend budget. */
export interface SpendBudget {
  /** Unique among the instance's budgets. */
  name: string;
  /** The cap in USD (priced with `prices`; an answer with no price adds nothing). Give this or `limitTokens`. */
  limitUsd?: number;
  /** The cap in tokens, input and output together. */
  limitTokens?: number;
  /** A UTC calendar day or month, or a rolling number of ms. */
  window: 'day' | 'month' | number;
  /** The fractions of the cap that alert, once each per window. @default [0.5, 0.8, 0.95] */
  alertAt?: number[];
  /**
   * Applies only to calls tagged with it (`x-ratewise-budget: <tag>` or `init.budget`, stripped before
   * sending); without a tag, the budget applies to every call, per credential and project.
   */
  tag?: string;
  /**
   * At the cap, `'fail'`: the call is answered locally (a 429, or `BudgetExhaustedError`). `{ route, from? }`
   * also moves bulk calls to `routes[route - 1]` once the budget is `from` spent (interactive calls keep
   * the primary until the cap). @default 'fail'
   */
  onExhausted?: 'fail' | { route: number; from?: number };
}

/** What `onBudget` gets. */
export interface BudgetAlert {
  budget: string;
  unit: 'usd' | 'tokens';
  spent: number;
  limit: number;
  spentUsd?: number;
  limitUsd?: number;
  spentTokens?: number;
  limitTokens?: number;
  /** Spent over the limit. */
  fraction: number;
  /** The threshold crossed, or null for the forecast alert. */
  threshold: number | null;
  /** When the window ends, ms since the epoch. */
  windowEndsAt: number;
  /** When the cap is hit at the current rate, ms since the epoch, or null before there is a rate. */
  forecast: number | null;
}

/** The part of a Durable Object namespace binding ratewise uses. */
export interface CoordinatorNamespace {
  idFromName(name: string): unknown;
  get(id: never): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

/** A coordinator that answers ratewise's messages itself: what `redisCoordinator()` returns. */
export interface Coordinator {
  send(key: string, message: unknown): Promise<unknown>;
}

/** Options of `redisCoordinator()`. */
export interface RedisCoordinatorOptions {
  /** What every key ratewise writes starts with, for a Redis server shared with others. @default 'ratewise:' */
  prefix?: string;
}

/** A node-redis 4/5 client (`sendCommand`), an ioredis client (`call`, `status`) or an `@upstash/redis` one (`eval`, `evalsha`). */
export type RedisClient =
  | { sendCommand(args: string[]): Promise<unknown>; isReady?: boolean }
  | { call(command: string, ...args: (string | number)[]): Promise<unknown>; status: string }
  | { eval(...args: never[]): Promise<unknown>; evalsha(...args: never[]): Promise<unknown> };

/**
 * A coordinator that shares quota breakers and request leases across processes through Redis
 * (Node, Deno, Bun; Upstash over HTTP anywhere): `createFetch({ coordinator: redisCoordinator(client) })`.
 * Keys are hashes (no credential reaches Redis), each with a TTL. A Redis that is down, slow or
 * failing is reported once per incident (`onCoordinatorError`) and calls go on with local state.
 */
export function redisCoordinator(client: RedisClient, options?: RedisCoordinatorOptions): Coordinator;

/**
 * The Durable Object that shares quota breakers across Worker isolates, one object per
 * limit key (named by a hash, never the credentials). Re-export it from your Worker
 * (`export { RatewiseCoordinator } from 'ratewise'`) and bind it in wrangler.toml.
 */
export class RatewiseCoordinator {
  constructor(ctx: {
    storage: { get(key: string): Promise<unknown>; put(key: string, value: unknown): Promise<void> };
    blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
  });
  fetch(request: Request): Promise<Response>;
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
  /** Coordinator lookups and reports that failed or timed out (calls went on with local state). */
  coordinatorErrors: number;
  /** Calls answered from the cache (`cache`); these are not in `byRoute`. */
  cacheHits: number;
  /** Final answers per lane. */
  byLane: Record<Lane, number>;
  /** Bulk calls that started on `lanes.bulk.route` because the primary was under pressure. */
  bulkDiverted: number;
  /** Tokens and cost of the answers the usage tap read. */
  usage: UsageStats;
}

/** One key's open breaker, for a health endpoint. Never holds the key. */
export interface BreakerState {
  /** 8 hex characters of a hash of the origin and API key (and model, where limits are per model). */
  key: string;
  /** `quota`: answered from the breaker; `outage`: the route is skipped while another can go. */
  kind: 'quota' | 'outage';
  state: 'open' | 'half_open';
  openedAtMs: number;
  /** When the next probe may go. */
  retryAtMs: number;
  /** Trips in a row since the key last worked (the cooldown doubles with each). */
  trips: number;
}

/** A `fetch` that routes every failure by its classification. */
export interface RatewiseFetch {
  (input: RequestInfo | URL, init?: RatewiseRequestInit): Promise<Response>;
  /** Counts per kind, retries and total time waited. */
  stats(): RatewiseStats;
  /** The keys whose quota or outage breaker is open or probing (empty when all is well). */
  breaker(): BreakerState[];
  /** Closes every breaker, quota and outage, e.g. once billing is fixed (no `onBreakerClose`). */
  resetBreaker(): void;
  /**
   * A fetch for one Workers invocation: the same instance (queue, throttle, breaker),
   * with every network attempt of its calls (first attempts, retries, fallback routes)
   * counted against one subrequest budget. A call stops with its last answer
   * (`stop: 'subrequests_spent'`) rather than make one attempt too many; a call made
   * with nothing left rejects with `SubrequestsSpentError`. Breaker answers are free.
   * Fetches made outside ratewise count against Cloudflare's limit too: leave room for them.
   */
  forInvocation(options?: InvocationOptions): InvocationFetch;
  /** One JSON-ready snapshot for a status route: breakers, learned limits, queue, coordinator. */
  health(): RatewiseHealth;
}

/** A rate-limit window as last heard: its limit and what was left (local bookings taken off). */
export interface HealthWindow {
  limit: number | null;
  remaining: number | null;
}

/** What `fetch.health()` returns (keys only as 8-hex hashes, never a credential). */
export interface RatewiseHealth {
  /** False while any breaker is open or probing. */
  ok: boolean;
  /** When the snapshot was taken, ms since the epoch. */
  atMs: number;
  breakers: BreakerState[];
  /** What the throttle learned of each key from the `x-ratelimit-*` headers (`null`: not reported). */
  limits: {
    key: string;
    requests: HealthWindow | null;
    tokens: HealthWindow | null;
    inputTokens: HealthWindow | null;
    outputTokens: HealthWindow | null;
    /** Requests counted in flight. */
    inFlight: number;
    /** Calls the throttle holds. */
    waiting: number;
  }[];
  /** The concurrency queue (`maxConcurrency`): calls running and calls waiting for a slot. */
  queue: { running: number; waiting: number };
  /** The Durable Object coordinator: whether one is set on the instance, and its failures so far. */
  coordinator: { configured: boolean; errors: number };
  /**
   * Every spend budget's books in this instance, one per scope (the limit key, or the tag): `scope` is
   * an 8-hex hash; `spent` and `reserved` (held by calls in flight) in the budget's `unit`; `fraction`
   * is (spent + reserved) / limit, as the alerts compare; `windowEndsAt`: when it resets, ms since the epoch.
   */
  budgets: {
    name: string;
    scope: string;
    unit: 'usd' | 'tokens';
    spent: number;
    reserved: number;
    limit: number;
    fraction: number;
    windowEndsAt: number;
  }[];
  calls: { total: number; attempts: number; retries: number };
}

/** Options of `forInvocation()`. */
export interface InvocationOptions {
  /** Network attempts this invocation may make through ratewise. @default 50 (the Workers free plan) */
  subrequests?: number;
  /** The coordinator for this invocation's calls (`env.RATEWISE`), in place of the instance's. */
  coordinator?: CoordinatorNamespace | Coordinator;
  /** The invocation's `ctx.waitUntil`: keeps it alive until a success is copied into the cache. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/** The fetch `forInvocation()` returns. */
export interface InvocationFetch {
  (input: RequestInfo | URL, init?: RatewiseRequestInit): Promise<Response>;
  /** The budget and how much of it is spent (reserved or sent). */
  subrequests(): { limit: number; spent: number };
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
  /** The failure's kind; `'queue_full'` on a QueueFullError, `'subrequests_spent'` on a SubrequestsSpentError. */
  kind: Kind | 'queue_full' | 'subrequests_spent';
  status: number;
  attempts: number;
  reason: StopReason | string | null;
  classification: Classification | null;
  retryAfterMs: number | null;
  response: Response | null;
  /** True on the one quota failure that opened the breaker: alert on this, once per incident. */
  firstReport: boolean;
}

/** Base class of the errors `throwOnError: true` rejects with. */
export class RatewiseError extends Error implements ErrorDetails {
  readonly code: string;
  kind: Kind | 'queue_full' | 'subrequests_spent';
  status: number;
  attempts: number;
  reason: StopReason | string | null;
  classification: Classification | null;
  retryAfterMs: number | null;
  response: Response | null;
  /** True on the one quota failure that opened the breaker: alert on this, once per incident. */
  firstReport: boolean;
}
/** The quota is exhausted: waiting will not help. `code` is 'RATEWISE_QUOTA_EXHAUSTED'. */
export class QuotaExhaustedError extends RatewiseError {
  kind: 'quota_exhausted';
}
/** Still rate limited after the retries. `code` is 'RATEWISE_RATE_LIMITED'. */
export class RateLimitError extends RatewiseError {
  kind: 'rate_limit';
}
/** Still overloaded or erroring after the retries. `code` is 'RATEWISE_OVERLOADED'. */
export class OverloadedError extends RatewiseError {
  kind: 'overloaded' | 'server_error';
}
/** Rejected as sent (auth, bad request, context length…). `code` is 'RATEWISE_REQUEST_REJECTED'. */
export class RequestRejectedError extends RatewiseError {
  kind: Exclude<
    Kind,
    'quota_exhausted' | 'rate_limit' | 'overloaded' | 'server_error' | 'timeout' | 'network' | 'budget_exhausted'
  >;
}
/** No response after the retries. `code` is 'RATEWISE_NETWORK'. */
export class NetworkError extends RatewiseError {
  kind: 'network' | 'timeout';
}
/** The concurrency queue was full. `code` is 'RATEWISE_QUEUE_FULL'. */
export class QueueFullError extends RatewiseError {
  kind: 'queue_full';
}
/** The invocation's subrequest budget was spent before the call: nothing was sent. `code` is 'RATEWISE_SUBREQUESTS_SPENT'. */
export class SubrequestsSpentError extends RatewiseError {
  kind: 'subrequests_spent';
}
/**
 * A spend budget (`budgets`) is spent: the call failed fast, sending nothing. `kind` is
 * 'budget_exhausted'. `code` is 'budget_exhausted'.
 */
export class BudgetExhaustedError extends RatewiseError {
  kind: 'budget_exhausted';
  /** The budget's name. */
  budget: string | null;
  /** When the budget's window resets, ms since the epoch. */
  resetsAtMs: number | null;
}

/** Guards that work across realms and duplicate package copies. */
export function isRatewiseError(e: unknown): e is RatewiseError;
export function isQuotaExhaustedError(e: unknown): e is QuotaExhaustedError;
export function isRateLimitError(e: unknown): e is RateLimitError;
export function isOverloadedError(e: unknown): e is OverloadedError;
export function isRequestRejectedError(e: unknown): e is RequestRejectedError;
export function isNetworkError(e: unknown): e is NetworkError;
export function isQueueFullError(e: unknown): e is QueueFullError;
export function isSubrequestsSpentError(e: unknown): e is SubrequestsSpentError;
export function isBudgetExhaustedError(e: unknown): e is BudgetExhaustedError;
