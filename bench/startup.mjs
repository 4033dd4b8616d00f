// Benchmark (not a test): what ratewise costs to ship and to load, against
// p-retry and ky: the packed .wasm raw and gzipped, the JavaScript glue
// gzipped (wasm-bindgen's ratewise.js and the js/ snippets, as packed), and
// the cold `import()` time in Node: the median of fresh `node -e` processes,
// interleaved, each timing its own import (process start excluded), and
// ratewise's first classify() after it (where the Node entry compiles the .wasm).
//
//   ./scripts/build.sh && ./scripts/pack.sh && node bench/startup.mjs [--runs 15] [--package path/to/pkg ...]
//
// `--package` (repeatable) adds rows for another build's folder (e.g. a copy
// of an older `pkg/`), measured in the same run.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { help } from './help.mjs';

help(import.meta.url);

const argv = process.argv;
const runs = Number(argv[argv.indexOf('--runs') + 1]) || 15;
const others = argv.flatMap((a, i) => (a === '--package' ? [argv[i + 1]] : []));
const here = dirname(fileURLToPath(import.meta.url));
const packed = join(here, '..', 'tests', 'js', 'node_modules', 'ratewise');
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;

/** Every file under `dir` whose name ends with one of `exts`. */
function files(dir, exts) {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile() && exts.some((e) => f.endsWith(e)));
}

/** The gzipped size of files, each gzipped alone (as a server sends them). */
const gzSum = (list) => list.reduce((sum, f) => sum + gz(readFileSync(f)), 0);

/** .wasm raw and gzipped, glue and entry files gzipped, of a package folder. */
function sizes(dir) {
  const wasm = readFileSync(join(dir, 'ratewise_bg.wasm'));
  // Older builds kept some snippets as files of their own; now they are all in ratewise.js.
  const snippets = join(dir, 'snippets');
  const glue = [join(dir, 'ratewise.js'), ...(existsSync(snippets) ? files(snippets, ['.js']) : [])];
  // What node.js imports besides the glue (the coordinator's .wasm and glue load on first use only;
  // older builds had the last four as files of their own).
  const entry = ['node.js', 'coordinator-node.js', 'errors.js', 'coordinator-wasm.js', 'coordinator.js', 'redis.js']
    .map((f) => join(dir, f))
    .filter((f) => existsSync(f));
  return `${kb(wasm.length)} | ${kb(gz(wasm))} | ${kb(gzSum(glue))} glue (ratewise.js${glue.length > 1 ? ` + ${glue.length - 1} snippets` : ''}), ${kb(gzSum(entry))} entry files`;
}
const require = createRequire(join(here, '..', 'package.json'));
const pkgDir = (name) => join(here, '..', 'node_modules', name);
const jsOf = (name) => files(pkgDir(name), ['.js']);

console.log(`startup benchmark, Node ${process.version}\n`);
console.log('| package | .wasm raw | .wasm gzip | JS gzip |');
console.log('|---|---:|---:|---:|');
console.log(`| ratewise | ${sizes(packed)} |`);
for (const dir of others) console.log(`| ratewise (${dir}) | ${sizes(dir)} |`);
for (const name of ['p-retry', 'is-network-error', 'ky']) {
  console.log(`| ${name} | – | – | ${kb(gzSum(jsOf(name)))} (its .js files) |`);
}

// Each process times its own import: node's start is the same for all. ratewise's also times its
// first classify() after the import: the Node entry compiles the .wasm there, not at import.
const script = (spec, first) =>
  `const t=performance.now();const m=await import(${JSON.stringify(spec)});const i=performance.now()-t;` +
  (first ? 'const c=performance.now();m.classify({status:429});' : '') +
  `process.stdout.write(JSON.stringify([i,${first ? 'performance.now()-c' : 'null'}]))`;
const specs = {
  ratewise: join(packed, 'node.js'),
  ...Object.fromEntries(others.map((dir) => [`ratewise (${dir})`, join(dir, 'node.js')])),
  'p-retry': require.resolve('p-retry'),
  ky: join(pkgDir('ky'), 'distribution', 'index.js'),
};
const times = Object.fromEntries(Object.keys(specs).map((k) => [k, []]));
const firsts = Object.fromEntries(Object.keys(specs).map((k) => [k, []]));
for (let r = 0; r < runs; r++) {
  for (const [name, spec] of Object.entries(specs)) {
    const first = name.startsWith('ratewise');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script(spec, first)], {
      encoding: 'utf8',
    });
    const [imported, call] = JSON.parse(out);
    times[name].push(imported);
    if (first) firsts[name].push(call);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pr = median(times['p-retry']);
console.log(`\ncold import() in a fresh Node process, median of ${runs} interleaved runs\n`);
console.log('| package | ms | ÷ p-retry | then the first classify(), ms |');
console.log('|---|---:|---:|---:|');
for (const [name, xs] of Object.entries(times)) {
  const first = firsts[name].length ? median(firsts[name]).toFixed(1) : '–';
  console.log(`| ${name} | ${median(xs).toFixed(1)} | ${(median(xs) / pr).toFixed(2)}x | ${first} |`);
}
