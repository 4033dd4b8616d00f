// Cached-response glue for createFetch (internal): the stores, the key of a
// request, the background copy of a success and the marked answer. Which
// requests are stored, which failures the cache answers and whether an
// entry is fresh are the core's decisions (src/cache.rs); this only keeps
// and finds bytes. Every promise made here is awaited or handled, and a
// store that throws or hangs is a miss, never a failed call.

const ignore = () => {};
const STORED_AT = 'x-ratewise-stored-at';
// Entries of the platform's Cache API live under this URL (never fetched).
const KEY_URL = 'https://ratewise.invalid/cache/';
// A lookup that takes longer is a miss: the caller already waited for the failure.
const LOOKUP_MS = 1000;

/** The bounded in-memory LRU of Node, Deno and Bun: at most `maxEntries` entries and `maxBytes` of bodies. */
class Memory {
  constructor(maxEntries, maxBytes) {
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.entries = new Map(); // insertion order is recency order
    this.bytes = 0;
  }

  get(key) {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return new Response(e.body, { status: e.status, statusText: e.statusText, headers: e.headers });
  }

  async put(key, response) {
    const body = new Uint8Array(await response.arrayBuffer());
    this.drop(key);
    if (body.length > this.maxBytes) return;
    const entry = { status: response.status, statusText: response.statusText, headers: [...response.headers], body };
    this.entries.set(key, entry);
    this.bytes += body.length;
    for (const [oldest] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.drop(oldest);
    }
  }

  drop(key) {
    const e = this.entries.get(key);
    if (!e) return;
    this.bytes -= e.body.length;
    this.entries.delete(key);
  }
}

/** A Cache API cache as a store; `open()` gives the Cache object. */
function platform(open, name) {
  return {
    name,
    get: async (key) => (await open()).match(KEY_URL + encodeURIComponent(key)),
    put: async (key, response) => (await open()).put(KEY_URL + encodeURIComponent(key), response),
  };
}

// The keys of `createFetch({ cache })` (tests/contract.rs checks them against index.d.ts).
const CACHE_KEYS = ['store', 'ttlMs', 'key', 'streams', 'anyRequest', 'shareAcrossKeys', 'maxEntries', 'maxBytes'];
const MAX_MS = 2147483647;
const typeName = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * Reads and checks `createFetch({ cache })`: its own properties only (nothing planted on
 * Object.prototype is an option); a wrong key, type or value, or a getter that throws (with what it
 * threw as `cause`), throws a TypeError or RangeError naming the field.
 */
function readOptions(given) {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError(`createFetch: cache must be an object, got ${typeName(given)}`);
  }
  const o = Object.create(null);
  let keys;
  try {
    keys = Object.keys(given);
  } catch (cause) {
    throw new TypeError('createFetch: the keys of `cache` could not be read', { cause });
  }
  for (const k of keys) {
    if (!CACHE_KEYS.includes(k)) {
      throw new TypeError(`createFetch: unknown option \`cache.${k}\` (known: ${CACHE_KEYS.join(', ')})`);
    }
    try {
      o[k] = given[k];
    } catch (cause) {
      throw new TypeError(`createFetch: \`cache.${k}\` could not be read: ${cause?.message ?? typeName(cause)}`, {
        cause,
      });
    }
  }
  const wrong = (k, want) => new TypeError(`createFetch: \`cache.${k}\` must be ${want}, got ${typeName(o[k])}`);
  const { store, key, ttlMs } = o;
  if (typeof ttlMs !== 'number') throw wrong('ttlMs', 'a number of milliseconds');
  if (!(ttlMs >= 0 && ttlMs <= MAX_MS)) {
    throw new RangeError(`createFetch: \`cache.ttlMs\` must be a number from 0 to ${MAX_MS}, got ${ttlMs}`);
  }
  if (store !== undefined && (typeof store?.get !== 'function' || typeof store.put !== 'function')) {
    throw wrong('store', 'an object with get(key) and put(key, response) methods');
  }
  if (key !== undefined && typeof key !== 'function') throw wrong('key', 'a function');
  for (const k of ['streams', 'anyRequest', 'shareAcrossKeys']) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw wrong(k, 'a boolean');
  }
  const count = (k, fallback) => {
    const n = o[k];
    if (n === undefined) return fallback;
    if (typeof n !== 'number') throw wrong(k, 'a number');
    if (n === Number.POSITIVE_INFINITY || (Number.isInteger(n) && n >= 1 && n <= 1e9)) return n;
    throw new RangeError(`createFetch: \`cache.${k}\` must be an integer from 1 up, or Infinity, got ${n}`);
  };
  return {
    store,
    key,
    ttlMs: Math.ceil(ttlMs),
    streams: o.streams === true,
    anyRequest: o.anyRequest === true,
    shareAcrossKeys: o.shareAcrossKeys === true,
    maxEntries: count('maxEntries', 500),
    maxBytes: count('maxBytes', 8 * 1024 * 1024),
  };
}

/**
 * The cache of one createFetch() instance, from its `cache` option: the
 * caller's `store`, else the platform's (`caches.default` in Workers,
 * `caches.open('ratewise')` in browsers), else a bounded in-memory LRU
 * (Node, Deno, Bun, and pages without the Cache API). The platform's is
 * picked at the first call, where Workers allow using it. `ttlMs`,
 * `streams` and `anyRequest` are read by the core.
 */
export function makeCache(options) {
  const { store, key, ttlMs, streams, anyRequest, shareAcrossKeys, maxEntries, maxBytes } = readOptions(options);
  let chosen = store ? { name: 'custom', get: (k) => store.get(k), put: (k, r) => store.put(k, r) } : undefined;
  return {
    key,
    ttlMs,
    streams,
    anyRequest,
    shareAcrossKeys,
    maxBytes,
    store() {
      if (chosen) return chosen;
      const caches = globalThis.caches;
      if (caches?.default) {
        chosen = platform(() => caches.default, 'caches.default');
      } else if (caches && typeof caches.open === 'function' && !globalThis.Deno) {
        let opened; // the Cache object, never a promise another call could await
        chosen = platform(async () => (opened ??= await caches.open('ratewise')), "caches.open('ratewise')");
      } else {
        const m = new Memory(maxEntries, maxBytes);
        chosen = { name: 'memory', get: (k) => m.get(k), put: (k, r) => m.put(k, r) };
      }
      return chosen;
    },
  };
}

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

/** The body of `fetch(input, init)` as bytes or text, or undefined when it cannot be keyed (FormData). */
async function bodyOf(input, init) {
  const body = init?.body;
  if (body === undefined || body === null) {
    return typeof input === 'object' && input !== null && typeof input.clone === 'function'
      ? new Uint8Array(await input.clone().arrayBuffer())
      : '';
  }
  if (typeof body === 'string') return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body.arrayBuffer === 'function') return new Uint8Array(await body.arrayBuffer()); // Blob
  if (Object.prototype.toString.call(body) === '[object URLSearchParams]') return body.toString();
  return undefined;
}

/**
 * The key of a request: the caller's `key(request)`, or a SHA-256 of the
 * method, the URL without credentials (`url`, from the core) and the body.
 * Undefined when the request cannot be keyed.
 */
async function keyOf(cache, method, url, input, init) {
  if (cache.key) {
    const { signal, ...rest } = init ?? {};
    const value = await cache.key(new Request(input, rest));
    return typeof value === 'string' && value !== '' ? value : undefined;
  }
  const body = await bodyOf(input, init);
  if (body === undefined || !globalThis.crypto?.subtle) return undefined;
  const head = new TextEncoder().encode(`${method.toUpperCase()} ${url}\n`);
  const rest = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const all = new Uint8Array(head.length + rest.length);
  all.set(head);
  all.set(rest, head.length);
  return hex(await crypto.subtle.digest('SHA-256', all));
}

/** Reads a body whole, or gives up (cancelling it) past `limit` bytes. */
async function readAll(response, limit) {
  const body = response.body;
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks = [];
  let size = 0;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      size += next.value.length;
      if (size > limit) {
        reader.cancel().catch(ignore);
        return undefined;
      }
      chunks.push(next.value);
    }
  } catch {
    return undefined; // the connection failed mid-body: nothing to store
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/**
 * Stores a success in the background: a clone of `response` is read (up to
 * the cache's byte bound) and put under the request's key. The caller's
 * response is not touched or waited for. `waitUntil` (a Worker's
 * `ctx.waitUntil`, from forInvocation) keeps the invocation alive until
 * the copy is stored. Never throws.
 */
export function cacheStore(cache, method, url, input, init, response, nowMs, ttlMs, waitUntil) {
  let copy;
  try {
    copy = response.clone();
  } catch {
    return; // a body already used or locked
  }
  const done = (async () => {
    const key = await keyOf(cache, method, url, input, init).catch(ignore);
    if (key === undefined) {
      copy.body?.cancel().catch(ignore);
      return;
    }
    const bytes = await readAll(copy, cache.maxBytes);
    if (bytes === undefined) return;
    const headers = new Headers(copy.headers);
    for (const name of ['set-cookie', 'vary', 'content-encoding', 'content-length']) headers.delete(name);
    headers.set(STORED_AT, String(nowMs));
    // The platform caches drop the entry once it is too old to be given.
    headers.set('cache-control', `max-age=${Math.ceil(ttlMs / 1000)}`);
    const stored = new Response(bytes, { status: copy.status, statusText: copy.statusText, headers });
    await cache.store().put(key, stored);
  })().catch(ignore);
  if (typeof waitUntil === 'function') {
    try {
      waitUntil(done);
    } catch {
      // waitUntil outside its invocation: the copy is stored or dropped as it goes
    }
  }
}

/**
 * The stored answer to a request as `[response, storedAtMs]`, or undefined:
 * no entry, no key, a store that failed or took over a second. Never rejects.
 */
export async function cacheMatch(cache, method, url, input, init) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, LOOKUP_MS, undefined);
  });
  const lookup = (async () => {
    const key = await keyOf(cache, method, url, input, init);
    if (key === undefined) return undefined;
    const found = await cache.store().get(key);
    if (!found || typeof found.status !== 'number' || !found.headers) return undefined;
    return [found, Number(found.headers.get(STORED_AT) ?? Number.NaN)];
  })();
  lookup.catch(ignore);
  try {
    const found = await Promise.race([lookup, timeout]);
    if (found === undefined) lookup.then((late) => late?.[0].body?.cancel().catch(ignore), ignore);
    return found;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The stored answer as the caller gets it: marked as the cache's, with its
 * age; undefined (a miss) when a store gave something that cannot be one,
 * such as a Response whose body was already read.
 */
export function cacheHit(found, ageMs) {
  try {
    const headers = new Headers(found.headers);
    headers.delete(STORED_AT);
    headers.set('x-ratewise-cache', 'hit');
    headers.set('x-ratewise-cache-age-ms', String(Math.round(ageMs)));
    headers.set('age', String(Math.floor(ageMs / 1000)));
    if (found.bodyUsed) return undefined;
    return new Response(found.body, { status: found.status, statusText: found.statusText, headers });
  } catch {
    return undefined;
  }
}
