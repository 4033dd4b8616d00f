// Benchmark (not a test): how far past its deadline a call settles under load, ratewise's
// `deadlineMs` against the platform's `fetch(url, { signal: AbortSignal.timeout(ms) })`.
//
//   node bench/deadline.mjs [--n 10000] [--deadline-ms 2000] [--hold-ms 5000] [--rounds 1]  (medians too when > 1)
//                           [--package path/to/node.js ...]
//
// N calls are started at once against a local HTTP server (a child process on 127.0.0.1, so
// its sockets do not count against this process's file limit) that answers each request only
// after --hold-ms (0: never, until the client hangs up). Every call therefore ends by its
// deadline. For each call, the time from just before it was started to when its promise
// settled is recorded; the table gives p50, p99 and max of those times, and the ratio of
// ratewise's p99 to the platform's. Contenders, one after the other, each on an idle server:
//
//   fetch + AbortSignal.timeout   fetch(url, { signal: AbortSignal.timeout(D) })
//   ratewise                      createFetch({ deadlineMs: D })(url)
//   ratewise, maxConcurrency 8    createFetch({ deadlineMs: D, maxConcurrency: 8 })(url): all but
//                                 8 calls reach their deadline in the queue
//
// --package (repeatable) runs the ratewise rows once per given build (a package's node.js entry),
// to compare builds in one run; by default the package scripts/pack.sh installed into tests/js.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { help } from './help.mjs';

help(import.meta.url);

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    'deadline-ms': { type: 'string', default: '2000' },
    'hold-ms': { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '1' },
    serve: { type: 'boolean', default: false },
    package: { type: 'string', multiple: true },
  },
});
const int = (name, min) => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min}, got ${args[name]}`);
    process.exit(2);
  }
  return n;
};
const N = int('n', 1);
const DEADLINE_MS = int('deadline-ms', 1);
const HOLD_MS = int('hold-ms', 0);
const ROUNDS = int('rounds', 1);

if (args.serve) {
  // The slow server: reads the request, answers after HOLD_MS (or never), forgets a request
  // whose client hung up.
  const server = http.createServer((req, res) => {
    req.resume();
    if (HOLD_MS === 0) return;
    const timer = setTimeout(() => res.end('ok'), HOLD_MS);
    res.on('close', () => clearTimeout(timer));
  });
  server.keepAliveTimeout = 60_000;
  server.listen({ port: 0, host: '127.0.0.1', backlog: 65_535 }, () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`);
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  await main();
}

async function main() {
  const installed = ['../tests/js/node_modules/ratewise/node.js', '../pkg/node.js']
    .map((p) => new URL(p, import.meta.url))
    .find((u) => existsSync(fileURLToPath(u)));
  const packages = args.package?.map((p) => pathToFileURL(path.resolve(p))) ?? (installed ? [installed] : []);
  if (packages.length === 0) {
    console.error('ratewise is not built: run ./scripts/build.sh && ./scripts/pack.sh');
    process.exit(1);
  }
  const builds = [];
  for (const url of packages) {
    const label = packages.length > 1 ? ` (${fileURLToPath(url)})` : '';
    builds.push({ label, createFetch: (await import(url.href)).createFetch });
  }

  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', '--hold-ms', String(HOLD_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(`${m[1]}/v1/chat/completions`);
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });

  const contenders = [
    ['fetch + AbortSignal.timeout', () => (u) => fetch(u, { signal: AbortSignal.timeout(DEADLINE_MS) })],
    ...builds.flatMap(({ label, createFetch }) => [
      [`ratewise${label}`, () => createFetch({ deadlineMs: DEADLINE_MS })],
      [`ratewise, maxConcurrency 8${label}`, () => createFetch({ deadlineMs: DEADLINE_MS, maxConcurrency: 8 })],
    ]),
  ];
  console.log(
    `${N} concurrent calls, deadline ${DEADLINE_MS} ms, server answers after ${HOLD_MS === 0 ? 'never' : `${HOLD_MS} ms`}; Node ${process.version}`,
  );
  const rows = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, make] of contenders) {
      await idle();
      rows.push({ name, round, ...(await batch(make(), url)) });
    }
  }
  server.kill('SIGTERM');

  const pad = (s, n) => String(s).padStart(n);
  console.log(`\n| contender | p50 ms | p99 ms | max ms | p99 ÷ platform | how they ended | batch wall ms |`);
  console.log('|---|---:|---:|---:|---:|---|---:|');
  for (const r of rows) {
    const ended = Object.entries(r.ended)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    const platform = rows.find((p) => p.round === r.round && p.name === contenders[0][0]);
    const ratio = (r.p99 / platform.p99).toFixed(2);
    console.log(
      `| ${r.name} | ${pad(r.p50.toFixed(0), 6)} | ${pad(r.p99.toFixed(0), 6)} | ${pad(r.max.toFixed(0), 6)} | ${pad(`${ratio}×`, 6)} | ${ended} | ${pad(r.wall.toFixed(0), 6)} |`,
    );
  }
  if (ROUNDS === 1) return;
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\nMedians over ${ROUNDS} rounds:\n\n| contender | p50 ms | p99 ms | max ms | p99 ÷ platform |`);
  console.log('|---|---:|---:|---:|---:|');
  for (const [name] of contenders) {
    const mine = rows.filter((r) => r.name === name);
    const ratios = mine.map((r) => r.p99 / rows.find((p) => p.round === r.round && p.name === contenders[0][0]).p99);
    const m = (k) => pad(median(mine.map((r) => r[k])).toFixed(0), 6);
    console.log(`| ${name} | ${m('p50')} | ${m('p99')} | ${m('max')} | ${pad(`${median(ratios).toFixed(2)}×`, 6)} |`);
  }
}

/** Starts N calls at once; returns settle-time percentiles (from each call's own start). */
async function batch(fetch, url) {
  const times = new Float64Array(N);
  const ended = {};
  const started = performance.now();
  const calls = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const done = (how) => {
      times[i] = performance.now() - t0;
      ended[how] = (ended[how] ?? 0) + 1;
    };
    let call;
    try {
      call = fetch(url);
    } catch (e) {
      call = Promise.reject(e);
    }
    calls.push(
      call.then(
        async (res) => {
          await res.arrayBuffer();
          done(`HTTP ${res.status}`);
        },
        (e) => done(e?.name ?? 'error'),
      ),
    );
  }
  await Promise.all(calls);
  const wall = performance.now() - started;
  const sorted = Array.from(times).sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1), wall, ended };
}

/** Lets the previous batch's sockets close and its garbage go before the next one. */
async function idle() {
  await new Promise((r) => setTimeout(r, 1_000));
  globalThis.gc?.();
}
