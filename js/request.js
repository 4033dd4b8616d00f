// Request glue for createFetch (internal): what one call's request tells the core, read in
// one crossing. No decisions are made here: only reading and checking shapes.

import { pickHeaders } from './convert.js';
import { ownInit, readLane, replayable } from './io.js';
import { linkSignals, UNLINKED } from './signals.js';
import { readBudgetTag } from './usage.js';

// A header name (an RFC 9110 token) and a header value a Headers object keeps exactly as given
// (printable ASCII and tabs, nothing to trim): only headers in these shapes are read without
// building a Headers object.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PLAIN = /^(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?$/;
// What readLane and readBudgetTag read when the call has no headers.
const NONE = { get: () => null };
// The headers ratewise reads and never sends.
const OWN = new Set(['x-ratewise-priority', 'x-ratewise-budget']);

/**
 * A plain object's headers by lower-cased name, when a Headers object made from it would hold
 * the same names and values: string values only, every own key an enumerable string, each name
 * a token once (in any case), no value needing trimming or checks, and none of ratewise's own
 * headers. Otherwise undefined (the caller builds the Headers object, which checks them).
 */
function plainHeaders(given) {
  const proto = Object.getPrototypeOf(given);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const keys = Object.keys(given);
  if (keys.length !== Reflect.ownKeys(given).length) return undefined;
  const byName = new Map();
  for (const key of keys) {
    const value = given[key];
    if (typeof value !== 'string' || !TOKEN.test(key) || !PLAIN.test(value)) return undefined;
    const name = key.toLowerCase();
    if (byName.has(name) || OWN.has(name)) return undefined;
    byName.set(name, value);
  }
  return byName;
}

/** `new Headers(given)`, or a TypeError naming what is missing. */
function make(given) {
  if (typeof Headers !== 'function') throw new TypeError('ratewise: globalThis.Headers is missing');
  return new Headers(given);
}

/** `typeof value` for error messages, null and arrays apart (as the core's type_name). */
function typeName(value) {
  if (value === null) return 'null';
  try {
    if (Array.isArray(value)) return 'array';
  } catch {
    // A revoked Proxy: an object.
  }
  return typeof value;
}

/** Whether `value` is a Request of this realm (false where there is no Request). */
function isRequest(value) {
  try {
    return value instanceof Request;
  } catch {
    return false;
  }
}

/**
 * Opens one call of `fetch(input, init)`, in one crossing: the init as the call's own copy
 * (ownInit), its signals linked (the instance's `signal`, `init.signal`, the Request's, and the
 * deadline: linkSignals) and its request read (readRequest). Returns `[linked, own init, url,
 * method, body, replayable, request or undefined, lane index, budget tag, headers, stripped,
 * values]` (the last five as readRequest gives them); `linked` is undefined when nothing can abort
 * the call (nothing to finish, and five crossings fewer for a success). Throws the TypeError of a bad init, signal,
 * lane, budget tag or header; once the signals are linked, it finishes them before it throws.
 */
export function readCall(input, init, signal, deadlineMs, needHeaders, names) {
  if (init !== undefined && init !== null && typeof init !== 'object') {
    throw new TypeError('fetch: `init` must be an object');
  }
  // Own properties only: nothing planted on Object.prototype is read.
  const own = ownInit(init);
  const request = isRequest(input) ? input : undefined;
  const given = own.signal;
  if (
    given !== undefined &&
    given !== null &&
    (typeof field(given, 'aborted') !== 'boolean' || typeof field(given, 'addEventListener') !== 'function')
  ) {
    throw new TypeError(`fetch: \`init.signal\` must be an AbortSignal, got ${typeName(given)}`);
  }
  const linked = linkSignals([signal, given, request?.signal], deadlineMs);
  try {
    const href = request ? request.url : typeof input === 'string' ? input : field(input, 'href');
    const url = typeof href === 'string' ? href : '';
    const method = typeof own.method === 'string' ? own.method : (request?.method ?? 'GET');
    const body = own.body;
    const read = readRequest(own, request, linked.signal, needHeaders, names);
    return [linked === UNLINKED ? undefined : linked, own, url, method, body, replayable(body), request, ...read];
  } catch (e) {
    linked.finish();
    throw e;
  }
}

/**
 * Reads a call's headers, lane and budget tag, and drops ratewise's own init members from its
 * init (`init` is the call's own copy, see ownInit) after giving it `signal` (when defined).
 * Returns `[lane index, budget tag or undefined, headers, stripped, values]`:
 * `headers` is the Headers object the call reads (a copy without ratewise's own headers when
 * `stripped`), undefined when the init's headers were read as a plain object (only when
 * `needHeaders` is false: routes rewrite a Headers object); `values` are `names`' values joined
 * by newlines (which no header value holds), an absent one empty, or undefined when all are
 * absent (nothing to copy into wasm memory). Throws the TypeError of a bad lane, budget tag or header.
 */
function readRequest(init, request, signal, needHeaders, names) {
  if (signal !== undefined) init.signal = signal;
  const given = init.headers;
  let headers;
  let byName;
  if (given === undefined) {
    headers = request?.headers ?? (needHeaders ? make() : undefined);
  } else if (!needHeaders && typeof Headers === 'function' && given instanceof Headers) {
    // Read as it is: a copy is made only to strip ratewise's own headers.
    headers = given;
  } else {
    byName = needHeaders || given === null || typeof given !== 'object' ? undefined : plainHeaders(given);
    if (byName === undefined) headers = make(given);
  }
  const read = headers ?? NONE;
  const [lane, noLane] = readLane(init, read);
  const [tag, noTag] = readBudgetTag(init, noLane ?? read);
  const stripped = noLane !== undefined || noTag !== undefined;
  if (stripped) headers = noTag ?? noLane;
  for (const k of ['budget', 'lane']) {
    delete init[k];
    // An inherited member stays shadowed.
    if (k in init) init[k] = undefined;
  }
  let values = '';
  for (let i = 0; i < names.length; i++) {
    const value = byName ? byName.get(names[i]) : headers?.get(names[i]);
    values += i === 0 ? (value ?? '') : `\n${value ?? ''}`;
  }
  // Only the newlines between them: every value is absent.
  return [lane, tag, headers, stripped, values.length < names.length ? undefined : values];
}

/** Calls `wake(id, fulfilled, value)` once `promise` settles (see src/wasm/settled.rs). */
export function settleInto(promise, id, wake) {
  Promise.resolve(promise).then(
    (value) => wake(id, true, value),
    (reason) => wake(id, false, reason),
  );
}

/** `value[key]`, or undefined for a value that is not an object or a getter that throws. */
function field(value, key) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  try {
    return value[key];
  } catch {
    return undefined;
  }
}

/**
 * What the core reads first of what a fetch resolved with, in one crossing: `[status, headers,
 * content type or null, url]` of a Response-shaped value (a number `status` and an object
 * `headers`), else undefined. `headers` is a 2xx answer's headers named in `groups`, as
 * pickHeaders gives them, and undefined for any other status.
 */
export function readAnswer(value, groups) {
  const status = field(value, 'status');
  const headers = field(value, 'headers');
  if (typeof status !== 'number' || headers === null || typeof headers !== 'object') return undefined;
  const picked = status >= 200 && status < 300 ? pickHeaders(headers, groups) : undefined;
  let type = null;
  try {
    type = headers.get('content-type');
  } catch {
    // Not a Headers object: no content type.
  }
  return [status, picked, type, field(value, 'url')];
}
