// Benchmark (not a test): what a spend budget costs a call on the success path. Each call sends a small
// chat completion and reads its JSON answer whole (usage 9 in, 1 out); a budget holds the estimate
// before sending and settles the price from the usage. Contenders: the fetch itself, ratewise without
// budgets (tap off, and tap on with a price table: what a budget needs anyway), and ratewise with one
// and with three budgets (in memory; limits never reached). Timed without the network (a fetch that
// answers at once, so only what ratewise adds is timed) and over loopback. Rounds are interleaved.
//
//   ./scripts/build.sh && ./scripts/pack.sh && node bench/budgets.mjs [--calls 2000] [--rounds 9]
import http from 'node:http';
import { createFetch } from '../pkg/node.js';
import { help } from './help.mjs';

help(import.meta.url);

const arg = (name, fallback) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const calls = arg('calls', 2000);
const rounds = arg('rounds', 9);

const SMALL =
  '{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"message":{"role":"assistant","content":"Hi"}}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}';
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(SMALL);
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/v1/chat/completions`;
const init = () => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
  body: '{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}',
});

const prices = { 'gpt-4o-mini': { input: 0.15, output: 0.6 } };
const budgets = [
  { name: 'day', limitUsd: 1e12, window: 'day' },
  { name: 'month', limitTokens: 1e15, window: 'month' },
  { name: 'hour', limitUsd: 1e12, window: 3_600_000 },
];
let alerts = 0;
const contenders = (fetch) => ({
  'the fetch itself': fetch,
  'ratewise, no budgets, tap off': createFetch({ throttle: false, fetch }),
  'ratewise, no budgets, tap on (prices)': createFetch({ throttle: false, fetch, prices }),
  'ratewise, 1 budget': createFetch({ throttle: false, fetch, prices, budgets: budgets.slice(0, 1) }),
  'ratewise, 3 budgets': createFetch({ throttle: false, fetch, prices, budgets, onBudget: () => void alerts++ }),
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sign = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;

async function measure(title, fetch, n, times) {
  const list = contenders(fetch);
  const spent = Object.fromEntries(Object.keys(list).map((k) => [k, []]));
  for (let round = 0; round < times; round++) {
    for (const [name, f] of Object.entries(list)) {
      const started = performance.now();
      for (let i = 0; i < n; i++) await (await f(url, init())).text();
      spent[name].push(((performance.now() - started) * 1000) / n);
    }
  }
  const base = median(spent['ratewise, no budgets, tap on (prices)']);
  console.log(`\n${title}, ${n} calls one after another, median of ${times} rounds\n`);
  console.log('| contender | µs per call | vs no budgets (tap on) |');
  console.log('|---|---|---|');
  for (const [name, xs] of Object.entries(spent)) {
    console.log(`| ${name} | ${median(xs).toFixed(1)} | ${sign(median(xs) - base)} µs |`);
  }
}

const instant = async () => new Response(SMALL, { headers: { 'content-type': 'application/json' } });
await measure('without the network (a fetch that answers at once)', instant, calls, rounds);
await measure('over loopback (Node fetch, a local server)', globalThis.fetch, Math.ceil(calls / 4), 5);
console.log(`\nalerts: ${alerts} (limits never reached)`);
server.close();
