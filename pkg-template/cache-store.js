// createFetch({ cache }): the stores, the key of a request and the background copy of a success.
// js/cache.js loads this on an instance's first cache lookup or store, so that the glue every import
// loads does not carry it. Which requests are stored, which failures the cache answers and whether
// an entry is fresh are the core's decisions (src/cache.rs); this only keeps and finds bytes.

const ignore = () => {};
// js/cache.js reads it back (the entry's age) and removes it from a hit.
const STORED_AT = 'x-ratewise-stored-at';
// Entries of the platform's Cache API live under this URL (never fetched).
const KEY_URL = 'https://ratewise.invalid/cache/';
// The most stores in flight a cache remembers for its lookups to wait for (more are not waited for).
const FLIGHT = 64;

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

/**
 * The store of a cache (js/cache.js's makeCache): the caller's `store`, else the platform's
 * (`caches.default` in Workers, `caches.open('ratewise')` in browsers), else a bounded in-memory LRU
 * (Node, Deno, Bun, and pages without the Cache API). Picked at the first use, where Workers allow
 * using it, and kept on the cache.
 */
function storeOf(cache) {
  if (cache.chosen) return cache.chosen;
  const { store, maxEntries, maxBytes } = cache;
  const caches = globalThis.caches;
  if (store) {
    cache.chosen = { name: 'custom', get: (k) => store.get(k), put: (k, r) => store.put(k, r) };
  } else if (caches?.default) {
    cache.chosen = platform(() => caches.default, 'caches.default');
  } else if (caches && typeof caches.open === 'function' && !globalThis.Deno) {
    let opened; // the Cache object, never a promise another call could await
    cache.chosen = platform(async () => (opened ??= await caches.open('ratewise')), "caches.open('ratewise')");
  } else {
    const m = new Memory(maxEntries, maxBytes);
    cache.chosen = { name: 'memory', get: (k) => m.get(k), put: (k, r) => m.put(k, r) };
  }
  return cache.chosen;
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

/** Puts `copy` (a clone of a success, not read yet) under `key` (a promise of keyOf's); cancels it when unkeyable. */
async function put(cache, key, copy, nowMs, ttlMs) {
  key = await key;
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
  await storeOf(cache).put(key, stored);
}

/**
 * Stores `copy` under the request's key, and remembers the store on the cache until it settles (at
 * most FLIGHT of them) with the `waitUntil` it was made with, for `find` to wait for. Never rejects:
 * a store that fails cancels the copy.
 */
export function store(cache, method, url, input, init, copy, nowMs, ttlMs, waitUntil) {
  if (!cache.flight) cache.flight = new Set();
  const { flight } = cache;
  const key = keyOf(cache, method, url, input, init).catch(ignore);
  const entry = { key, waitUntil };
  entry.done = put(cache, key, copy, nowMs, ttlMs)
    .catch(() => copy.body?.cancel().catch(ignore))
    .finally(() => flight.delete(entry));
  if (flight.size < FLIGHT) flight.add(entry);
  return entry.done;
}

/**
 * The stored answer to a request as `[response, storedAtMs]`, or undefined (no key, no entry). A
 * store of the same key still in flight is waited for first, when it was made with this lookup's
 * `waitUntil`, or (outside Workers) without one: in Workers a promise of one invocation must never be
 * awaited from another (workerd cancels the request as hung). The caller bounds the wait (js/cache.js).
 */
export async function find(cache, method, url, input, init, waitUntil) {
  const key = await keyOf(cache, method, url, input, init);
  if (key === undefined) return undefined;
  // In Workers a store made without a `waitUntil` may be another invocation's (a module-scope
  // createFetch() used without forInvocation): only stores of this lookup's own `waitUntil` are waited for.
  const workers = globalThis.navigator?.userAgent === 'Cloudflare-Workers';
  const ours = [...(cache.flight ?? [])].filter((e) =>
    typeof e.waitUntil === 'function' ? e.waitUntil === waitUntil : !workers,
  );
  await Promise.all(ours.map(async (e) => (await e.key) === key && e.done));
  const found = await storeOf(cache).get(key);
  if (!found || typeof found.status !== 'number' || !found.headers) return undefined;
  return [found, Number(found.headers.get(STORED_AT) ?? Number.NaN)];
}
