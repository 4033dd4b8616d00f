// Cached-response glue for createFetch (internal): the `cache` option read and checked, and the
// three calls the core makes. Which requests are stored, which failures the cache answers and
// whether an entry is fresh are the core's decisions (src/cache.rs). The stores, the key of a
// request and the copy of a success are pkg/cache-store.js (pkg-template/), loaded on an instance's
// first lookup or store: an import, or an instance without `cache`, never loads them. Every promise
// made here is awaited or handled, and a store that throws or hangs is a miss, never a failed call.

import { isArray, typeName } from './convert.js';

const ignore = () => {};
// The header under which an entry keeps when it was stored (pkg-template/cache-store.js writes it).
const STORED_AT = 'x-ratewise-stored-at';
// A lookup that takes longer is a miss: the caller already waited for the failure.
const LOOKUP_MS = 1000;

let stores; // pkg/cache-store.js once loaded: never a promise, which another invocation could await
/** The store code, loaded by whichever call needs it first (each awaits its own import()). */
async function load() {
  // From pkg/snippets/ratewise-<hash>/js/ to pkg/cache-store.js; a literal, so bundlers follow it.
  stores ??= await import('../../../cache-store.js');
  return stores;
}

// The keys of `createFetch({ cache })` (tests/contract.rs checks them against index.d.ts).
const CACHE_KEYS = ['store', 'ttlMs', 'key', 'streams', 'anyRequest', 'shareAcrossKeys', 'maxEntries', 'maxBytes'];
const MAX_MS = 2147483647;

/**
 * The cache of one createFetch() instance, from its `cache` option, read and checked: its own
 * properties only (nothing planted on Object.prototype is an option); a wrong key, type or value, or
 * a getter that throws (with what it threw as `cause`), throws a TypeError or RangeError naming the
 * field. Its store (the caller's `store`, else the platform's, else a bounded in-memory LRU) is picked
 * at the first lookup or store, by pkg-template/cache-store.js. `ttlMs`, `streams`, `anyRequest` and
 * `shareAcrossKeys` are read by the core.
 */
export function makeCache(given) {
  if (given === null || typeof given !== 'object' || isArray(given)) {
    throw new TypeError(`createFetch: \`cache\` must be an object, got ${typeName(given)}`);
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
 * Stores a success in the background: a clone of `response` is read (up to
 * the cache's byte bound) and put under the request's key. The caller's
 * response is not touched or waited for. `waitUntil` (a Worker's
 * `ctx.waitUntil`, from forInvocation) keeps the invocation alive until
 * the copy is stored; a lookup of the same request from the same invocation
 * (or any, without `waitUntil`) waits for it (pkg-template/cache-store.js).
 * Never throws.
 */
export function cacheStore(cache, method, url, input, init, response, nowMs, ttlMs, waitUntil) {
  let copy;
  try {
    copy = response.clone();
  } catch {
    return; // a body already used or locked
  }
  const done = (async () =>
    (await load()).store(cache, method, url, input, init, copy, nowMs, ttlMs, waitUntil))().catch(() =>
    copy.body?.cancel().catch(ignore),
  );
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
 * no entry, no key, a store that failed or took over a second (waiting for a
 * store of the same request in flight included). `waitUntil` is the calling
 * invocation's: a store made with another's is never awaited. Never rejects.
 */
export async function cacheMatch(cache, method, url, input, init, waitUntil) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, LOOKUP_MS, undefined);
  });
  const lookup = (async () => (await load()).find(cache, method, url, input, init, waitUntil))();
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
