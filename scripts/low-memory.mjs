// Checks that a wasm module leaves the low 1 KiB of its memory unused, which wasm-opt's
// --low-memory-unused (scripts/build.sh) assumes: every active data segment starts at 1024 or above,
// and so does the stack pointer (the first global, a mutable i32), which grows down from there.
// wasm-ld places data at --global-base (1024 unless told otherwise) and rustc puts the stack first,
// below the data; a toolchain that changed either would make the flag unsound, so the build stops.
//
//   node scripts/low-memory.mjs pkg/ratewise_bg.wasm
import { readFileSync } from 'node:fs';

const LOW = 1024;
const [path] = process.argv.slice(2);
if (!path) {
  console.error('usage: node scripts/low-memory.mjs <module.wasm>');
  process.exit(2);
}
const bytes = readFileSync(path);
let at = 8;
/** Reads a LEB128 at `at` (signed if `signed`) and moves past it. */
function leb(signed = false) {
  let value = 0n;
  let shift = 0n;
  let byte;
  do {
    byte = bytes[at++];
    value |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
  } while (byte & 0x80);
  if (signed && byte & 0x40) value -= 1n << shift;
  return Number(value);
}
/** A constant expression's value if it is `i32.const N; end`, else undefined (and skips it). */
function constant() {
  const op = bytes[at++];
  const value = op === 0x41 ? leb(true) : undefined;
  while (bytes[at - 1] !== 0x0b) at++;
  return value;
}

const low = [];
while (at < bytes.length) {
  const id = bytes[at++];
  const size = leb();
  const end = at + size;
  if (id === 6) {
    // The first global: the stack pointer when it is a mutable i32.
    if (leb() > 0) {
      const [type, mutable] = [bytes[at++], bytes[at++]];
      const value = constant();
      if (type === 0x7f && mutable === 1 && value !== undefined && value < LOW) {
        low.push(`the stack pointer (${value})`);
      }
    }
  } else if (id === 11) {
    const count = leb();
    for (let i = 0; i < count; i++) {
      const flags = leb();
      if (flags === 2) leb();
      const offset = flags === 1 ? undefined : constant();
      if (offset !== undefined && offset < LOW) low.push(`data segment ${i} (at ${offset})`);
      at += leb();
    }
  }
  at = end;
}
if (low.length) {
  console.error(`${path} uses the low ${LOW} bytes of memory (${low.join(', ')}): drop --low-memory-unused`);
  process.exit(1);
}
