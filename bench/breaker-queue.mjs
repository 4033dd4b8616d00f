// Benchmark (not a test): how long calls queued behind maxConcurrency wait
// for an answer the open quota breaker gives without a network call. N
// calls at once on an empty account (the mock answers 429
// insufficient_quota after --latency-ms) through one
// createFetch({ maxConcurrency: C }); prints when the last was answered,
// how many were answered by the breaker, and the requests the mock saw.
//
//   ./scripts/build.sh && ./scripts/pack.sh && node bench/breaker-queue.mjs [--n 60] [--c 8] [--latency-ms 0] [--runs 5]
import { createFetch } from '../pkg/node.js';
import { startMock } from '../tests/mock/server.mjs';
import { help } from './help.mjs';

help(import.meta.url);

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const n = arg('n', 60);
const concurrency = arg('c', 8);
const latencyMs = arg('latency-ms', 0);
const runs = arg('runs', 5);

async function once() {
  const mock = await startMock({ quota: true, latencyMs });
  let started = performance.now();
  let breaker = 0;
  let opened = Number.NaN;
  const onEvent = (e) => {
    if (e.source === 'breaker') breaker += 1;
    else if (e.kind === 'quota_exhausted')
      opened = Math.min(performance.now() - started, opened || Number.POSITIVE_INFINITY);
  };
  const fetch = createFetch({ maxConcurrency: concurrency, onEvent });
  started = performance.now();
  const url = `${mock.url}/v1/chat/completions`;
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const calls = Array.from({ length: n }, async () => {
    const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
    try {
      const res = await fetch(url, { method: 'POST', headers, body });
      await res.text();
    } catch {
      // Out of quota: the call fails fast, as it should.
    }
    return performance.now() - started;
  });
  const times = await Promise.all(calls);
  const sent = mock.stats().requests ?? JSON.stringify(mock.stats());
  await mock.close();
  return { last: Math.max(...times), opened, breaker, sent };
}

// One run first to warm up the JIT and the connection pool; not counted.
await once();
const rows = [];
for (let i = 0; i < runs; i++) rows.push(await once());
const last = rows.map((r) => r.last).sort((a, b) => a - b);
console.log(`${n} calls at maxConcurrency ${concurrency}, empty account, mock latency ${latencyMs} ms, ${runs} runs`);
console.log(
  '| run | all answered by (ms) | the quota answer came at (ms) | answered by the breaker | requests the mock saw |',
);
console.log('|---|---|---|---|---|');
rows.forEach((r, i) => {
  console.log(`| ${i + 1} | ${r.last.toFixed(1)} | ${r.opened.toFixed(1)} | ${r.breaker} | ${r.sent} |`);
});
console.log(`median: ${last[Math.floor(last.length / 2)].toFixed(1)} ms`);
