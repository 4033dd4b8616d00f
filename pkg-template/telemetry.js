// The OpenTelemetry side of createFetch({ telemetry }): spans and metrics of every call,
// made from what the wasm loop reports (the onEvent events, plus when each attempt is sent).
// Nothing here decides anything. Loaded lazily by the snippet js/telemetry.js the first
// time a createFetch() has `telemetry` on, so it costs nothing otherwise (and is not part
// of the glue's size budget). `@opentelemetry/api` is an optional peer dependency,
// imported only for `telemetry: true` or a missing tracer or meter, never bundled.
// No header, body or credential is read here: URLs arrive redacted.

// Names copied from open-telemetry/semantic-conventions-genai (schema gen-ai/1.42.0:
// docs/gen-ai/client-inference.md, gen-ai-metrics.md, docs/registry/attributes/gen-ai.md),
// and the stable server.*, url.*, http.* and error.* names of open-telemetry/semantic-conventions.
// Never imported from @opentelemetry/semantic-conventions at run time.
export const SCHEMA_URL = 'https://opentelemetry.io/schemas/gen-ai/1.42.0';
export const ATTR = {
  OPERATION: 'gen_ai.operation.name',
  PROVIDER: 'gen_ai.provider.name',
  REQUEST_MODEL: 'gen_ai.request.model',
  REQUEST_STREAM: 'gen_ai.request.stream',
  RESPONSE_MODEL: 'gen_ai.response.model',
  RESPONSE_ID: 'gen_ai.response.id',
  INPUT_TOKENS: 'gen_ai.usage.input_tokens',
  OUTPUT_TOKENS: 'gen_ai.usage.output_tokens',
  CACHE_READ_INPUT_TOKENS: 'gen_ai.usage.cache_read.input_tokens',
  REASONING_OUTPUT_TOKENS: 'gen_ai.usage.reasoning.output_tokens',
  TOKEN_TYPE: 'gen_ai.token.type',
  SERVER_ADDRESS: 'server.address',
  SERVER_PORT: 'server.port',
  ERROR_TYPE: 'error.type',
  HTTP_METHOD: 'http.request.method',
  HTTP_STATUS: 'http.response.status_code',
  URL_FULL: 'url.full',
};
export const METRIC = {
  DURATION: 'gen_ai.client.inference.duration',
  USAGE_INPUT: 'gen_ai.client.inference.usage.input_tokens',
  USAGE_OUTPUT: 'gen_ai.client.inference.usage.output_tokens',
  USAGE_CACHE_READ: 'gen_ai.client.inference.usage.cache_read.input_tokens',
  USAGE_REASONING: 'gen_ai.client.inference.usage.reasoning.output_tokens',
  // The older names, behind `telemetry.legacyMetrics`.
  LEGACY_DURATION: 'gen_ai.client.operation.duration',
  LEGACY_TOKENS: 'gen_ai.client.token.usage',
};
/** The spec's ExplicitBucketBoundaries for the duration histograms, in seconds. */
export const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** The spec's boundaries for gen_ai.client.token.usage, in tokens. */
export const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
// gen_ai.provider.name's well-known values, from ratewise's provider names.
const PROVIDERS = {
  openai: 'openai',
  azure: 'azure.ai.openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  vertex: 'gcp.vertex_ai',
  bedrock: 'aws.bedrock',
  groq: 'groq',
  mistral: 'mistral_ai',
  deepseek: 'deepseek',
  xai: 'x_ai',
  cohere: 'cohere',
};
// ratewise's own attributes and metrics: what the standard lacks.
export const RW = {
  ATTEMPTS: 'ratewise.attempts',
  ATTEMPT: 'ratewise.attempt',
  WAITED_MS: 'ratewise.waited_ms',
  STOP: 'ratewise.stop',
  ROUTE: 'ratewise.route',
  LANE: 'ratewise.lane',
  BREAKER: 'ratewise.breaker',
  SOURCE: 'ratewise.source',
  KIND: 'ratewise.kind',
  REQUEST_ID: 'ratewise.request_id',
  COST_USD: 'ratewise.cost_usd',
  USAGE_ESTIMATED: 'ratewise.usage.estimated',
  USAGE_END: 'ratewise.usage.end',
  USAGE_PENDING: 'ratewise.usage.pending',
  BUDGET_NAME: 'ratewise.budget.name',
  BUDGET_EXHAUSTED: 'ratewise.budget.exhausted',
  BUDGET_UNIT: 'ratewise.budget.unit',
  M_BUDGET_SPENT: 'ratewise.budget.spent',
  WAIT_KIND: 'ratewise.wait.kind',
  WAIT_MS: 'ratewise.wait.ms',
  WAIT_REASON: 'ratewise.wait.reason',
  M_ATTEMPTS: 'ratewise.client.attempts',
  M_WAIT: 'ratewise.client.wait',
  M_HELD: 'ratewise.client.throttled',
  M_BREAKERS: 'ratewise.breakers.open',
};
const SPAN_KIND_CLIENT = 2; // SpanKind.CLIENT
const STATUS_ERROR = 2; // SpanStatusCode.ERROR
// The key @opentelemetry/api's trace.setSpan uses (createContextKey is Symbol.for).
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
// Not a literal: bundlers leave it alone, so an absent package is not a build error.
const API = '@opentelemetry/api';
// Where @opentelemetry/api 1.x keeps its globals (the registered tracer and meter providers, the
// context manager) for every copy of it in the process: a bundled Worker, which cannot import the
// api by name at run time, still finds there what its bundled SDK registered.
const REGISTRY = Symbol.for('opentelemetry.js.api.1');
const registry = () => globalThis[REGISTRY];

/** A Context (the api's interface) without @opentelemetry/api: for a root parent. */
function rootContext(values = new Map()) {
  return {
    getValue: (key) => values.get(key),
    setValue: (key, value) => rootContext(new Map(values).set(key, value)),
    deleteValue: (key) => {
      const copy = new Map(values);
      copy.delete(key);
      return rootContext(copy);
    },
  };
}

/** How long, by default, a call span waits after the headers for its body to end (5 minutes). */
export const BODY_WAIT_MS = 300_000;

/**
 * Usage and cost as span attributes, from a usage event's `usage` (`{ inputTokens, outputTokens,
 * cachedInputTokens, reasoningTokens }`) and `costUsd`: only finite counts >= 0 are set.
 */
export function usageAttributes(usage, costUsd) {
  const out = {};
  const put = (name, n) => {
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0) out[name] = n;
  };
  put(ATTR.INPUT_TOKENS, usage?.inputTokens);
  put(ATTR.OUTPUT_TOKENS, usage?.outputTokens);
  put(ATTR.CACHE_READ_INPUT_TOKENS, usage?.cachedInputTokens);
  put(ATTR.REASONING_OUTPUT_TOKENS, usage?.reasoningTokens);
  put(RW.COST_USD, costUsd);
  return out;
}

/** Runs `fn`; telemetry never breaks a call, so what it throws is dropped. */
function guard(fn) {
  try {
    fn();
  } catch {
    // ignored: observing must not change what the caller gets
  }
}

/** gen_ai.operation.name from the path of a (redacted) URL. */
export function operationName(url) {
  const path = url.split(/[?#]/)[0];
  if (/:(stream)?generatecontent$/i.test(path)) return 'generate_content';
  if (/\/embeddings$|:(batch)?embedcontents?$/i.test(path)) return 'embeddings';
  if (/\/chat\/completions$|\/messages$|\/responses$|\/converse(-stream)?$/.test(path)) return 'chat';
  if (/\/completions$/.test(path)) return 'text_completion';
  return 'chat';
}

/** server.address and server.port of a URL (never its credentials). */
function serverOf(url) {
  try {
    const u = new URL(url);
    const port = u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443;
    return { [ATTR.SERVER_ADDRESS]: u.hostname, [ATTR.SERVER_PORT]: port };
  } catch {
    return {};
  }
}

/** The low-cardinality error.type of a failed call. */
function errorType(error, last) {
  if (error?.code?.startsWith?.('RATEWISE_')) return error.classification?.code ?? error.kind ?? 'ratewise_error';
  if (error?.name === 'TimeoutError') return 'timeout';
  if (error?.name === 'AbortError') return 'aborted';
  if (last && last.kind !== 'ok') return last.classification?.code ?? last.kind;
  return typeof error?.name === 'string' && error.name ? error.name : '_OTHER';
}

/**
 * The telemetry of createFetch's checked `telemetry` option (`{ tracer, meter, legacyMetrics }`,
 * each optional): resolves once the api, when one is needed, is loaded or found absent.
 */
export async function start(o) {
  const t = new Telemetry(o.tracer, o.meter, o.legacyMetrics === true);
  t.bodyWaitMs = o.bodyWaitMs ?? BODY_WAIT_MS;
  let api = null;
  try {
    const m = await import(API);
    api = m.default?.trace ? m.default : m;
  } catch {
    // Absent (or a runtime that cannot import it): only what was given explicitly works.
  }
  t.loaded(api);
  t.registry = !api;
  return t;
}

class Telemetry {
  constructor(tracer, meter, legacy) {
    this.tracer = tracer;
    this.legacy = legacy;
    this.api = undefined;
    /** Whether the globals are read from the api's registry (the api could not be imported). */
    this.registry = false;
    this.fetches = [];
    if (meter) this.instruments(meter);
  }

  /** The api gives the active context (the parent span) and, for missing parts, the globals. */
  loaded(api) {
    this.api = api;
    if (!api) return;
    this.tracer ??= api.trace.getTracerProvider().getTracer('ratewise', undefined, { schemaUrl: SCHEMA_URL });
    if (!this.m)
      this.instruments(api.metrics.getMeterProvider().getMeter('ratewise', undefined, { schemaUrl: SCHEMA_URL }));
  }

  instruments(meter) {
    const counter = (name, unit, description) => meter.createCounter(name, { unit, description });
    const duration = (name) =>
      meter.createHistogram(name, {
        unit: 's',
        description: 'GenAI client inference operation duration.',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      });
    this.m = {
      duration: duration(METRIC.DURATION),
      legacyDuration: this.legacy ? duration(METRIC.LEGACY_DURATION) : null,
      legacyTokens: this.legacy
        ? meter.createHistogram(METRIC.LEGACY_TOKENS, {
            unit: '{token}',
            description: 'Number of input and output tokens used.',
            advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
          })
        : null,
      input: counter(METRIC.USAGE_INPUT, '{token}', 'Input tokens used.'),
      output: counter(METRIC.USAGE_OUTPUT, '{token}', 'Output tokens used.'),
      cacheRead: counter(METRIC.USAGE_CACHE_READ, '{token}', 'Input tokens served from a provider cache.'),
      reasoning: counter(METRIC.USAGE_REASONING, '{token}', 'Output tokens used for reasoning.'),
      attempts: counter(RW.M_ATTEMPTS, '{attempt}', 'Attempts, by what they meant (ratewise.kind).'),
      wait: counter(RW.M_WAIT, 's', 'Time calls waited, by why (ratewise.wait.kind).'),
      held: counter(RW.M_HELD, '{attempt}', 'Attempts the throttle held: each would have gone over a window.'),
      spent: counter(
        RW.M_BUDGET_SPENT,
        '{spend}',
        'Spend settled on each budget, in its unit (ratewise.budget.unit: usd or tokens).',
      ),
    };
    const gauge = meter.createObservableGauge?.(RW.M_BREAKERS, {
      unit: '{breaker}',
      description: 'Breakers open now, by kind.',
    });
    gauge?.addCallback((result) => {
      for (const f of this.fetches) {
        const open = f.breaker().filter((b) => b.state === 'open');
        for (const kind of ['quota', 'outage']) {
          result.observe(open.filter((b) => b.kind === kind).length, { [RW.BREAKER]: kind });
        }
      }
    });
  }

  /** Keeps the fetch so the breakers gauge can read it. */
  watch(fetch) {
    this.fetches.push(fetch);
  }

  /** One traced call of wasm's `call`; `parent`: the context active when it was made, if read. */
  run(call, input, init, parent) {
    const trace = new CallTrace(this, parent);
    return new Promise((resolve, reject) => call(input, init, resolve, reject, trace)).then(
      (response) => {
        trace.end(false, undefined);
        return response;
      },
      (error) => {
        trace.end(true, error);
        throw error;
      },
    );
  }

  /** The caller's active context, else a root one. */
  active() {
    return this.api?.context.active() ?? registry()?.context?.active?.() ?? rootContext();
  }

  /** Without the api: the global tracer and meter, once the app's SDK has registered them. */
  fromRegistry() {
    if (!this.registry) return;
    const options = { schemaUrl: SCHEMA_URL };
    this.tracer ??= registry()?.trace?.getTracer?.('ratewise', undefined, options);
    const meter = this.m ? undefined : registry()?.metrics?.getMeter?.('ratewise', undefined, options);
    if (meter) this.instruments(meter);
  }
}

/**
 * One call: a CLIENT span `{operation} {model}`, an HTTP client span per network attempt, and
 * the waits as span events. `begin`, `send`, `attempt`, `expect` and `usage` are called from
 * wasm; `end` when the call's promise settles.
 *
 * When the answer's body is tapped (`expect`: the usage tap is on and the answer succeeded), the
 * span ends when its usage is known, as the AI SDK's spans end with their streams: when the body
 * ends, fails or is cancelled, or its tap is evicted (the instance's 1024 oldest unread bodies),
 * with the usage attributes and the usage counters' points. A body that is never read is bounded
 * by `bodyWaitMs`: the span then ends, at the time of the headers, marked `ratewise.usage.pending`.
 * Otherwise the span ends when the promise settles, so none is left open after an abort or a
 * deadline.
 */
class CallTrace {
  constructor(telemetry, parent) {
    this.t = telemetry;
    this.parent = parent;
    this.startedAt = Date.now();
    this.span = undefined;
    this.http = undefined;
    this.last = undefined;
    this.waitedMs = 0;
  }

  // What wasm calls (and the promise's settling): an exception thrown here by a tracer, a meter
  // or this code would unwind through wasm (or turn an answer into a rejection), so none escapes.
  begin(...args) {
    guard(() => this.onBegin(...args));
  }
  send(...args) {
    guard(() => this.onSend(...args));
  }
  attempt(event) {
    guard(() => this.onAttempt(event));
  }
  end(rejected, error) {
    guard(() => this.onEnd(rejected, error));
  }
  expect() {
    this.pending = true;
  }
  usage(event, responseModel) {
    guard(() => this.onUsage(event, responseModel));
  }
  budgets(applying, stopped) {
    this.applying = applying;
    this.stopped = stopped;
  }

  onBegin(method, url, provider, model, stream, lane) {
    this.t.fromRegistry();
    const tracer = this.t.tracer;
    const op = operationName(url);
    const attributes = {
      [ATTR.OPERATION]: op,
      [ATTR.PROVIDER]: PROVIDERS[provider] ?? provider,
      ...serverOf(url),
    };
    if (model) attributes[ATTR.REQUEST_MODEL] = model;
    this.metricAttrs = { ...attributes };
    if (typeof stream === 'boolean') attributes[ATTR.REQUEST_STREAM] = stream;
    attributes[RW.LANE] = lane;
    this.method = method;
    if (!tracer) return;
    const parent = this.parent ?? this.t.active();
    this.span = tracer.startSpan(model ? `${op} ${model}` : op, { kind: SPAN_KIND_CLIENT, attributes }, parent);
    this.context = parent.setValue(SPAN_KEY, this.span);
  }

  onSend(attempt, route, url) {
    this.sentAt = Date.now();
    if (!this.span) return;
    const attributes = {
      [ATTR.HTTP_METHOD]: this.method,
      ...serverOf(url),
      [ATTR.URL_FULL]: url,
      [RW.ATTEMPT]: attempt,
      [RW.ROUTE]: route,
    };
    this.http = this.t.tracer.startSpan(this.method, { kind: SPAN_KIND_CLIENT, attributes }, this.context);
  }

  /** A wait as a span event at the time it began, and as a count of seconds. */
  wait(kind, ms, reason, at) {
    if (!(ms > 0) && kind !== 'breaker') return;
    this.waitedMs += ms;
    const attributes = { [RW.WAIT_KIND]: kind, [RW.WAIT_MS]: ms, [RW.WAIT_REASON]: reason };
    this.span?.addEvent(`ratewise.wait.${kind}`, attributes, at);
    if (ms > 0) this.t.m?.wait.add(ms / 1000, { [RW.WAIT_KIND]: kind });
  }

  onAttempt(e) {
    this.last = e;
    // A host ratewise does not know (a gateway, a mock) is named by the provider's answer.
    const named = PROVIDERS[e.classification.provider] ?? e.classification.provider;
    if (this.metricAttrs && this.provider() === 'unknown' && named !== 'unknown') {
      this.metricAttrs[ATTR.PROVIDER] = named;
      this.span?.setAttribute(ATTR.PROVIDER, named);
    }
    this.t.m?.attempts.add(1, { [RW.KIND]: e.kind, [RW.SOURCE]: e.source, [ATTR.PROVIDER]: this.provider() });
    const sentAt = e.source === 'network' ? (this.sentAt ?? Date.now()) : Date.now();
    this.wait('queue', e.queuedMs, 'maxConcurrency', this.startedAt);
    this.wait('throttle', e.pacedMs, e.pacedReason ?? 'throttle', sentAt - e.pacedMs - e.leasedMs);
    if (e.pacedMs > 0) this.t.m?.held.add(1, { [ATTR.PROVIDER]: this.provider() });
    this.wait('lease', e.leasedMs, 'coordinator', sentAt - e.leasedMs);
    if (e.source === 'breaker') this.wait('breaker', 0, e.kind, Date.now());
    if (e.source === 'network' && this.http) {
      const status = e.classification.status;
      const attributes = { [RW.KIND]: e.kind };
      if (status > 0) attributes[ATTR.HTTP_STATUS] = status;
      if (status >= 400) attributes[ATTR.ERROR_TYPE] = String(status);
      else if (status === 0) attributes[ATTR.ERROR_TYPE] = e.kind;
      if (e.requestId) attributes[RW.REQUEST_ID] = e.requestId;
      this.http.setAttributes(attributes);
      if (attributes[ATTR.ERROR_TYPE]) this.http.setStatus({ code: STATUS_ERROR });
      this.http.end();
      this.http = undefined;
    }
    if (e.decision === 'retry') this.wait('backoff', e.delayMs, e.kind, Date.now());
  }

  provider() {
    return this.metricAttrs?.[ATTR.PROVIDER] ?? 'unknown';
  }

  /** The call settled: `rejected` with `error`, or resolved; the span waits for a tapped body. */
  onEnd(rejected, error) {
    this.settledAt = Date.now();
    this.settled = [rejected, error];
    if (this.pending && !rejected && !this.used) {
      this.timer = setTimeout(() => guard(() => this.finish(true)), this.t.bodyWaitMs);
      this.timer?.unref?.(); // Node: a span never keeps the process alive
      return;
    }
    this.finish(false);
  }

  /** The answer's usage is known (the usage event, and the model the answer named). */
  onUsage(event, responseModel) {
    if (this.used) return;
    this.used = { event, responseModel, at: Date.now() };
    if (this.finished) {
      // Its span ended at the bound: the counters still get the usage.
      if (this.t.m) recordUsage(this.t.m, usageAttributes(event.usage, event.costUsd), this.usageAttrs());
      if (this.t.m) recordSpend(this.t.m, this.applying, event);
      return;
    }
    if (!this.settled) return; // known before the promise settled (no body): onEnd finishes
    clearTimeout(this.timer);
    this.finish(false);
  }

  /** The metric attributes, with the model the answer named when it is known. */
  usageAttrs() {
    const named = this.used?.responseModel;
    return typeof named === 'string' ? { ...this.metricAttrs, [ATTR.RESPONSE_MODEL]: named } : this.metricAttrs;
  }

  /** Ends the call span and records the call's metrics, once; `timedOut`: the body never ended. */
  finish(timedOut) {
    if (this.finished) return;
    this.finished = true;
    const [rejected, error] = this.settled;
    const last = this.last;
    const failed = rejected || (last !== undefined && last.kind !== 'ok');
    // A spent budget answered without sending: its own stop and error.type.
    const type = this.stopped ? 'budget_exhausted' : failed ? errorType(error, last) : undefined;
    if (this.http) {
      // Sent and never answered: the caller aborted or the deadline passed.
      this.http.setAttributes({ [ATTR.ERROR_TYPE]: type });
      this.http.setStatus({ code: STATUS_ERROR });
      this.http.end();
      this.http = undefined;
    }
    if (!this.metricAttrs) return; // the request was never read (bad input): no call
    const used = this.used?.event;
    const usage = usageAttributes(used?.usage, used?.costUsd);
    const endAt = timedOut ? this.settledAt : Math.max(this.used?.at ?? 0, this.settledAt);
    if (this.span) {
      const attributes = { [RW.WAITED_MS]: this.waitedMs, ...usage };
      if (last) {
        attributes[RW.ATTEMPTS] = last.attempt;
        attributes[RW.ROUTE] = last.route;
        attributes[RW.SOURCE] = last.source;
        if (last.stop) attributes[RW.STOP] = last.stop;
        if (last.requestId) attributes[RW.REQUEST_ID] = last.requestId;
        if (last.breaker || last.source === 'breaker') attributes[RW.BREAKER] = last.breaker ?? 'open';
      }
      if (typeof this.used?.responseModel === 'string') attributes[ATTR.RESPONSE_MODEL] = this.used.responseModel;
      if (typeof used?.responseId === 'string') attributes[ATTR.RESPONSE_ID] = used.responseId;
      if (used) {
        attributes[RW.USAGE_END] = used.end;
        if (used.estimated) attributes[RW.USAGE_ESTIMATED] = true;
      }
      if (timedOut) attributes[RW.USAGE_PENDING] = true;
      if (this.applying?.length) attributes[RW.BUDGET_NAME] = this.applying.map(([name]) => name);
      if (this.stopped) {
        attributes[RW.BUDGET_EXHAUSTED] = this.stopped;
        attributes[RW.STOP] = 'budget_exhausted';
      }
      if (type) {
        attributes[ATTR.ERROR_TYPE] = type;
        this.span.setStatus({ code: STATUS_ERROR, message: type });
      }
      this.span.setAttributes(attributes);
      this.span.end(endAt);
    }
    const m = this.t.m;
    if (!m) return;
    const named = this.usageAttrs();
    const attrs = type ? { ...named, [ATTR.ERROR_TYPE]: type } : named;
    const seconds = (endAt - this.startedAt) / 1000;
    m.duration.record(seconds, attrs);
    m.legacyDuration?.record(seconds, attrs);
    recordUsage(m, usage, named);
    if (used) recordSpend(m, this.applying, used);
  }
}

/** `ratewise.budget.spent`: what the usage event settles on each budget that applied, in its unit. */
function recordSpend(m, applying, event) {
  for (const [name, unit] of applying ?? []) {
    const n = unit === 'usd' ? event.costUsd : event.usage.inputTokens + event.usage.outputTokens;
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0) {
      m.spent.add(n, { [RW.BUDGET_NAME]: name, [RW.BUDGET_UNIT]: unit });
    }
  }
}

/** The token counters (and the older histogram) for one call's usage attributes. */
function recordUsage(m, usage, attrs) {
  const add = (counter, n) => n !== undefined && counter.add(n, attrs);
  add(m.input, usage[ATTR.INPUT_TOKENS]);
  add(m.output, usage[ATTR.OUTPUT_TOKENS]);
  add(m.cacheRead, usage[ATTR.CACHE_READ_INPUT_TOKENS]);
  add(m.reasoning, usage[ATTR.REASONING_OUTPUT_TOKENS]);
  for (const [type, name] of [
    ['input', ATTR.INPUT_TOKENS],
    ['output', ATTR.OUTPUT_TOKENS],
  ]) {
    if (usage[name] !== undefined) m.legacyTokens?.record(usage[name], { ...attrs, [ATTR.TOKEN_TYPE]: type });
  }
}
