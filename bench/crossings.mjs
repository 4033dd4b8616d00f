// Count (not a timing): how many times one success calls from the .wasm into JavaScript, over an
// in-memory fetch, for each build given. Every import of the glue is wrapped with a counter before
// the module is instantiated; 100 calls are counted after 10 of warm-up. Deterministic, so a change
// to the success path can be checked without the timing noise of a shared machine.
//
//   ./scripts/build.sh && node bench/crossings.mjs [--by-import] [path/to/pkg/node.js ...]
//
// Without paths it counts this build (pkg/node.js). `--by-import` lists the counts per import, with
// the start of each import's source (the glue is minified: its names say nothing).
import { pathToFileURL } from 'node:url';
import { help } from './help.mjs';

help(import.meta.url);

const byImport = process.argv.includes('--by-import');
const paths = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const HEADERS = {
  'content-type': 'application/json',
  'x-ratelimit-limit-requests': '10000',
  'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-reset-requests': '6ms',
  'x-request-id': 'req_0123456789abcdef',
};
const INIT = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o-mini"}' };
const stub = async () => new Response('{"id":"chatcmpl-1","choices":[]}', { headers: HEADERS });

const counts = new Map();
const Instance = WebAssembly.Instance;
// The Node entry instantiates synchronously (initSync): wrap what it passes in.
// biome-ignore lint/complexity/useArrowFunction: the glue calls it with `new`.
WebAssembly.Instance = function (module, imports) {
  const wrapped = {};
  for (const [name, members] of Object.entries(imports)) {
    wrapped[name] = {};
    for (const [key, value] of Object.entries(members)) {
      if (typeof value !== 'function') {
        wrapped[name][key] = value;
        continue;
      }
      const label = `${key}: ${String(value).slice(0, 60).replace(/\s+/g, ' ')}`;
      wrapped[name][key] = function (...args) {
        counts.set(label, (counts.get(label) ?? 0) + 1);
        return value.apply(this, args);
      };
    }
  }
  return new Instance(module, wrapped);
};

for (const path of paths.length > 0 ? paths : ['pkg/node.js']) {
  const { createFetch } = await import(pathToFileURL(path).href);
  const fetch = createFetch({ fetch: stub });
  const call = async () => (await fetch('https://api.openai.com/v1/chat/completions', INIT)).text();
  for (let i = 0; i < 10; i++) await call();
  counts.clear();
  for (let i = 0; i < 100; i++) await call();
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  console.log(`${path}: ${total / 100} crossings per success`);
  if (byImport) {
    for (const [label, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`  ${n / 100}\t${label}`);
  }
}
