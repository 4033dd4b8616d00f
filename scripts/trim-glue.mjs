// Removes from wasm-bindgen's glue (--target web) what no runtime ratewise supports runs, before it
// is minified:
//
//   node scripts/trim-glue.mjs pkg/ratewise.js [pkg/ratewise_coordinator.js ...]
//
// - the TextEncoder.encodeInto polyfill (Node >= 20, browsers, workerd, Deno and Bun all have it, and
//   js/convert.js calls it directly already);
// - passStringToWasm0's branch for a module without __wbindgen_realloc (every call passes it);
// - initSync's and init's warnings for the deprecated arguments (the entries pass one object);
// - the long console warning of the fallback from instantiateStreaming when a server sends the
//   .wasm with another type than application/wasm (the fallback stays; its warning is one line).
// Each piece must be found exactly as written here, once: a change in wasm-bindgen's output fails
// the build instead of shipping untrimmed or broken glue.
import { readFileSync, writeFileSync } from 'node:fs';

const CUTS = [
  [
    `
if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}
`,
    '\n',
  ],
  [
    `
    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }
`,
    '\n',
  ],
  [
    `
    if (module !== undefined) {
        if (Object.getPrototypeOf(module) === Object.prototype) {
            ({module} = module)
        } else {
            console.warn('using deprecated parameters for \`initSync()\`; pass a single object instead')
        }
    }
`,
    `
    if (module !== undefined) ({module} = module);
`,
  ],
  [
    `
    if (module_or_path !== undefined) {
        if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
            ({module_or_path} = module_or_path)
        } else {
            console.warn('using deprecated parameters for the initialization function; pass a single object instead')
        }
    }
`,
    `
    if (module_or_path !== undefined) ({module_or_path} = module_or_path);
`,
  ],
  [
    `console.warn("\`WebAssembly.instantiateStreaming\` failed because your server does not serve Wasm with \`application/wasm\` MIME type. Falling back to \`WebAssembly.instantiate\` which is slower. Original error:\\n", e);`,
    `console.warn('ratewise: the .wasm is not served as application/wasm:', e);`,
  ],
];

for (const file of process.argv.slice(2)) {
  let glue = readFileSync(file, 'utf8');
  const before = glue.length;
  for (const [from, to] of CUTS) {
    const at = glue.indexOf(from);
    if (at < 0 || glue.indexOf(from, at + 1) >= 0) {
      throw new Error(`${file}: wasm-bindgen's glue no longer has this once:\n${from}`);
    }
    glue = glue.slice(0, at) + to + glue.slice(at + from.length);
  }
  writeFileSync(file, glue);
  console.log(`${file}: ${before - glue.length} characters of wasm-bindgen's glue trimmed`);
}
