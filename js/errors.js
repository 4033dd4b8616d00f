// The errors createFetch({ throwOnError: true }) rejects with.
//
// Every error carries a marker under Symbol.for('ratewise.error'), so the
// is…() guards work across realms and duplicate package copies, where
// `instanceof` does not.

const MARK = Symbol.for('ratewise.error');

/** Base class: a request ratewise gave up on. */
export class RatewiseError extends Error {
  constructor(message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RatewiseError';
    this.code = 'RATEWISE_ERROR';
    this.kind = details.kind ?? 'unknown';
    this.status = details.status ?? 0;
    this.attempts = details.attempts ?? 0;
    this.reason = details.reason ?? null;
    this.classification = details.classification ?? null;
    this.retryAfterMs = details.retryAfterMs ?? null;
    this.response = details.response ?? null;
    // Once per incident: true on the one quota failure that opened the breaker.
    this.firstReport = details.firstReport === true;
    Object.defineProperty(this, MARK, { value: true });
  }
}

/**
 * A named subclass with a stable `code`, the `kind` it carries when `details` names none (the one
 * index.d.ts declares for it; `unknown` for RequestRejectedError), and extra fields from `details`.
 */
function subclass(name, code, kind, fields = []) {
  const Class = class extends RatewiseError {
    constructor(message, details = {}) {
      super(message, kind === undefined ? details : { kind, ...details });
      this.name = name;
      this.code = code;
      for (const f of fields) this[f] = details[f] ?? null;
    }
  };
  Object.defineProperty(Class, 'name', { value: name });
  return Class;
}

/** The account or project has no quota left: waiting will not help. */
export const QuotaExhaustedError = subclass('QuotaExhaustedError', 'RATEWISE_QUOTA_EXHAUSTED', 'quota_exhausted');
/** Still rate limited after the retries (or the server asked for too long a wait). */
export const RateLimitError = subclass('RateLimitError', 'RATEWISE_RATE_LIMITED', 'rate_limit');
/** The provider stayed overloaded or erroring through every retry. */
export const OverloadedError = subclass('OverloadedError', 'RATEWISE_OVERLOADED', 'overloaded');
/** The request was rejected as it stands (auth, bad request, context length, …). */
export const RequestRejectedError = subclass('RequestRejectedError', 'RATEWISE_REQUEST_REJECTED');
/** No response: the network failed through every retry. */
export const NetworkError = subclass('NetworkError', 'RATEWISE_NETWORK', 'network');
/** The concurrency queue was full (`maxQueue`). */
export const QueueFullError = subclass('QueueFullError', 'RATEWISE_QUEUE_FULL', 'queue_full');
/** The invocation's subrequest budget (`forInvocation`) was spent before the call: nothing was sent. */
export const SubrequestsSpentError = subclass(
  'SubrequestsSpentError',
  'RATEWISE_SUBREQUESTS_SPENT',
  'subrequests_spent',
);
/** A spend budget (`budgets`) is spent: nothing was sent. `code` and `kind` are 'budget_exhausted'; `budget` names it, `resetsAtMs` says when its window resets. */
export const BudgetExhaustedError = subclass('BudgetExhaustedError', 'budget_exhausted', 'budget_exhausted', [
  'budget',
  'resetsAtMs',
]);

const marked = (e) => e != null && typeof e === 'object' && e[MARK] === true;
const guard = (code) => (e) => marked(e) && e.code === code;

/** Whether `e` is any ratewise error, from any realm or package copy. */
export const isRatewiseError = (e) => marked(e);
/** Whether `e` is a QuotaExhaustedError. */
export const isQuotaExhaustedError = guard('RATEWISE_QUOTA_EXHAUSTED');
/** Whether `e` is a RateLimitError. */
export const isRateLimitError = guard('RATEWISE_RATE_LIMITED');
/** Whether `e` is an OverloadedError. */
export const isOverloadedError = guard('RATEWISE_OVERLOADED');
/** Whether `e` is a RequestRejectedError. */
export const isRequestRejectedError = guard('RATEWISE_REQUEST_REJECTED');
/** Whether `e` is a NetworkError. */
export const isNetworkError = guard('RATEWISE_NETWORK');
/** Whether `e` is a QueueFullError. */
export const isQueueFullError = guard('RATEWISE_QUEUE_FULL');
/** Whether `e` is a SubrequestsSpentError. */
export const isSubrequestsSpentError = guard('RATEWISE_SUBREQUESTS_SPENT');
/** Whether `e` is a BudgetExhaustedError. */
export const isBudgetExhaustedError = guard('budget_exhausted');

const CLASSES = {
  quota_exhausted: QuotaExhaustedError,
  rate_limit: RateLimitError,
  overloaded: OverloadedError,
  server_error: OverloadedError,
  timeout: NetworkError,
  network: NetworkError,
  queue_full: QueueFullError,
  subrequests_spent: SubrequestsSpentError,
  budget_exhausted: BudgetExhaustedError,
};

/** Builds the error for a kind. @internal: used by the wasm module, not exported by the package. */
export function makeError(kind, message, details) {
  const Class = CLASSES[kind] ?? RequestRejectedError;
  return new Class(message, { kind, ...details });
}

const NATIVE = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError']);

/**
 * @internal: used by the wasm module, not exported by the package.
 * A copy of the error `e` with `message`, `stack` and `cause` replaced by their masked forms (from
 * the core's secret masking): same class (a TypeError stays `instanceof TypeError`, a DOMException
 * keeps its name), same own properties otherwise.
 */
export function remakeError(e, message, stack, cause) {
  let copy;
  const name = e.name;
  if (typeof DOMException === 'function' && e instanceof DOMException) {
    copy = new DOMException(message, name);
  } else if (
    e instanceof Error &&
    NATIVE.has(e.constructor?.name) &&
    globalThis[e.constructor.name] === e.constructor
  ) {
    copy = new e.constructor(message);
  } else {
    // Any other class (a RatewiseError, an SDK's): its prototype, without running its constructor.
    copy = Object.create(Object.getPrototypeOf(e) ?? Error.prototype);
    Object.defineProperty(copy, 'message', { value: message, writable: true, configurable: true });
  }
  // Own properties, symbols too (the guards' marker), as they are.
  for (const k of Reflect.ownKeys(e)) {
    if (k !== 'message' && k !== 'stack' && k !== 'cause') {
      Object.defineProperty(copy, k, Object.getOwnPropertyDescriptor(e, k));
    }
  }
  if (copy.name !== name) Object.defineProperty(copy, 'name', { value: name, writable: true, configurable: true });
  for (const [k, v] of [
    ['stack', stack],
    ['cause', cause],
  ]) {
    if (v !== undefined) Object.defineProperty(copy, k, { value: v, writable: true, configurable: true });
  }
  return copy;
}
