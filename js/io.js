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
