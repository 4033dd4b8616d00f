// The usage tap (internal): a successful answer's body reaches the caller through a pass-through
// stream that forwards every chunk at once, unchanged, and hands the same chunk to the core's usage
// scanner in a later microtask, after the caller's read has resumed. Nothing is buffered, and the
// caller reads the same bytes, status, headers and url.

const ignore = () => {};

/** Calls the core; a microtask that throws would end a Node process, so nothing escapes. */
function call(f, id, value) {
  try {
    f(id, value);
  } catch {
    // The caller's body is unaffected; the answer's usage is lost.
  }
}

// How a body ended, as the core's `End` (src/wasm/usage.rs reads these numbers).
const COMPLETE = 0;
const CANCELLED = 1;
const FAILED = 2;

/**
 * A copy of `response` over a pass-through of its body: `feed(id, chunk)` sees each chunk after the
 * caller got it, and `done(id, how)` is called once, when the body ends, fails or is cancelled.
 * Returns null (and calls nothing) when the body is absent or already taken.
 */
export function tapBody(response, id, feed, done) {
  const body = response.body;
  if (!body || body.locked) return null;
  let reader;
  try {
    reader = body.getReader();
  } catch {
    return null;
  }
  let open = true;
  const end = (how) => {
    if (!open) return;
    open = false;
    queueMicrotask(() => call(done, id, how));
  };
  const stream = new ReadableStream(
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
        const chunk = next.value;
        controller.enqueue(chunk);
        if (chunk instanceof Uint8Array) queueMicrotask(() => call(feed, id, chunk));
      },
      cancel(reason) {
        end(CANCELLED);
        return reader.cancel(reason).catch(ignore);
      },
    },
    { highWaterMark: 0 },
  );
  const { status, statusText, headers, url, redirected } = response;
  const copy = new Response(stream, { status, statusText, headers });
  Object.defineProperties(copy, { url: { value: url }, redirected: { value: redirected } });
  return copy;
}
