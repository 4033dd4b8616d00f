// Benchmark (not a test): what ratewise adds to a successful call, against
// raw fetch and the wrappers users reach for instead (ky, p-retry around
// fetch). A local HTTP server answers 200 with OpenAI's 20 response headers
// and a small JSON body. Each contender makes N calls at concurrency C; runs
// are interleaved and repeated, and the median run is reported.
//
// The same contenders then run inside workerd (bench/overhead-worker.mjs,
// bundled as wrangler would, with the packed ratewise): each run is one
// request to the Worker, which makes the N calls to the same local server.
// A second workerd table runs raw fetch and ratewise over an in-memory fetch
// (overhead-contenders.mjs's memoryFetch) in the same Worker: ratewise's own
// cost, with every call of a run in one turn of the event loop.
//
// The telemetry table (Node) puts ratewise with `telemetry` off, on with a no-op tracer and
// meter (@opentelemetry/api with nothing registered), and on with the real SDK
// (sdk-trace-base with an in-memory exporter, sdk-metrics with a reader) beside raw fetch.
//
// `--baseline <folder>` adds another build of the package (e.g. a copy of main's pkg/) as the
// contender "ratewise (baseline)", in Node and in a second workerd, interleaved with the rest.
//
//   ./scripts/build.sh && ./scripts/pack.sh && node bench/overhead.mjs [--n 5000] [--runs 5] [--workerd-n 1000] [--only node|workerd|telemetry] [--baseline <folder>]
import http from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createFetch } from '../pkg/node.js';
import {
  BODY,
  HEADERS,
  INIT,
  contenders as makeContenders,
  memoryContenders,
  memoryFetch,
} from './overhead-contenders.mjs';
import { help } from './help.mjs';

help(import.meta.url);

const arg = (name, fallback) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const n = arg('n', 5000);
const runs = arg('runs', 5);
const workerdN = arg('workerd-n', 1000);
const text = (name) =>
  process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : undefined;
const only = text('only');
const baseline = text('baseline') && resolve(text('baseline'));
const BASELINE = 'ratewise (baseline)';

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, HEADERS);
    res.end(BODY);
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/v1/chat/completions`;

const contenders = makeContenders(createFetch);
if (baseline) {
  const other = (await import(pathToFileURL(resolve(baseline, 'node.js')).href)).createFetch();
  contenders[BASELINE] = (u, i) => other(u, i);
}

/** µs per call for N calls at concurrency c, bodies read to the end. */
async function measure(f, c) {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < n) {
      next++;
      const res = await f(url, INIT);
      await res.text();
    }
  };
  await Promise.all(Array.from({ length: c }, worker));
  return ((performance.now() - started) * 1000) / n;
}

/**
 * µs per call for N calls at concurrency c made inside workerd by one contender; with `memory`,
 * one of the Worker's contenders over an in-memory fetch (memoryContenders).
 */
async function measureWorkerd(worker, name, c, memory) {
  const query = new URLSearchParams({ contender: name, n: String(workerdN), c: String(c), url });
  if (memory) query.set('memory', '1');
  const started = performance.now();
  const res = await fetch(`${worker}/?${query}`);
  if ((await res.text()) !== 'done') throw new Error(`the Worker failed for ${name}`);
  return ((performance.now() - started) * 1000) / workerdN;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs every contender at concurrency 1 and 50, interleaved, and prints a table each. */
async function table(label, calls, measureOne, contenders) {
  console.log(`success-path overhead, ${label}: ${calls} calls per run, median of ${runs} interleaved runs\n`);
  for (const c of [1, 50]) {
    const results = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
    for (const name of Object.keys(contenders)) await measureOne(name, c); // warm-up
    for (let r = 0; r < runs; r++) {
      for (const name of Object.keys(contenders)) results[name].push(await measureOne(name, c));
    }
    const raw = median(results['raw fetch']);
    console.log(`${label}, concurrency ${c}, 200 with 20 headers\n`);
    console.log('| contender | µs per call | added vs raw fetch | ÷ raw fetch |');
    console.log('|---|---:|---:|---:|');
    for (const [name, xs] of Object.entries(results)) {
      const m = median(xs);
      const added =
        name === 'raw fetch'
          ? '–'
          : `${m - raw >= 0 ? '+' : ''}${(m - raw).toFixed(0)} µs (${(((m - raw) / raw) * 100).toFixed(0)}%)`;
      console.log(`| ${name} | ${m.toFixed(0)} | ${added} | ${(m / raw).toFixed(2)}x |`);
    }
    console.log('');
  }
}

if (only === undefined || only === 'node') {
  await table(`Node ${process.version}`, n, (name, c) => measure(contenders[name], c), contenders);
}
if (only === undefined || only === 'telemetry') {
  const { telemetryContenders } = await import('./overhead-telemetry.mjs');
  for (const [label, over] of [
    ['telemetry, real HTTP', undefined],
    ['telemetry, an in-memory fetch (ratewise alone)', memoryFetch],
  ]) {
    const t = await telemetryContenders(createFetch, over);
    await table(
      `Node ${process.version}, ${label}`,
      n,
      (name, c) => measure(t.contenders[name], c).finally(t.reset),
      t.contenders,
    );
  }
}
if (only === undefined || only === 'workerd') {
  const { startWorkerd } = await import('../tests/js/workerd-harness.mjs');
  const entry = fileURLToPath(new URL('./overhead-worker.mjs', import.meta.url));
  const worker = await startWorkerd({ name: 'bench-overhead', entry });
  const other = baseline && (await startWorkerd({ name: 'bench-overhead-baseline', entry, pkg: baseline }));
  try {
    // The Worker holds the contenders; only their names are used here. The second table is
    // ratewise's own cost inside workerd, with no network between its calls.
    const names = (of) => Object.fromEntries([...Object.keys(of), ...(baseline ? [BASELINE] : [])].map((k) => [k]));
    for (const [label, memory, these] of [
      ['workerd', false, names(makeContenders(createFetch))],
      ['workerd, an in-memory fetch (ratewise alone)', true, names(memoryContenders(createFetch))],
    ]) {
      await table(
        label,
        workerdN,
        (name, c) =>
          name === BASELINE
            ? measureWorkerd(other.url, 'ratewise', c, memory)
            : measureWorkerd(worker.url, name, c, memory),
        these,
      );
    }
  } finally {
    await worker.stop();
    await other?.stop();
  }
}
server.close();
