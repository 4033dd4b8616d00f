// The usage tap (internal). A successful answer stays the platform's own Response: its body methods
// (text, json, arrayBuffer, bytes) and its `body` stream are wrapped on the instance, so the caller
// reads the same bytes, status, headers, url and type, and nothing is buffered or delayed. What the
// caller reads is handed to the core's usage scanner after the caller has it (a later microtask):
// the first HEAD bytes, then only the last TAIL bytes of what follows, with the count of the bytes
// between (src/usage/scan.rs reads a body at its head and its tail; these match its constants).

const ignore = () => {};
const HEAD = 8192;
const TAIL = 4096;

// How a body ended, as the core's `End` (src/wasm/usage.rs reads these numbers).
const COMPLETE = 0;
const CANCELLED = 1;
const FAILED = 2;

/** Calls the core; a microtask that throws would end a Node process, so nothing escapes. */
function call(f, id, value, last) {
  try {
    f(id, value, last);
  } catch {
    // The caller's body is unaffected; the answer's usage is lost.
  }
}

// A tapped response's state, under a symbol of its own: the wrapped methods below are made once and
// shared by every tapped response (a tap makes no closures but its state).
const TAP = Symbol('ratewise.tap');

/** The state of one tapped body. */
class Tap {
  constructor(id, feed, done, body, proto) {
    this.id = id;
    this.feed = feed;
    this.done = done;
    this.body = body;
    this.proto = proto;
    this.open = true;
    this.given = 0;
    this.stream = undefined;
    // A body read whole and small enough to scan at once, handed over with the end (one call).
    this.last = undefined;
  }

  give(part) {
    call(this.feed, this.id, part);
  }

  /** A part of `length` bytes (or characters): the head whole, then only what the window keeps. */
  take(part, length, cut) {
    const head = Math.max(0, HEAD - this.given);
    this.given += length;
    if (length <= head + TAIL) return this.give(part);
    if (head > 0) this.give(cut.call(part, 0, head));
    this.give(length - head - TAIL);
    this.give(cut.call(part, length - TAIL, length));
  }

  text(t) {
    this.take(t, t.length, String.prototype.slice);
  }

  bytes(b) {
    this.take(b, b.length, Uint8Array.prototype.subarray);
  }

  /** A body read whole (`scan`: the method for its value): kept for the end when it fits at once. */
  whole(scan, value) {
    if (this.given === 0 && value.length <= HEAD + TAIL) {
      this.given = value.length;
      this.last = value;
    } else {
      this[scan](value);
    }
  }

  end(how) {
    if (!this.open) return;
    this.open = false;
    queueMicrotask(() => call(this.done, this.id, how, this.last));
  }

  /**
   * The body as a stream that passes every chunk on at once, made on first use from the platform's
   * body as it is then (a `clone()` since the tap gave the response a new one).
   */
  passThrough(response) {
    if (!this.stream) {
      const get = bodyGetterOf(this.proto);
      if (response && get) this.body = get.call(response);
      this.stream = passThrough(this);
    }
    return this.stream;
  }
}

/** `name` read whole by the platform, then scanned (`scan`: the Tap method for its value). */
function whole(name, scan) {
  return function () {
    const tap = this[TAP];
    const read = tap.proto[name];
    // Once the stream is tapped, a second read fails as the platform's would: no tap.
    if (tap.stream) return read.call(this);
    return read.call(this).then(
      (value) => {
        queueMicrotask(() => {
          if (scan) tap.whole(scan, scan === 'bytes' && !(value instanceof Uint8Array) ? new Uint8Array(value) : value);
          tap.end(COMPLETE);
        });
        return value;
      },
      (error) => {
        tap.end(FAILED);
        throw error;
      },
    );
  };
}

const METHODS = {
  text: whole('text', 'text'),
  arrayBuffer: whole('arrayBuffer', 'bytes'),
  bytes: whole('bytes', 'bytes'),
  blob: whole('blob'),
  formData: whole('formData'),
  json() {
    return METHODS.text.call(this).then((t) => JSON.parse(t));
  },
};

// The descriptors for one prototype (only the methods it has), made once per prototype.
const descriptors = new WeakMap();
function descriptorsOf(proto) {
  let d = descriptors.get(proto);
  if (!d) {
    d = {
      body: {
        configurable: true,
        get() {
          return this[TAP].passThrough(this);
        },
      },
    };
    for (const [name, value] of Object.entries(METHODS)) {
      if (typeof proto[name] === 'function') d[name] = { value, configurable: true };
    }
    descriptors.set(proto, d);
  }
  return d;
}

// `body` is an accessor on Response.prototype or a parent (workerd's Body): its getter reads the
// platform's own stream once ours replaces it on the instance.
const bodyGetters = new WeakMap();
function bodyGetterOf(proto) {
  let get = bodyGetters.get(proto);
  if (get === undefined) {
    for (let o = proto; o && !get; o = Object.getPrototypeOf(o)) get = Object.getOwnPropertyDescriptor(o, 'body')?.get;
    bodyGetters.set(proto, get ?? null);
  }
  return get;
}

/**
 * Taps `response` in place: `feed(id, part)` gets the parts of the body the scanner reads (bytes or
 * text, or a number: that many bytes passed unread) and `done(id, how, last)` is called once, when the
 * body ends, fails or is cancelled (`last`: a small body read whole, not fed before; else undefined). Returns true when `response` is tapped in place, a copy of it over a
 * pass-through of its body where the instance cannot be changed, or false (and calls nothing) when the
 * body is absent or taken.
 */
export function tapBody(response, id, feed, done) {
  const proto = Object.getPrototypeOf(response);
  const bodyOf = bodyGetterOf(proto);
  let body;
  try {
    body = bodyOf ? bodyOf.call(response) : response.body;
  } catch {
    return false;
  }
  if (!body || body.locked || response.bodyUsed) return false;
  const tap = new Tap(id, feed, done, body, proto);
  try {
    Object.defineProperty(response, TAP, { value: tap });
    Object.defineProperties(response, descriptorsOf(proto));
  } catch {
    // The instance cannot be changed: a copy over a pass-through of the same body, its url kept.
    const { status, statusText, headers, url, redirected } = response;
    const copy = new Response(tap.passThrough(), { status, statusText, headers });
    Object.defineProperties(copy, { url: { value: url }, redirected: { value: redirected } });
    return copy;
  }
  return true;
}

/** A stream that forwards every chunk of the tapped body as it comes, unchanged, then scans it. */
function passThrough(tap) {
  const reader = tap.body.getReader();
  return new ReadableStream(
    {
      async pull(controller) {
        let next;
        try {
          next = await reader.read();
        } catch (e) {
          tap.end(FAILED);
          controller.error(e);
          return;
        }
        if (next.done) {
          controller.close();
          tap.end(COMPLETE);
          return;
        }
        const chunk = next.value;
        controller.enqueue(chunk);
        if (chunk instanceof Uint8Array) queueMicrotask(() => tap.bytes(chunk));
      },
      cancel(reason) {
        tap.end(CANCELLED);
        return reader.cancel(reason).catch(ignore);
      },
    },
    { highWaterMark: 0 },
  );
}

const BUDGET = 'x-ratewise-budget';

/**
 * A call's budget tag, from `init.budget` or the `x-ratewise-budget` header, and the headers without
 * that header (a copy; undefined when it was absent: it is never sent). Throws a TypeError naming the
 * field for a tag that is not a non-empty string.
 */
export function readBudgetTag(init, headers) {
  const given = init?.budget;
  const header = headers.get(BUDGET);
  let stripped;
  if (header !== null) {
    stripped = new Headers(headers);
    stripped.delete(BUDGET);
  }
  const tag = given ?? header;
  if (tag === undefined || tag === null) return [undefined, stripped];
  if (typeof tag !== 'string' || tag.trim() === '') {
    const field = given === undefined ? BUDGET : 'init.budget';
    throw new TypeError(`fetch: \`${field}\` must be a budget's tag (a non-empty string), got ${typeof tag}`);
  }
  return [tag.trim(), stripped];
}

/** The event `onUsage` and `onEvent` get, built in one call from the core (see src/wasm/usage.rs). */
export function usageEvent(
  inputTokens,
  outputTokens,
  cachedInputTokens,
  cacheWriteTokens,
  reasoningTokens,
  model,
  responseId,
  costUsd,
  estimated,
  end,
  provider,
  url,
  route,
  lane,
  elapsedMs,
) {
  return {
    type: 'usage',
    usage: { inputTokens, outputTokens, cachedInputTokens, cacheWriteTokens, reasoningTokens },
    model,
    responseId,
    costUsd,
    estimated,
    end,
    provider,
    url,
    route,
    lane,
    elapsedMs,
  };
}
