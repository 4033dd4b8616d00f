// Benchmark (not a test): ratewise's own success-path cost (an in-memory fetch) in this build
// against another build of the package, interleaved in one process: to check that a change
// costs nothing when its feature is off (telemetry, issue 24), or what it saves (issue 25). Without
// onEvent and with it, beside the in-memory fetch alone.
//
//   ./scripts/build.sh && node bench/compare-builds.mjs --baseline /path/to/other/pkg/node.js [--n 5000] [--runs 9] [--c 1] [--reset 6ms]
//
// `--c 50` makes the calls 50 at a time (each fetch answers a microtask later), as a Worker serving
// many requests does: the throttle then has calls in flight on every answer. `--reset` is the
// `x-ratelimit-reset-requests` every answer carries (a longer one keeps more requests in the throttle's books).
import { help } from './help.mjs';

help(import.meta.url);

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const baselinePath = arg('baseline');
if (!baselinePath) throw new Error('--baseline path/to/pkg/node.js is required');
const n = Number(arg('n', 5000));
const runs = Number(arg('runs', 9));
const concurrency = Number(arg('c', 1));
const reset = arg('reset', '6ms');
const baseline = await import(new URL(baselinePath, `file://${process.cwd()}/`).href);
const current = await import('../pkg/node.js');

const HEADERS = {
  'content-type': 'application/json',
  'x-ratelimit-limit-requests': '10000',
  'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-reset-requests': reset,
  'x-request-id': 'req_0123456789abcdef',
};
const stub = async () => new Response('{"id":"chatcmpl-1","choices":[]}', { headers: HEADERS });
const INIT = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o-mini"}' };
const contenders = {
  'the in-memory fetch alone': stub,
  baseline: baseline.createFetch({ fetch: stub }),
  'this build': current.createFetch({ fetch: stub }),
  'baseline, onEvent': baseline.createFetch({ fetch: stub, onEvent() {} }),
  'this build, onEvent': current.createFetch({ fetch: stub, onEvent() {} }),
};

/** µs per call, `n` calls, `concurrency` at a time. */
async function measure(f) {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      if (concurrency > 1) await null;
      await (await f('https://api.openai.com/v1/chat/completions', INIT)).text();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ((performance.now() - started) * 1000) / n;
}

const results = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
for (const f of Object.values(contenders)) await measure(f); // warm-up
for (let r = 0; r < runs; r++) {
  for (const [name, f] of Object.entries(contenders)) results[name].push(await measure(f));
}
const how = concurrency > 1 ? `${concurrency} at a time` : 'in a row';
console.log(
  `an in-memory fetch, ${n} calls ${how}, reset ${reset}, median of ${runs} interleaved runs (Node ${process.version})\n`,
);
console.log('| build | µs per call (median) | added to the fetch alone | fastest–slowest run |');
console.log('|---|---:|---:|---:|');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const alone = median(results['the in-memory fetch alone']);
for (const [name, xs] of Object.entries(results)) {
  xs.sort((a, b) => a - b);
  const added = name === 'the in-memory fetch alone' ? '–' : `+${(median(xs) - alone).toFixed(1)}`;
  console.log(`| ${name} | ${median(xs).toFixed(1)} | ${added} | ${xs[0].toFixed(1)}–${xs.at(-1).toFixed(1)} |`);
}
