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
function call(f, id, value) {
  try {
    f(id, value);
  } catch {
    // The caller's body is unaffected; the answer's usage is lost.
  }
}

/**
 * Taps `response` in place: `feed(id, part)` gets the parts of the body the scanner reads (bytes or
 * text, or a number: that many bytes passed unread) and `done(id, how)` is called once, when the body
 * ends, fails or is cancelled. Returns true when `response` is tapped in place, a copy of it over a
 * pass-through of its body where the instance cannot be changed, or false (and calls nothing) when the
 * body is absent or taken.
 */
export function tapBody(response, id, feed, done) {
  const proto = Object.getPrototypeOf(response);
  // `body` is an accessor on Response.prototype or a parent (workerd's Body); its getter reads the
  // platform's own stream once ours replaces it on the instance.
  let bodyOf;
  for (let o = proto; o && !bodyOf; o = Object.getPrototypeOf(o))
    bodyOf = Object.getOwnPropertyDescriptor(o, 'body')?.get;
  let body;
  try {
    body = bodyOf ? bodyOf.call(response) : response.body;
  } catch {
    return false;
  }
  if (!body || body.locked || response.bodyUsed) return false;
  let open = true;
  let given = 0;
  const give = (part) => call(feed, id, part);
  // A part of `length` bytes (or characters): the head whole, then only what the window keeps.
  const take = (part, length, cut) => {
    const head = Math.max(0, HEAD - given);
    given += length;
    if (length <= head + TAIL) return give(part);
    if (head > 0) give(cut(0, head));
    give(length - head - TAIL);
    give(cut(length - TAIL, length));
  };
  const end = (how) => {
    if (!open) return;
    open = false;
    queueMicrotask(() => call(done, id, how));
  };
  const later = (fn) => queueMicrotask(fn);
  const whole = (read, scan) => () => {
    // Once the stream is tapped, a second read fails as the platform's would: no tap.
    if (stream) return read.call(response);
    return read.call(response).then(
      (value) => {
        later(() => {
          if (scan) scan(value);
          end(COMPLETE);
        });
        return value;
      },
      (error) => {
        end(FAILED);
        throw error;
      },
    );
  };
  const text = (t) => take(t, t.length, (a, b) => t.slice(a, b));
  const bytes = (b) => take(b, b.length, (a, c) => b.subarray(a, c));
  let stream;
  const methods = {
    text: whole(proto.text, text),
    json: () => methods.text().then((t) => JSON.parse(t)),
    arrayBuffer: whole(proto.arrayBuffer, (b) => bytes(new Uint8Array(b))),
    blob: whole(proto.blob),
    formData: whole(proto.formData),
  };
  if (typeof proto.bytes === 'function') methods.bytes = whole(proto.bytes, bytes);
  try {
    for (const [name, value] of Object.entries(methods)) {
      if (typeof proto[name] === 'function') Object.defineProperty(response, name, { value, configurable: true });
    }
    Object.defineProperty(response, 'body', {
      configurable: true,
      get() {
        stream ??= passThrough(body, (chunk) => later(() => bytes(chunk)), end);
        return stream;
      },
    });
  } catch {
    // The instance cannot be changed: a copy over a pass-through of the same body, its url kept.
    const { status, statusText, headers, url, redirected } = response;
    stream = passThrough(body, (chunk) => later(() => bytes(chunk)), end);
    const copy = new Response(stream, { status, statusText, headers });
    Object.defineProperties(copy, { url: { value: url }, redirected: { value: redirected } });
    return copy;
  }
  return true;
}

/** A stream that forwards every chunk of `body` as it comes, unchanged, then calls `seen(chunk)`. */
function passThrough(body, seen, end) {
  const reader = body.getReader();
  return new ReadableStream(
    {
      async pull(controller) {
        let next;
        try {
          next = await reader.read();
        } catch (e) {
          end(FAILED);
          controller.error(e);
          return;
        }
        if (next.done) {
          controller.close();
          end(COMPLETE);
          return;
        }
        controller.enqueue(next.value);
        if (next.value instanceof Uint8Array) seen(next.value);
      },
      cancel(reason) {
        end(CANCELLED);
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
