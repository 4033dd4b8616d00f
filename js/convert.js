// Conversion glue for the wasm boundary (internal, not exported by the
// package). Each field read from Rust costs a boundary crossing and a string
// copy, so the shapes of JavaScript values are read here, in one call, and
// results are built here from a few arguments. No decisions are made here:
// only reading, checking shapes, and building objects.

// What a value is, safe on any value (a revoked Proxy, on which Array.isArray throws, is an object
// that is no array); shared by the glue's checks and messages.

/** `Array.isArray`, false for a revoked Proxy (on which it throws: its keys then cannot be read). */
export const isArray = (v) => {
  try {
    return Array.isArray(v);
  } catch {
    return false;
  }
};
/** `typeof value` for messages, with `null` and `array` told apart. */
export const typeName = (v) => (v === null ? 'null' : isArray(v) ? 'array' : typeof v);
/** An object that is no array (nor null). */
export const isObject = (v) => v !== null && typeof v === 'object' && !isArray(v);

const MAX_BODY = 65536;

const oneLine = (s) => (s.includes('\n') || s.includes('\r') ? s.replace(/[\r\n]/g, ' ') : s);

// The only headers the classifier reads (kept equal to READ_HEADER_PREFIXES
// in src/classify/headers.rs, which a Rust test checks). The rest (cookies, CDN ids,
// security headers) are not copied into wasm memory at all.
const HEADER_PREFIXES = [
  'retry-after',
  'date',
  'x-ratelimit-',
  'anthropic-',
  'openai-',
  'x-groq-region',
  'apim-request-id',
  'x-ms-region',
  'x-amzn-errortype',
];
const wanted = (name) => HEADER_PREFIXES.some((p) => name.startsWith(p));

// Header values are cut to this many characters before they cross into wasm
// memory (as bodies are cut to MAX_BODY): no header the classifier reads is
// longer, and a 50 MB value must not grow the wasm memory for good.
const MAX_HEADER_VALUE = 8192;

function headerValue(v) {
  let s;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' || typeof v === 'boolean') s = String(v);
  else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) s = v.join(', ');
  else return undefined;
  return s.length > MAX_HEADER_VALUE ? s.slice(0, MAX_HEADER_VALUE) : s;
}

/**
 * The headers of a Headers object named in `groups` (lower-case), as
 * "name\nvalue\n…", skipping the rest of a group whose first name is
 * absent: a lookup each, which on a success costs less than walking (and,
 * in undici, sorting) every header the server sent.
 */
export function pickHeaders(headers, groups) {
  let out = '';
  let seen;
  for (const group of groups) {
    const first = headers.get(group[0]);
    if (first === null) continue;
    seen ??= new Set();
    for (let i = 0; i < group.length; i++) {
      const name = group[i];
      if (seen.has(name)) continue;
      seen.add(name);
      const value = i === 0 ? first : headers.get(name);
      if (value !== null) out += `${name}\n${oneLine(headerValue(value))}\n`;
    }
  }
  return out;
}

/**
 * Headers in any accepted form (Headers, Map, [name, value] pairs, plain
 * object) as one string, "name\nvalue\n…", names lower-cased: only those the
 * classifier reads, or `all` of them. Throws a TypeError naming the field.
 */
export function flattenHeaders(h, field, all = false) {
  const keep = all ? () => true : wanted;
  if (h === undefined || h === null) return '';
  const parts = [];
  if (Array.isArray(h) || typeof h.forEach === 'function') {
    if (typeof h[Symbol.iterator] !== 'function') throw fieldError(`classify: \`${field}\` is not iterable`);
    let i = 0;
    for (const pair of h) {
      const ok = Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string';
      const value = ok ? headerValue(pair[1]) : undefined;
      if (value === undefined) throw fieldError(`classify: \`${field}[${i}]\` must be a [name, value] pair of strings`);
      const name = pair[0].trim().toLowerCase();
      if (keep(name)) parts.push(oneLine(name), oneLine(value));
      i++;
    }
  } else if (typeof h === 'object') {
    for (const key of Object.keys(h)) {
      const raw = h[key];
      if (raw === undefined || raw === null) continue;
      const value = headerValue(raw);
      if (value === undefined) {
        throw fieldError(`classify: \`${field}["${key}"]\` must be a string, got ${typeName(raw)}`);
      }
      const name = key.trim().toLowerCase();
      if (keep(name)) parts.push(oneLine(name), oneLine(value));
    }
  } else {
    throw fieldError(
      `classify: \`${field}\` must be a Headers, a plain object or an array of [name, value] pairs, got ${typeName(h)}`,
    );
  }
  return parts.join('\n');
}

/** A body as text: strings and bytes as they are, objects as JSON; only the first 64 KiB. */
function bodyText(b, field) {
  if (b === undefined || b === null) return '';
  if (typeof b === 'string') return b.length > MAX_BODY ? b.slice(0, MAX_BODY) : b;
  if (b instanceof ArrayBuffer || ArrayBuffer.isView(b)) {
    const bytes = b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return new TextDecoder().decode(bytes.subarray(0, MAX_BODY));
  }
  if (typeof b === 'object') {
    let json;
    try {
      json = JSON.stringify(b);
    } catch {
      throw fieldError(`classify: \`${field}\` is an object that JSON.stringify cannot serialise`);
    }
    return json.slice(0, MAX_BODY);
  }
  throw fieldError(`classify: \`${field}\` must be a string or an object, got ${typeName(b)}`);
}

/** openai-node keeps the body's inner `error` object; @anthropic-ai/sdk the whole body. */
function sdkBody(error) {
  if (error === null || typeof error !== 'object' || Array.isArray(error)) return bodyText(error, 'error');
  const whole = error.error !== undefined || error.type === 'error';
  return bodyText(whole ? error : { error }, 'error');
}

function urlOf(url) {
  if (url === undefined || url === null) return undefined;
  if (typeof url === 'string') return url;
  if (typeof url.href === 'string') return url.href;
  throw fieldError(`classify: \`url\` must be a string or URL, got ${typeName(url)}`);
}

const isError = (v) => v instanceof Error || Object.prototype.toString.call(v) === '[object Error]';

/**
 * The error a Vercel AI SDK `RetryError` (`AI_RetryError`, thrown by `generateText` when its own
 * retries are spent) wraps: its `lastError`, else the last of its `errors`; the input itself
 * otherwise. Nested wrappers are unwrapped a few levels deep.
 */
function lastAttempt(input) {
  for (let depth = 0; depth < 4; depth++) {
    if (input === null || typeof input !== 'object' || input.name !== 'AI_RetryError') return input;
    const errors = Array.isArray(input.errors) ? input.errors : [];
    const last = input.lastError ?? errors[errors.length - 1];
    if (last === undefined || last === null) return input;
    input = last;
  }
  return input;
}

/**
 * classify()'s input, any accepted form, as
 * [status, statusField, headers, body, url, now, errorName, errorMessage]. A getter or Proxy trap of
 * the input that throws, or a revoked Proxy, is a TypeError naming the input, with what it threw as
 * `cause`; the field checks' own TypeErrors pass as they are.
 */
export function readClassifyInput(given) {
  try {
    return readInput(given);
  } catch (cause) {
    if (ours.has(cause)) throw cause;
    let message = 'it threw';
    try {
      message = String(cause?.message ?? cause);
    } catch {}
    throw new TypeError(`classify: the input could not be read: ${message}`, { cause });
  }
}

/** The TypeErrors the checks below throw (a getter's own TypeError is not one). */
const ours = new WeakSet();
const fieldError = (message) => {
  const e = new TypeError(message);
  ours.add(e);
  return e;
};

function readInput(given) {
  const input = lastAttempt(given);
  if (input === null || typeof input !== 'object') {
    throw fieldError(`classify: input must be an object like { status, headers, body }, got ${typeName(input)}`);
  }
  const url = urlOf(input.url);
  if (input.statusCode !== undefined && input.status === undefined) {
    // The Vercel AI SDK's APICallError.
    const headers = flattenHeaders(input.responseHeaders, 'responseHeaders');
    return [input.statusCode, 'statusCode', headers, bodyText(input.responseBody, 'responseBody'), url, input.now];
  }
  if (input.status === undefined || input.status === null) {
    if (isError(input)) return [undefined, 'status', '', '', url, input.now, String(input.name), String(input.message)];
    throw fieldError('classify: `status` is required (a number such as 429)');
  }
  const body = input.body !== undefined ? bodyText(input.body, 'body') : sdkBody(input.error);
  return [input.status, 'status', flattenHeaders(input.headers, 'headers'), body, url, input.now];
}

const encoder = new TextEncoder();
let memoryBytes;

/**
 * Writes `text` as UTF-8 into wasm `memory` at `ptr` (room for `cap` bytes)
 * and returns the bytes written, or, when it might not fit, minus the room it
 * needs (and writes nothing).
 */
export function encodeText(memory, ptr, cap, text) {
  const need = 3 * text.length;
  if (need > cap) return -need;
  if (memoryBytes?.buffer !== memory.buffer) memoryBytes = new Uint8Array(memory.buffer);
  return text.length === 0 ? 0 : encoder.encodeInto(text, memoryBytes.subarray(ptr, ptr + cap)).written;
}

/**
 * The function createFetch() returns: a plain `(input, init) => Promise`
 * (so `fetch.length` is 2 and no wasm-bindgen internals show), with the
 * instance's methods attached.
 *
 * The promise is made here and settled from wasm; `call` returns nothing. A
 * call runs synchronously up to its first await (the underlying fetch has
 * been called), and Node 20's V8 crashes ("unreachable code" in the
 * deoptimizer) when optimized code that inlined a call into wasm returning a
 * reference (such as a promise) is deoptimized before that call returns;
 * a call into wasm that returns nothing is rebuilt fine.
 */
export function makeFetch(call, stats, breaker, resetBreaker, forInvocation, health, telemetry) {
  const fetch = Object.assign(telemetry ? telemetry.wrap(call) : settledFrom(call), {
    stats,
    breaker,
    resetBreaker,
    forInvocation,
    health,
  });
  telemetry?.watch(fetch);
  return fetch;
}

/** The fetch `forInvocation()` returns: the instance's, counting subrequests. */
export function makeInvocationFetch(call, subrequests, telemetry) {
  return Object.assign(telemetry ? telemetry.wrap(call) : settledFrom(call), { subrequests });
}

/** `(input, init) => Promise`, the promise settled by `call(input, init, resolve, reject)`. */
function settledFrom(call) {
  return (input, init) => new Promise((resolve, reject) => call(input, init, resolve, reject));
}
