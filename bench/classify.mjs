// Benchmark (not a test): classify() from JavaScript against the hand-written
// JavaScript a user would write instead (JSON.parse + field checks + a
// retry-after read), on the same real bodies from tests/data/classify_cases.json,
// three ways: the full cases, their status alone, and status + headers (no body).
// Prints calls per second for each and the ratio, measured in one run.
//
//   ./scripts/build.sh && node bench/classify.mjs [--seconds 1] [--cpu] [--package path/to/node.js ...]
//
// `--cpu` counts the process's CPU time (user + system) instead of the wall clock: on a machine
// shared with other work, a round's CPU time per call moves far less than its wall time.
//
// `--package` (repeatable) adds a row per input set for another build (e.g. a
// copy of an older `pkg/`), measured interleaved in the same run.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { classify } from '../pkg/node.js';
import { help } from './help.mjs';

help(import.meta.url);

const argv = process.argv;
const seconds = Number(argv[argv.indexOf('--seconds') + 1]) || 1;
const cpu = argv.includes('--cpu');
const others = argv.flatMap((a, i) => (a === '--package' ? [argv[i + 1]] : []));
const builds = [['ratewise classify() (wasm)', classify]];
for (const path of others) {
  const module = await import(pathToFileURL(path).href);
  builds.push([`ratewise classify() (${path})`, module.classify]);
}

const cases = JSON.parse(readFileSync(new URL('../tests/data/classify_cases.json', import.meta.url), 'utf8'));
const full = cases.map((c) => ({
  status: c.input.status,
  headers: c.input.headers ?? {},
  body: c.input.body ?? '',
  url: c.input.url,
}));
const sets = {
  full,
  'status only': full.map(({ status }) => ({ status })),
  'headers only': full.map(({ status, headers }) => ({ status, headers })),
};

/**
 * What a careful user writes by hand: the two 429s, overload, auth, and
 * retry-after. `JSON.parse` of an absent body throws, and the catch is most of
 * its cost on status-only input; `handWrittenSkip` does not parse an absent
 * body, the floor no wasm call can reach (V8 inlines it to a few compares).
 */
const handWritten = (input) => handChecks(input, parseError(input.body));
const handWrittenSkip = (input) => handChecks(input, input.body ? parseError(input.body) : undefined);

function parseError(body) {
  try {
    return JSON.parse(body)?.error;
  } catch {
    return undefined;
  }
}

function handChecks({ status, headers }, error) {
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
  const retryAfter = Number(headers?.['retry-after']);
  return { kind, retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : null };
}

/** Calls per second of `fn` over `inputs`, one round of `ms` (per CPU second with `--cpu`). */
function round(fn, inputs, ms) {
  let calls = 0;
  const started = performance.now();
  const startedCpu = cpu ? process.cpuUsage() : undefined;
  const until = started + ms;
  while (performance.now() < until) {
    for (const input of inputs) fn(input);
    calls += inputs.length;
  }
  if (cpu) {
    const used = process.cpuUsage(startedCpu);
    return calls / ((used.user + used.system) / 1e6);
  }
  return calls / ((performance.now() - started) / 1000);
}

const contenders = [
  ...builds,
  ['hand-written JS, absent body not parsed', handWrittenSkip],
  ['hand-written JS (JSON.parse + checks)', handWritten],
];
const fmt = (n) => Math.round(n).toLocaleString('en-US');
console.log(
  `classify() benchmark: ${full.length} real bodies, Node ${process.version}, best of 3 interleaved rounds of ${seconds} s each${cpu ? ', per CPU second' : ''}\n`,
);
console.log('| input | classifier | calls/s | µs/call | ratio to hand-written |');
console.log('|---|---|---:|---:|---:|');
for (const [setName, inputs] of Object.entries(sets)) {
  for (const [, fn] of contenders) for (let i = 0; i < 2_000; i++) fn(inputs[i % inputs.length]); // warm up
  const best = contenders.map(() => 0);
  for (let r = 0; r < 3; r++) {
    contenders.forEach(([, fn], i) => {
      best[i] = Math.max(best[i], round(fn, inputs, (seconds * 1000) / 3));
    });
  }
  const js = best[best.length - 1];
  contenders.forEach(([name], i) => {
    console.log(
      `| ${setName} | ${name} | ${fmt(best[i])} | ${(1e6 / best[i]).toFixed(2)} | ${(best[i] / js).toFixed(2)}x |`,
    );
  });
}
const agree = full.filter((input) => classify(input).kind === handWritten(input).kind).length;
console.log(
  `\nthe hand-written version agrees with ratewise on ${agree} of ${full.length} kinds (it knows 7 kinds, ratewise 15)`,
);
