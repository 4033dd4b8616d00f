// I/O glue for createFetch (internal): reading a bounded prefix of an error
// body, releasing bodies, and telling which request bodies can be sent
// again. Every promise made here is awaited or given a handler, so a broken
// connection never becomes an unhandled rejection (which ends a Node process).

const ignore = () => {};

/** Reads at most `limit` bytes of a clone of `response`'s body, for at most `timeoutMs`; never rejects. */
export async function readPrefix(response, limit, timeoutMs) {
  let body;
  try {
    body = response.clone().body;
  } catch {
    return '';
  }
  if (!body) return '';
  const reader = body.getReader();
  const chunks = [];
  let size = 0;
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, timeoutMs, null);
  });
  try {
    while (size < limit) {
      const read = reader.read();
      read.catch(ignore); // if the timeout wins, a later failure of this read is handled
      const next = await Promise.race([read, timeout]);
      if (next === null || next.done || !(next.value instanceof Uint8Array)) break;
      const part = next.value.subarray(0, limit - size);
      chunks.push(part);
      size += part.length;
    }
  } catch {
    // The connection failed mid-body: classify what arrived.
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(ignore);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(bytes);
}

// How much of an event not yet complete is kept to scan with the next chunk (an event longer than
// this is scanned from its last 64 KiB only).
const MAX_CARRY = 65536;

/** Where the complete events of `text` end: after its last blank line (0 if it has none). */
function completeEnd(text) {
  const lf = text.lastIndexOf('\n\n');
  const crlf = text.lastIndexOf('\r\n\r\n');
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}

/**
 * A scanner of a stream's later chunks: it hands `watch` each run of complete events that may hold
 * an error, keeping the event still incomplete (bounded by MAX_CARRY) for the next chunk, so an
 * event cut by chunk boundaries is still seen whole. `seed` is the text already read (the peek).
 */
function eventScanner(watch, seed) {
  let carry = seed;
  return (part) => {
    carry += part;
    const end = completeEnd(carry);
    if (end > 0) {
      const complete = carry.slice(0, end);
      carry = carry.slice(end);
      if (complete.includes('error')) watch(complete);
    }
    if (carry.length > MAX_CARRY) carry = carry.slice(-MAX_CARRY);
  };
}

/** Whether `text` holds a complete event (a block with a `data:` or `event:` line), comments aside. */
function hasEvent(text) {
  const blocks = text.split(/\r?\n\r?\n/);
  blocks.pop(); // the last block is not complete yet
  return blocks.some((b) => /^(data|event):/m.test(b));
}

/**
 * Reads a `text/event-stream` response up to its first complete event (at
 * most `limit` bytes, for at most `timeoutMs`) and returns `[prefix, response]`:
 * the text read, and a Response that yields every byte in order, the peeked
 * ones first, then the rest as the caller reads it (nothing is buffered
 * ahead). `watch(text)` sees each later chunk that may hold an error event.
 * Never rejects: a failure mid-peek reaches the caller's reader instead.
 */
export async function peekStream(response, limit, timeoutMs, watch) {
  const body = response.body;
  if (!body || body.locked) return ['', response];
  const reader = body.getReader();
  const chunks = [];
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  let done = false;
  let failure = null;
  let pending = null; // a read the timeout overtook: its chunk still belongs to the caller
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, timeoutMs, null);
  });
  try {
    while (size < limit && !hasEvent(text)) {
      const read = reader.read();
      read.catch(ignore);
      const next = await Promise.race([read, timeout]);
      if (next === null) {
        pending = read;
        break;
      }
      if (next.done) {
        done = true;
        break;
      }
      chunks.push(next.value);
      size += next.value.length;
      text += decoder.decode(next.value, { stream: true });
    }
  } catch (e) {
    failure = e;
  } finally {
    clearTimeout(timer);
  }
  const later = new TextDecoder();
  // The peeked text goes first: its first event was not an error, but a later one may begin there.
  const scan = watch ? eventScanner(watch, text) : undefined;
  const stream = new ReadableStream(
    {
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        if (done) controller.close();
      },
      async pull(controller) {
        if (failure) return controller.error(failure);
        try {
          const next = await (pending ?? reader.read());
          pending = null;
          if (next.done) return controller.close();
          controller.enqueue(next.value);
          if (scan) scan(later.decode(next.value, { stream: true }));
        } catch (e) {
          controller.error(e);
        }
      },
      cancel(reason) {
        return reader.cancel(reason).catch(ignore);
      },
    },
    { highWaterMark: 0 },
  );
  const copy = new Response(stream, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperty(copy, 'url', { value: response.url });
  Object.defineProperty(copy, 'redirected', { value: response.redirected });
  return [text, copy];
}

/** Releases a response that will not be returned (Workers allow six open connections). */
export function cancelBody(response) {
  const body = response.body;
  if (body && !body.locked) body.cancel().catch(ignore);
}

const REPLAYABLE_TAGS = new Set(['[object Blob]', '[object File]', '[object URLSearchParams]', '[object FormData]']);

/**
 * Whether a request body can be sent again as it is: strings, bytes, Blob,
 * URLSearchParams, FormData. Anything else (a ReadableStream, an async
 * iterable, a Node Readable) is consumed by the first attempt.
 */
export function replayable(body) {
  if (body === undefined || body === null || typeof body === 'string') return true;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true;
  return REPLAYABLE_TAGS.has(Object.prototype.toString.call(body));
}

/** A string body parsed as a JSON object (for the model of a request with routes), or undefined. */
export function jsonObject(body) {
  if (typeof body !== 'string') return undefined;
  try {
    const value = JSON.parse(body);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

// The lanes, by index (tests/contract.rs checks them against the core's Lane::ALL).
const LANES = ['interactive', 'bulk'];
const PRIORITY = 'x-ratewise-priority';

/**
 * A call's lane, as its index in LANES, from `init.lane` or the
 * `x-ratewise-priority` header, and the headers without that header (a copy;
 * undefined when it was absent: it is never sent). Throws a TypeError naming
 * the field for anything but a lane's name.
 */
export function readLane(init, headers) {
  const given = init?.lane;
  const header = headers.get(PRIORITY);
  let stripped;
  if (header !== null) {
    stripped = new Headers(headers);
    stripped.delete(PRIORITY);
  }
  const name = given ?? header;
  if (name === undefined || name === null) return [0, stripped];
  const at = typeof name === 'string' ? LANES.indexOf(name.trim().toLowerCase()) : -1;
  if (at < 0) {
    const field = given === undefined ? PRIORITY : 'init.lane';
    throw new TypeError(`fetch: \`${field}\` must be 'interactive' or 'bulk', got '${String(name)}'`);
  }
  return [at, stripped];
}

// The RequestInit members a platform's fetch or Request may read (WHATWG, undici, workerd, Deno),
// and ratewise's own `lane`.
const INIT_FIELDS = [
  'method',
  'headers',
  'body',
  'referrer',
  'referrerPolicy',
  'mode',
  'credentials',
  'cache',
  'redirect',
  'integrity',
  'keepalive',
  'signal',
  'duplex',
  'priority',
  'window',
  'dispatcher',
  'client',
  'cf',
  'lane',
];

/**
 * A copy of `fetch(input, init)`'s init holding its own enumerable properties only, so a value
 * inherited from a polluted `Object.prototype` (a `headers`, `body` or `signal` planted there) is
 * never read by ratewise nor by the platform's fetch: every inherited name, and every RequestInit
 * member, that the init does not own is shadowed by an own `undefined`. A getter that throws
 * becomes a TypeError naming the field, with what it threw as `cause`.
 */
export function ownInit(init) {
  const copy = {};
  if (init === undefined || init === null) return copy;
  let keys;
  try {
    keys = Object.keys(init);
  } catch (cause) {
    throw new TypeError('fetch: the keys of `init` could not be read', { cause });
  }
  for (const k of keys) {
    try {
      copy[k] = init[k];
    } catch (cause) {
      throw new TypeError(`fetch: \`init.${k}\` could not be read: ${cause?.message ?? typeof cause}`, { cause });
    }
  }
  for (const k in copy) if (!Object.hasOwn(copy, k)) copy[k] = undefined;
  for (const k of INIT_FIELDS) if (!Object.hasOwn(copy, k) && k in copy) copy[k] = undefined;
  return copy;
}

/**
 * `response` marked `x-should-retry: false`: an answer ratewise has finished retrying, so an SDK
 * left at its default retries (openai, @anthropic-ai/sdk) does not repeat the whole sequence. A
 * copy over the same body (a fetch response's headers are immutable), with its `url` kept; the
 * response itself when it is already marked or its body cannot be taken over.
 */
export function markFinal(response) {
  if (response.status < 400 || response.headers.get('x-should-retry') === 'false') return response;
  try {
    const headers = new Headers(response.headers);
    headers.set('x-should-retry', 'false');
    const { status, statusText, url, redirected } = response;
    const copy = new Response(response.body, { status, statusText, headers });
    Object.defineProperties(copy, { url: { value: url }, redirected: { value: redirected } });
    return copy;
  } catch {
    return response;
  }
}
