// Benchmark (not a test): what the usage tap costs. A local HTTP server sends a 1 MB JSON answer
// (usage at its end, in 64 KB writes) and a 2,000-event stream (OpenAI chunks, the usage in the
// last); each is read through plain fetch, through ratewise with the tap off, and with the tap on
// (onUsage and a price table). Prints, per contender, the median time to the first chunk, the
// median throughput over the whole body, and the cost per call of a small JSON answer, each beside
// plain fetch. Runs are interleaved.
//
//   ./scripts/build.sh && ./scripts/pack.sh && node bench/usage.mjs [--runs 40] [--calls 2000]
import http from 'node:http';
import { createFetch } from '../pkg/node.js';
import { help } from './help.mjs';

help(import.meta.url);

const arg = (name, fallback) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const runs = arg('runs', 40);
const calls = arg('calls', 2000);

const USAGE =
  '{"prompt_tokens":1117,"completion_tokens":262144,"total_tokens":263261,"prompt_tokens_details":{"cached_tokens":1024}}';
const text = 'lorem ipsum dolor sit amet, '.repeat(Math.ceil((1 << 20) / 28)).slice(0, 1 << 20);
const JSON_BODY = Buffer.from(
  `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"${text}"},"finish_reason":"stop"}],"usage":${USAGE}}`,
);
const event = (i) =>
  `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"token ${i} "},"finish_reason":null}],"usage":null}\n\n`;
const EVENTS = Array.from({ length: 2000 }, (_, i) => event(i));
EVENTS.push(
  `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":${USAGE}}\n\n`,
  'data: [DONE]\n\n',
);
const STREAM_BODY = Buffer.from(EVENTS.join(''));
const SMALL =
  '{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"message":{"role":"assistant","content":"Hi"}}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}';

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', async () => {
    if (req.url === '/small') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(SMALL);
    }
    const stream = req.url === '/stream';
    const body = stream ? STREAM_BODY : JSON_BODY;
    res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
    res.socket.setNoDelay(true);
    // 64 KB writes, each waiting for the socket to drain: the body arrives as a network sends it.
    for (let at = 0; at < body.length; at += 65536) {
      if (!res.write(body.subarray(at, at + 65536))) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const init = () => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
});

let reported = 0;
const contenders = {
  fetch: globalThis.fetch,
  'ratewise, tap off': createFetch({ throttle: false }),
  'ratewise, tap on': createFetch({
    throttle: false,
    onUsage: () => void reported++,
    prices: { 'gpt-4o': { input: 2.5, output: 10 }, 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
  }),
};

/** Milliseconds to the first chunk and to the end of the body. */
async function read(f, path) {
  const started = performance.now();
  const res = await f(`${base}${path}`, init());
  const reader = res.body.getReader();
  let bytes = (await reader.read()).value.length;
  const first = performance.now() - started;
  for (;;) {
    const next = await reader.read();
    if (next.done) break;
    bytes += next.value.length;
  }
  return { first, total: performance.now() - started, bytes };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sign = (x, digits = 2) => (x >= 0 ? '+' : '') + x.toFixed(digits);

for (const [path, what] of [
  ['/json', `a ${(JSON_BODY.length / 1048576).toFixed(2)} MB JSON answer`],
  ['/stream', `a ${EVENTS.length - 1}-event stream (${(STREAM_BODY.length / 1024).toFixed(0)} KB)`],
]) {
  const results = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (let i = 0; i < 5; i++) for (const f of Object.values(contenders)) await read(f, path); // warm-up
  for (let i = 0; i < runs; i++) {
    for (const [name, f] of Object.entries(contenders)) results[name].push(await read(f, path));
  }
  const first0 = median(results.fetch.map((r) => r.first));
  const mbps = (r) => r.bytes / 1048576 / (r.total / 1000);
  const rate0 = median(results.fetch.map(mbps));
  console.log(`\n${what}, ${runs} interleaved runs each\n`);
  console.log('| contender | first chunk, median ms | vs fetch | throughput, median MB/s | vs fetch |');
  console.log('|---|---|---|---|---|');
  for (const [name, rs] of Object.entries(results)) {
    const first = median(rs.map((r) => r.first));
    const rate = median(rs.map(mbps));
    console.log(
      `| ${name} | ${first.toFixed(2)} | ${sign(first - first0)} ms | ${rate.toFixed(0)} | ${sign((rate / rate0 - 1) * 100, 1)}% |`,
    );
  }
}

// Per call: `calls` small answers read whole, one after another, in 5 interleaved rounds.
const perCall = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
for (let round = 0; round < 5; round++) {
  for (const [name, f] of Object.entries(contenders)) {
    const started = performance.now();
    for (let i = 0; i < calls; i++) await (await f(`${base}/small`, init())).text();
    perCall[name].push(((performance.now() - started) * 1000) / calls);
  }
}
const call0 = median(perCall.fetch);
console.log(`\na small JSON answer read whole, ${calls} calls one after another, median of 5 rounds\n`);
console.log('| contender | µs per call | vs fetch |');
console.log('|---|---|---|');
for (const [name, xs] of Object.entries(perCall)) {
  console.log(`| ${name} | ${median(xs).toFixed(1)} | ${sign(median(xs) - call0, 1)} µs |`);
}
// Per call without the network: a fetch that answers at once, so only what ratewise adds is timed.
const instant = async () => new Response(SMALL, { headers: { 'content-type': 'application/json' } });
const offline = {
  'that fetch itself': instant,
  'ratewise, tap off': createFetch({ throttle: false, fetch: instant }),
  'ratewise, tap on (usage: true)': createFetch({ throttle: false, fetch: instant, usage: true }),
  'ratewise, tap on (onUsage, prices)': createFetch({
    throttle: false,
    fetch: instant,
    onUsage: () => void reported++,
    prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
  }),
};
const offlineTimes = Object.fromEntries(Object.keys(offline).map((k) => [k, []]));
for (let round = 0; round < 9; round++) {
  for (const [name, f] of Object.entries(offline)) {
    const started = performance.now();
    for (let i = 0; i < calls; i++) await (await f(`${base}/small`, init())).text();
    offlineTimes[name].push(((performance.now() - started) * 1000) / calls);
  }
}
const off0 = median(offlineTimes['ratewise, tap off']);
console.log(`\nthe same without the network (a fetch that answers at once), ${calls} calls, median of 9 rounds\n`);
console.log('| contender | µs per call | vs tap off |');
console.log('|---|---|---|');
for (const [name, xs] of Object.entries(offlineTimes)) {
  console.log(`| ${name} | ${median(xs).toFixed(1)} | ${sign(median(xs) - off0, 1)} µs |`);
}
const tapOn = median(perCall['ratewise, tap on']) - median(perCall['ratewise, tap off']);
console.log(`\nthe tap itself (tap on − tap off): ${sign(tapOn, 1)} µs per call; usage reports: ${reported}`);
server.close();
