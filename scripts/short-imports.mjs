// Shortens the names of the functions a wasm-bindgen module imports from its own glue, and of the
// wasm-bindgen internals it exports to it.
//
//   node scripts/short-imports.mjs pkg/ratewise_bg.wasm pkg/ratewise.js
//
// wasm-bindgen names each import it writes in the glue `__wbg_<name>_<16 hex digits>` (or
// `__wbindgen_<name>`), under the module "./<name>_bg.js". Those names are spelled out twice, in the
// .wasm's import section and as keys in the glue's imports object (and once more as a string where
// esbuild --keep-names names the function). The hex digits are random, so gzip cannot shrink them.
// Here each becomes a short name (a, b, ... Z, aa, ...), in the .wasm and in the glue alike (the
// module's name stays: "_" instead measured 169 bytes more gzipped).
//
// Three more steps for the glue's bytes (issue 25):
// - Two imports whose functions in the glue are the same text (web-sys binds `length`, `signal` or
//   `aborted` once per type) share one name and one function: a module may import a name twice.
// - The functions the .wasm imports straight from a JS snippet (no conversion needed) are imported
//   under the module's own name too, as short names the glue maps to the snippets' functions:
//   wasm-bindgen hands each such snippet to the module as a namespace object, which a bundler must
//   build with every export of the snippet listed.
// - The exports only the glue calls (wasm-bindgen's malloc, free, externref table and closure
//   invokers, `wasm_bindgen__convert__closures_____invoke__<16 hex digits>`) get short names.
//   classify, createFetch, the coordinators' steps, memory and __wbindgen_externrefs (which tests
//   read) keep theirs.
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
let exports;
while (at < bytes.length) {
  const id = bytes[at];
  const [size, start] = uleb(bytes, at + 1);
  if (id === 2) imports = { start: at, body: start, end: start + size };
  if (id === 7) exports = { start: at, body: start, end: start + size };
  at = start + size;
}
if (!imports) throw new Error(`${wasmPath} has no import section`);
if (!exports) throw new Error(`${wasmPath} has no export section`);

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
/** A section `id` made of `entries`. */
const section = (id, entries) => {
  const content = Buffer.concat(entries);
  return Buffer.concat([Buffer.from([id]), leb(content.length), content]);
};

// The functions of the glue's imports object: `        name: function…,` up to the next one.
const OBJECT = /^ {4}const import0 = \{\n {8}__proto__: null,\n([\s\S]*?)^ {4}\};\n/m;
const object = glue.match(OBJECT);
if (!object) throw new Error(`${gluePath}: no imports object (const import0 = {...}) found`);
const functions = new Map();
for (const m of object[1].matchAll(/^ {8}([\w$]+): ([\s\S]*?)(?=^ {8}[\w$]+: |(?![\s\S]))/gm)) {
  functions.set(m[1], m[2]);
}

// Rebuild the import section with short names for the glue's own imports and the snippets'.
const renamed = new Map();
const byText = new Map();
const shared = new Set(); // imports whose function is another's: dropped from the glue
const direct = []; // [short name, snippet module, function]
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
    const fn = functions.get(field);
    if (fn === undefined) throw new Error(`${field} is not in the imports object of ${gluePath}`);
    next = byText.get(fn);
    if (next) {
      shared.add(field);
    } else {
      next = fresh();
      byText.set(fn, next);
    }
    renamed.set(field, next);
  } else if (module.startsWith('./snippets/') && kind === 0) {
    next = fresh();
    direct.push([next, module, field]);
    module = own;
  }
  entries.push(name(module), name(next), bytes.subarray(p, after));
  p = after;
}
if (p !== imports.end) throw new Error('the import section did not parse to its end');

// Rebuild the export section: short names for wasm-bindgen's internals.
const INTERNAL = /^(__wbindgen_|__externref_|wasm_bindgen__)/;
const outExports = [];
[count, p] = uleb(bytes, exports.body);
outExports.push(leb(count));
for (; count > 0; count--) {
  let field;
  [field, p] = text(bytes, p);
  const after = uleb(bytes, p + 1)[1];
  let next = field;
  if (INTERNAL.test(field) && field !== '__wbindgen_externrefs' && taken.has(field)) {
    if (renamed.has(field)) throw new Error(`${field} is both imported and exported: left as it is`);
    next = fresh();
    renamed.set(field, next);
  }
  outExports.push(name(next), bytes.subarray(p, after));
  p = after;
}
if (p !== exports.end) throw new Error('the export section did not parse to its end');

// The glue: the shared functions dropped, every name renamed as a whole identifier, then the
// snippets' namespace objects replaced by named imports and short keys in the imports object.
let fns = object[1];
for (const field of shared) fns = fns.replace(`        ${field}: ${functions.get(field)}`, '');
glue = glue.replace(object[1], () => fns);
for (const from of renamed.keys()) {
  if (!taken.has(from)) throw new Error(`${from} is not in ${gluePath}`);
}
glue = glue.replace(IDENTIFIER, (id) => renamed.get(id) ?? id);
if (direct.length > 0) {
  const namespaces = new Set();
  glue = glue.replace(/^import \* as (import\d+) from "[^"]+"\n/gm, (_, local) => {
    namespaces.add(local);
    return '';
  });
  glue = glue.replace(/^ {8}"[^"]+": (import\d+),\n/gm, (line, local) => {
    if (local === 'import0') return line;
    if (!namespaces.has(local)) throw new Error(`${gluePath}: ${line.trim()} names no namespace import`);
    return '';
  });
  if (/\bimport\d+\b(?!:)/.test(glue.replace(/\bimport0\b/g, ''))) {
    throw new Error(`${gluePath}: a snippet's namespace object is still used`);
  }
  const named = new Map(); // module -> names the glue imports from it
  for (const m of glue.matchAll(/^import \{ ([^}]*) \} from '([^']+)';$/gm)) {
    named.set(m[2], new Set(m[1].split(', ')));
  }
  const added = new Map(); // module -> names to import from it
  for (const [, module, fn] of direct) {
    if (named.get(module)?.has(fn) || added.get(module)?.includes(fn)) continue;
    if (taken.has(fn)) throw new Error(`${fn} is already a name in ${gluePath}`);
    added.set(module, [...(added.get(module) ?? []), fn]);
  }
  // Into the glue's import of the same snippet where it has one, else a line of their own.
  const lines = [];
  for (const [module, fns] of added) {
    const line = new RegExp(`^import \\{ ([^}]*) \\} from '${module.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}';$`, 'm');
    if (line.test(glue))
      glue = glue.replace(line, (_, had) => `import { ${[had, ...fns].join(', ')} } from '${module}';`);
    else lines.push(`import { ${fns.join(', ')} } from '${module}';\n`);
  }
  const keys = direct.map(([next, , fn]) => `        ${next}: ${fn},\n`).join('');
  glue = glue.replace(/^(import .*\n)/m, (first) => first + lines.join(''));
  glue = glue.replace(/^( {4}const import0 = \{\n {8}__proto__: null,\n)/m, (open) => open + keys);
}

const out = Buffer.concat([
  bytes.subarray(0, imports.start),
  section(2, entries),
  bytes.subarray(imports.end, exports.start),
  section(7, outExports),
  bytes.subarray(exports.end),
]);
new WebAssembly.Module(out); // still a valid module
writeFileSync(wasmPath, out);
writeFileSync(gluePath, glue);
console.log(
  `${basename(wasmPath)}: ${renamed.size} names shortened, ${shared.size} imports sharing another's function, ` +
    `${direct.length} snippet functions imported by short names`,
);
