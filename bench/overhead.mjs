// Benchmark (not a test): what ratewise adds to a successful call, against
// raw fetch and the wrappers users reach for instead (ky, p-retry around
// fetch). A local HTTP server answers 200 with OpenAI's 20 response headers
// and a small JSON body. Each contender makes N calls at concurrency C; runs
// are interleaved and repeated, and the median run is reported.
//
//   ./scripts/build.sh && ./scripts/pack.sh && node bench/overhead.mjs [--n 5000] [--runs 5]
import http from 'node:http';
import ky from 'ky';
import pRetry from 'p-retry';
import { createFetch } from '../pkg/node.js';

const arg = (name, fallback) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const n = arg('n', 5000);
const runs = arg('runs', 5);

// The headers api.openai.com sends with a chat completion (values shortened).
const HEADERS = {
  'content-type': 'application/json',
  'access-control-expose-headers': 'X-Request-ID',
  'openai-organization': 'org-bench',
  'openai-processing-ms': '412',
  'openai-project': 'proj_bench',
  'openai-version': '2020-10-01',
  'x-envoy-upstream-service-time': '415',
  'x-ratelimit-limit-requests': '10000',
  'x-ratelimit-limit-tokens': '30000000',
  'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-remaining-tokens': '29999990',
  'x-ratelimit-reset-requests': '6ms',
  'x-ratelimit-reset-tokens': '0s',
  'x-request-id': 'req_0123456789abcdef',
  'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
  'cf-cache-status': 'DYNAMIC',
  'set-cookie': '__cf_bm=abc; path=/; HttpOnly; Secure; SameSite=None',
  'x-content-type-options': 'nosniff',
  server: 'cloudflare',
  'cf-ray': '8f0000000000000-SJC',
};
const BODY =
  '{"id":"chatcmpl-1","object":"chat.completion","choices":[{"message":{"role":"assistant","content":"Hi"}}]}';

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, HEADERS);
    res.end(BODY);
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/v1/chat/completions`;
const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o-mini"}' };

const ratewise = createFetch();
const kyClient = ky.create({ retry: { limit: 2 } });
const contenders = {
  'raw fetch': (u, i) => fetch(u, i),
  ratewise: (u, i) => ratewise(u, i),
  'ky (retry 2)': (u, i) => kyClient(u, { ...i, throwHttpErrors: false }),
  'p-retry + fetch': (u, i) =>
    pRetry(
      async () => {
        const res = await fetch(u, i);
        if (res.status === 429 || res.status >= 500) throw new Error(`HTTP ${res.status}`);
        return res;
      },
      { retries: 2 },
    ),
};

/** µs per call for N calls at concurrency c, bodies read to the end. */
async function measure(f, c) {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < n) {
      next++;
      const res = await f(url, init);
      await res.text();
    }
  };
  await Promise.all(Array.from({ length: c }, worker));
  return ((performance.now() - started) * 1000) / n;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`success-path overhead, Node ${process.version}: ${n} calls per run, median of ${runs} interleaved runs\n`);
for (const c of [1, 50]) {
  const results = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (const f of Object.values(contenders)) await measure(f, c); // warm-up
  for (let r = 0; r < runs; r++) {
    for (const [name, f] of Object.entries(contenders)) results[name].push(await measure(f, c));
  }
  const raw = median(results['raw fetch']);
  console.log(`concurrency ${c}, 200 with 20 headers\n`);
  console.log('| contender | µs per call | added vs raw fetch |');
  console.log('|---|---:|---:|');
  for (const [name, xs] of Object.entries(results)) {
    const m = median(xs);
    const added =
      name === 'raw fetch'
        ? '–'
        : `${m - raw >= 0 ? '+' : ''}${(m - raw).toFixed(0)} µs (${(((m - raw) / raw) * 100).toFixed(0)}%)`;
    console.log(`| ${name} | ${m.toFixed(0)} | ${added} |`);
  }
  console.log('');
}
server.close();
