// Benchmark (not a test): classify() from JavaScript against the hand-written
// JavaScript a user would write instead (JSON.parse + field checks + a
// retry-after read), on the same real bodies from tests/data/classify_cases.json.
// Prints calls per second for each and the ratio.
//
//   ./scripts/build.sh && node bench/classify.mjs [--seconds 1]
import { readFileSync } from 'node:fs';
import { classify } from '../pkg/node.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 1;
const cases = JSON.parse(readFileSync(new URL('../tests/data/classify_cases.json', import.meta.url), 'utf8'));
const inputs = cases.map((c) => ({
  status: c.input.status,
  headers: c.input.headers ?? {},
  body: c.input.body ?? '',
  url: c.input.url,
}));

/** What a careful user writes by hand: the two 429s, overload, auth, and retry-after. */
function handWritten({ status, headers, body }) {
  let error;
  try {
    error = JSON.parse(body)?.error;
  } catch {
    error = undefined;
  }
  const type = typeof error === 'object' ? error?.type : undefined;
  const code = typeof error === 'object' ? error?.code : undefined;
  const message = typeof error === 'object' ? String(error?.message ?? '') : '';
  let kind;
  if (status >= 200 && status < 300) kind = 'ok';
  else if (type === 'insufficient_quota' || code === 'insufficient_quota') kind = 'quota_exhausted';
  else if (code === 'rate_limit_exceeded' || type === 'rate_limit_error' || status === 429) kind = 'rate_limit';
  else if (status === 503 || status === 529 || message.includes('overloaded')) kind = 'overloaded';
  else if (status === 401) kind = 'auth';
  else if (status >= 500) kind = 'server_error';
  else kind = 'bad_request';
  const retryAfter = Number(headers['retry-after']);
  return { kind, retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : null };
}

function measure(fn) {
  for (let i = 0; i < 2_000; i++) fn(inputs[i % inputs.length]); // warm up
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let calls = 0;
    const started = performance.now();
    const until = started + (seconds * 1000) / 3;
    while (performance.now() < until) {
      for (const input of inputs) fn(input);
      calls += inputs.length;
    }
    best = Math.max(best, calls / ((performance.now() - started) / 1000));
  }
  return best;
}

const agree = inputs.filter((input) => classify(input).kind === handWritten(input).kind).length;
const wasm = measure(classify);
const js = measure(handWritten);
const fmt = (n) => Math.round(n).toLocaleString('en-US');
console.log(
  `classify() benchmark: ${inputs.length} real bodies, Node ${process.version}, best of 3 rounds over ${seconds} s\n`,
);
console.log('| classifier | calls/s | µs/call |');
console.log('|---|---:|---:|');
console.log(`| ratewise classify() (wasm) | ${fmt(wasm)} | ${(1e6 / wasm).toFixed(2)} |`);
console.log(`| hand-written JS (JSON.parse + checks) | ${fmt(js)} | ${(1e6 / js).toFixed(2)} |`);
console.log(`\nratio ratewise / hand-written: ${(wasm / js).toFixed(2)}x`);
console.log(
  `the hand-written version agrees with ratewise on ${agree} of ${inputs.length} kinds (it knows 7 kinds, ratewise 15)`,
);
