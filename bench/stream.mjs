// Benchmark (not a test): time to the first chunk of a streamed chat
// completion, through plain fetch and through ratewise with `peekStream` off
// and on, against the mock LLM API streaming one event every `--gap-ms`.
// Runs are interleaved; prints the median and p95 per contender and the
// difference to plain fetch.
//
//   ./scripts/build.sh && ./scripts/pack.sh && node bench/stream.mjs [--n 300] [--gap-ms 20]
import { createFetch } from '../pkg/node.js';
import { startMock } from '../tests/mock/server.mjs';
import { help } from './help.mjs';

help(import.meta.url);

const arg = (name, fallback) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const n = arg('n', 300);
const gapMs = arg('gap-ms', 20);

const mock = await startMock({ streamGapMs: gapMs });
const url = `${mock.url}/v1/chat/completions`;
const init = () => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
  body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
});

const contenders = {
  fetch: globalThis.fetch,
  'ratewise (peekStream off)': createFetch({ throttle: false }),
  'ratewise (peekStream on)': createFetch({ throttle: false, peekStream: true }),
};

/** Time from the call to the first body chunk, then the rest is read to the end. */
async function firstChunkMs(f) {
  const started = performance.now();
  const res = await f(url, init());
  const reader = res.body.getReader();
  await reader.read();
  const ms = performance.now() - started;
  while (!(await reader.read()).done) {}
  return ms;
}

const times = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
for (let i = 0; i < 20; i++) for (const f of Object.values(contenders)) await firstChunkMs(f); // warm-up
for (let i = 0; i < n; i++) {
  for (const [name, f] of Object.entries(contenders)) times[name].push(await firstChunkMs(f));
}
await mock.close();

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const base = pct(times.fetch, 0.5);
console.log(`first chunk of a streamed completion, ${n} interleaved runs each, one event every ${gapMs} ms\n`);
console.log('| contender | median ms | p95 ms | median − fetch |');
console.log('|---|---|---|---|');
for (const [name, xs] of Object.entries(times)) {
  const median = pct(xs, 0.5);
  console.log(
    `| ${name} | ${median.toFixed(2)} | ${pct(xs, 0.95).toFixed(2)} | ${(median - base >= 0 ? '+' : '') + (median - base).toFixed(2)} |`,
  );
}
