// Benchmark (not a test): interactive latency under mixed load, with and
// without priority lanes. N chat completions arrive at a steady rate, 20%
// interactive and 80% bulk (a fixed shuffle), against a mock LLM API that
// allows L requests per second (`--l`) and answers after `--latency-ms`;
// a second mock (unlimited, a little faster) stands for the cheaper route.
// Every contender gets fresh mocks and one createFetch({ maxConcurrency }).
//
//   ./scripts/build.sh && ./scripts/pack.sh && node bench/lanes.mjs [--n 100] [--every-ms 40] [--l 10] [--c 4]
import { createFetch } from '../pkg/node.js';
import { startMock } from '../tests/mock/server.mjs';
import { help } from './help.mjs';

help(import.meta.url);

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const n = arg('n', 100);
const everyMs = arg('every-ms', 40);
const limit = arg('l', 10);
const concurrency = arg('c', 4);
const latencyMs = arg('latency-ms', 150);

// 20% interactive, spread by a fixed shuffle (a small LCG), so every contender sees the same sequence.
let seed = 42;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const lanes = Array.from({ length: n }, (_, i) => (i < n / 5 ? 'interactive' : 'bulk'));
for (let i = lanes.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [lanes[i], lanes[j]] = [lanes[j], lanes[i]];
}

const contenders = [
  { name: 'no lanes (one FIFO queue)', marked: false, options: () => ({}) },
  { name: 'lanes: interactive first in the queue', marked: true, options: () => ({}) },
  {
    name: 'lanes + bulk to the cheap route under pressure',
    marked: true,
    options: (cheap) => ({
      routes: [{ baseURL: `${cheap.url}/v1`, model: 'gpt-4o-mini' }],
      lanes: { bulk: { route: 1 } },
    }),
  },
];

async function run(contender) {
  const primary = await startMock({ limit, windowMs: 1000, latencyMs });
  const cheap = await startMock({ latencyMs: Math.round(latencyMs * 0.6) });
  const fetch = createFetch({ maxConcurrency: concurrency, ...contender.options(cheap) });
  const url = `${primary.url}/v1/chat/completions`;
  const started = performance.now();
  const times = { interactive: [], bulk: [] };
  let failed = 0;
  const calls = lanes.map(async (lane, i) => {
    await new Promise((r) => setTimeout(r, i * everyMs));
    const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
    if (contender.marked) headers['x-ratewise-priority'] = lane;
    const t0 = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `ticket ${i}` }] }),
    });
    await res.arrayBuffer();
    if (res.status !== 200) failed++;
    times[lane].push(performance.now() - t0);
  });
  await Promise.all(calls);
  const wallMs = performance.now() - started;
  const stats = fetch.stats();
  const result = {
    name: contender.name,
    times,
    wallMs,
    failed,
    primary429: primary.stats().byStatus[429] ?? 0,
    cheapCalls: cheap.stats().requests,
    diverted: stats.bulkDiverted,
  };
  await primary.close();
  await cheap.close();
  return result;
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const results = [];
for (const c of contenders) results.push(await run(c));

const base = results[0];
const ms = (x) => Math.round(x).toString();
console.log(
  `${n} calls, one every ${everyMs} ms (${n / 5} interactive, ${n - n / 5} bulk), maxConcurrency ${concurrency}, ` +
    `primary ${limit} requests/s answering in ${latencyMs} ms; cheap route unlimited in ${Math.round(latencyMs * 0.6)} ms\n`,
);
console.log(
  '| client | interactive p50 ms | interactive p95 ms | p50, p95 ÷ no lanes | bulk p50 ms | bulk p95 ms | bulk on cheap route | 429s | failed | wall s |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  const [p50, p95] = [pct(r.times.interactive, 0.5), pct(r.times.interactive, 0.95)];
  const ratios = [p50 / pct(base.times.interactive, 0.5), p95 / pct(base.times.interactive, 0.95)];
  console.log(
    `| ${r.name} | ${ms(p50)} | ${ms(p95)} | ${ratios.map((x) => `${x.toFixed(2)}×`).join(', ')} | ` +
      `${ms(pct(r.times.bulk, 0.5))} | ${ms(pct(r.times.bulk, 0.95))} | ${r.cheapCalls} | ${r.primary429} | ${r.failed} | ${(r.wallMs / 1000).toFixed(1)} |`,
  );
}
