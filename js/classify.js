// classify()'s boundary (internal, not exported by the package): the input
// written into wasm memory in one call, and the Classification built from the
// record wasm writes back (src/wasm/classify.rs describes both records). No
// decisions are made here: only copying values.
import { readClassifyInput } from './convert.js';

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF of a code or message is kept, as it was sent.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
/** Views of the wasm memory, remade when it grows (its buffer then changes). */
let bytes;
let view;
/** The input of the last readClassify whose texts did not fit, until writeHeld. */
let held;
/** The 'static' names (kinds, actions, providers, reasons) by address: [length, text]. */
const names = new Map();

function viewsOf(memory) {
  // A grown memory detaches the old buffer (its length is then 0): cheaper
  // to check than reading `memory.buffer` on every call.
  if (bytes === undefined || bytes.byteLength === 0) {
    bytes = new Uint8Array(memory.buffer);
    view = new DataView(memory.buffer);
  }
}

/** Where each of the record's five texts is in readClassifyInput's parts. */
const TEXTS = [2, 3, 4, 6, 7];
const HEAD = 40;
const ABSENT = 0xffffffff;

/**
 * Writes classify()'s input (any accepted form; throws a TypeError naming the
 * field otherwise) at `ptr` in wasm `memory`, which has room for `cap` bytes.
 * Returns 0, or the room needed: the input is then kept for writeHeld.
 */
export function readClassify(given, memory, ptr, cap) {
  return write(readClassifyInput(given), memory, ptr, cap);
}

/** Writes the input kept by the last readClassify that did not fit. */
export function writeHeld(memory, ptr, cap) {
  const parts = held;
  held = undefined;
  return write(parts, memory, ptr, cap);
}

function write(parts, memory, ptr, cap) {
  let need = HEAD;
  for (const i of TEXTS) if (typeof parts[i] === 'string') need += 3 * parts[i].length;
  if (need > cap) {
    held = parts;
    return need;
  }
  viewsOf(memory);
  const status = parts[0];
  const now = parts[5];
  view.setFloat64(ptr, typeof status === 'number' ? status : Number.NaN, true);
  view.setFloat64(ptr + 8, now === undefined ? Date.now() : typeof now === 'number' ? now : Number.NaN, true);
  view.setUint32(
    ptr + 16,
    (typeof status === 'number' ? 1 : 0) | (now === undefined || typeof now === 'number' ? 2 : 0),
    true,
  );
  let at = ptr + HEAD;
  for (let k = 0; k < 5; k++) {
    const text = parts[TEXTS[k]];
    let n = ABSENT;
    if (typeof text === 'string') {
      n = text.length === 0 ? 0 : encoder.encodeInto(text, bytes.subarray(at, ptr + cap)).written;
      at += n;
    }
    view.setUint32(ptr + 20 + 4 * k, n, true);
  }
  return 0;
}

/** A 'static' name at `at` in the record (address, length): decoded once. */
function name(at) {
  const len = view.getUint32(at + 4, true);
  if (len === 0) return null;
  const address = view.getUint32(at, true);
  const known = names.get(address);
  if (known !== undefined && known[0] === len) return known[1];
  const text = decoder.decode(bytes.subarray(address, address + len));
  names.set(address, [len, text]);
  return text;
}

const orNull = (x) => (Number.isNaN(x) ? null : x);

function windowAt(at) {
  const limit = view.getFloat64(at, true);
  const remaining = view.getFloat64(at + 8, true);
  const resetMs = view.getFloat64(at + 16, true);
  if (Number.isNaN(limit) && Number.isNaN(remaining) && Number.isNaN(resetMs)) return null;
  return { limit: orNull(limit), remaining: orNull(remaining), resetMs: orNull(resetMs) };
}

/** Where the text whose UTF-16 length is at `at` ends, when it starts at `start`. */
function end(at, start) {
  const n = view.getUint32(at, true);
  return n === ABSENT ? start : start + n;
}

/** The text whose length is at `at`: `all` from `start` to `stop`, or null. */
const cut = (all, at, start, stop) => (view.getUint32(at, true) === ABSENT ? null : all.slice(start, stop));

/** The Classification object from the record wasm wrote: its fixed part at `ptr`, its texts at `texts`. */
export function makeClassification(memory, ptr, texts) {
  viewsOf(memory);
  const size = view.getUint32(ptr + 164, true);
  // The three texts decoded by one call, then cut by their UTF-16 lengths.
  const all = size === 0 ? '' : decoder.decode(bytes.subarray(texts, texts + size));
  const codeEnd = end(ptr + 152, 0);
  const typeEnd = end(ptr + 156, codeEnd);
  const code = cut(all, ptr + 152, 0, codeEnd);
  const type = cut(all, ptr + 156, codeEnd, typeEnd);
  const message = cut(all, ptr + 160, typeEnd, end(ptr + 160, typeEnd));
  return {
    kind: name(ptr + 112),
    action: name(ptr + 120),
    retryAfterMs: orNull(view.getFloat64(ptr, true)),
    window: name(ptr + 128),
    provider: name(ptr + 136),
    status: view.getUint32(ptr + 104, true),
    code,
    type,
    message,
    limits:
      view.getUint32(ptr + 108, true) === 1
        ? {
            requests: windowAt(ptr + 8),
            tokens: windowAt(ptr + 32),
            inputTokens: windowAt(ptr + 56),
            outputTokens: windowAt(ptr + 80),
          }
        : null,
    reason: name(ptr + 144),
  };
}
