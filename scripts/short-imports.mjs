// Shortens the names of the functions a wasm-bindgen module imports from its own glue.
//
//   node scripts/short-imports.mjs pkg/ratewise_bg.wasm pkg/ratewise.js
//
// wasm-bindgen names each import it writes in the glue `__wbg_<name>_<16 hex digits>` (or
// `__wbindgen_<name>`), under the module "./<name>_bg.js". Those names are spelled out twice, in the
// .wasm's import section and as keys in the glue's imports object (and once more as a string where
// esbuild --keep-names names the function). The hex digits are random, so gzip cannot shrink them.
// Here each becomes a short name (a, b, ... Z, aa, ...), in the .wasm and in the glue alike (the
// module's name stays: "_" instead measured 169 bytes more gzipped). Imports
// from the package's JS snippets keep their names: they are the snippets' export names.
//
// It refuses (and changes nothing) when a name is missing from the glue or is also an export's
// name, so a change in wasm-bindgen's output fails the build instead of breaking the module.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const [wasmPath, gluePath] = process.argv.slice(2);
if (!wasmPath || !gluePath) {
  console.error('usage: node scripts/short-imports.mjs <module_bg.wasm> <module.js>');
  process.exit(2);
}
const own = `./${basename(wasmPath, '.wasm')}.js`;
const bytes = readFileSync(wasmPath);

/** Reads an unsigned LEB128 at `at`: [value, the offset after it]. */
function uleb(buf, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = buf[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, at];
  }
}
/** Encodes `n` as an unsigned LEB128. */
function leb(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}
const text = (buf, at) => {
  const [len, start] = uleb(buf, at);
  return [buf.toString('utf8', start, start + len), start + len];
};
const name = (s) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([leb(b.length), b]);
};
/** The offset after an import's descriptor of `kind` at `at`. */
function skipDescriptor(buf, kind, at) {
  const limits = (p) => {
    const flags = buf[p++];
    [, p] = uleb(buf, p);
    if (flags & 1) [, p] = uleb(buf, p);
    return p;
  };
  if (kind === 0) return uleb(buf, at)[1]; // function: its type's index
  if (kind === 1) return limits(at + 1); // table: element type, limits
  if (kind === 2) return limits(at); // memory
  if (kind === 3) return at + 2; // global: value type, mutability
  if (kind === 4) return uleb(buf, at + 1)[1]; // tag: attribute, type index
  throw new Error(`import kind ${kind} is not known here`);
}

/** Short names in order: a..z, A..Z, then two letters and more. */
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const short = (i) =>
  i < LETTERS.length ? LETTERS[i] : short(Math.floor(i / LETTERS.length) - 1) + LETTERS[i % LETTERS.length];

// Find the import and export sections.
let at = 8;
let imports;
const exported = new Set();
while (at < bytes.length) {
  const id = bytes[at];
  const [size, start] = uleb(bytes, at + 1);
  if (id === 2) imports = { start: at, body: start, end: start + size };
  if (id === 7) {
    let [count, p] = uleb(bytes, start);
    for (; count > 0; count--) {
      let field;
      [field, p] = text(bytes, p);
      exported.add(field);
      [, p] = uleb(bytes, p + 1);
    }
  }
  at = start + size;
}
if (!imports) throw new Error(`${wasmPath} has no import section`);

let glue = readFileSync(gluePath, 'utf8');
const IDENTIFIER = /[A-Za-z_$][\w$]*/g;
const taken = new Set(glue.match(IDENTIFIER));
let nth = 0;
/** The next short name the glue does not use already (nor a keyword: do, if, in). */
function fresh() {
  for (;;) {
    const s = short(nth++);
    if (!taken.has(s) && !['do', 'if', 'in'].includes(s)) return s;
  }
}

// Rebuild the import section with short names for the glue's own imports.
const renamed = new Map();
const entries = [];
let [count, p] = uleb(bytes, imports.body);
entries.push(leb(count));
for (; count > 0; count--) {
  let module;
  let field;
  [module, p] = text(bytes, p);
  [field, p] = text(bytes, p);
  const kind = bytes[p];
  const after = skipDescriptor(bytes, kind, p + 1);
  let next = field;
  if (module === own) {
    if (exported.has(field)) throw new Error(`${field} is both imported and exported: left as it is`);
    next = fresh();
    renamed.set(field, next);
  }
  entries.push(name(module), name(next), bytes.subarray(p, after));
  p = after;
}
if (p !== imports.end) throw new Error('the import section did not parse to its end');

// Rename the same names in the glue, each as a whole identifier.
for (const from of renamed.keys()) {
  if (!taken.has(from)) throw new Error(`${from} is not in ${gluePath}`);
}
glue = glue.replace(IDENTIFIER, (id) => renamed.get(id) ?? id);

const section = Buffer.concat(entries);
const out = Buffer.concat([
  bytes.subarray(0, imports.start),
  Buffer.from([2]),
  leb(section.length),
  section,
  bytes.subarray(imports.end),
]);
new WebAssembly.Module(out); // still a valid module
writeFileSync(wasmPath, out);
writeFileSync(gluePath, glue);
console.log(`${basename(wasmPath)}: ${renamed.size} imports from ${own} renamed`);
