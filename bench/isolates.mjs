// Benchmark (not a test): one account's rate limit shared by N Worker
// isolates, with and without the RatewiseCoordinator Durable Object.
//
//   node bench/isolates.mjs [--n 2,4,8] [--k 60] [--l 10] [--window-ms 1000] [--shapes fixed,sliding,bucket]
//                           [--latency-ms 30] [--baseline path/to/other/pkg] [--token-limit T --max-tokens M]
//
// With --token-limit, the mock also serves T tokens a window, each call charged 1 + M tokens (its
// prompt "hi" and max_tokens M): a tokens-bound limit when T / (1 + M) < L, and the floor counts
// windows of that many calls (issue 22: the coordinator shares the tokens window too).
//
// With --baseline (another build's package folder), each coordinator scenario runs with that build too,
// interleaved in the same run (its rows say "yes, baseline"): a change to the lease books measured
// before and after on the same load.
//
// For each shape and N, a fresh workerd (tests/js/workerd-harness.mjs) serves bench/isolates-worker.mjs
// as N services (N isolates, each with its own module-scope createFetch), with or without the
// RATEWISE binding, against a fresh mock (tests/mock/server.mjs) allowing L requests per window.
// K invocations, one chat completion each, all sent at once, round-robin over the isolates. Reported:
// the mock's 429s and network calls, wall time ÷ the floor (⌈K/L⌉−1) × W, and the time each call
// waited on coordinator round trips (p50, p99 over the calls; its lease and report requests).
// goodput.mjs runs this at its end.
import { parseArgs } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock } from '../tests/mock/server.mjs';
import { startWorkers } from '../tests/js/workerd-harness.mjs';
import { help } from './help.mjs';

help(import.meta.url);

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, 'isolates-worker.mjs');

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

/** One scenario: N isolates, with or without the coordinator. */
async function scenario({ n, shared, shape, k, l, windowMs, latencyMs, pkg, tokenLimit, maxTokens }) {
  const mock = await startMock({ limit: l, windowMs, shape, latencyMs, ...(tokenLimit && { tokenLimit }) });
  const bindings = {
    BASE_URL: mock.url,
    KEY: 'sk-bench-shared-account',
    ...(maxTokens && { MAX_TOKENS: String(maxTokens) }),
  };
  // Calls a window: the requests limit, or the tokens limit's if it binds first.
  const perWindow = tokenLimit ? Math.min(l, Math.floor(tokenLimit / (1 + (maxTokens ?? 0)))) : l;
  const RATEWISE = { className: 'RatewiseCoordinator', service: 'w0' };
  const workers = Array.from({ length: n }, (_, i) => ({
    name: `w${i}`,
    entry,
    bindings,
    ...(shared ? { namespaces: { RATEWISE } } : {}),
    ...(shared && i === 0 ? { durableObjects: ['RatewiseCoordinator'] } : {}),
  }));
  const name = `bench-isolates-${n}-${shared ? 'with' : 'without'}${pkg ? '-baseline' : ''}`;
  const workerd = await startWorkers({ name, workers, pkg });
  try {
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: k }, (_, i) => fetch(workerd.urls[`w${i % n}`]).then((r) => r.json())),
    );
    const wall = Date.now() - started;
    const stats = mock.stats();
    const floor = (Math.ceil(k / perWindow) - 1) * windowMs;
    return {
      ok: answers.filter((a) => a.status === 200).length,
      r429: stats.byStatus[429] ?? 0,
      calls: stats.requests,
      ratio: wall / floor,
      p50: quantile(
        answers.map((a) => a.coordinatorMs),
        0.5,
      ),
      p99: quantile(
        answers.map((a) => a.coordinatorMs),
        0.99,
      ),
      trips: answers.reduce((s, a) => s + a.coordinatorTrips, 0),
    };
  } finally {
    await workerd.stop();
    await mock.close();
  }
}

/** Runs every scenario and prints the table; returns the rows. */
export async function runIsolates({
  ns = [2, 4, 8],
  shapes = ['fixed'],
  k = 60,
  l = 10,
  windowMs = 1000,
  latencyMs = 30,
  baseline,
  tokenLimit,
  maxTokens,
} = {}) {
  const pkg = baseline && resolve(baseline);
  // With the coordinator (this build, and the baseline's, in alternating order), then without.
  const runs = (n) => {
    const builds = pkg ? (n % 4 === 0 ? [pkg, undefined] : [undefined, pkg]) : [undefined];
    return [...builds.map((p) => ({ shared: true, pkg: p })), { shared: false }];
  };
  console.log(
    `\n## ${k} calls over N Worker isolates sharing one limit of ${l} per ${windowMs} ms${tokenLimit ? ` and ${tokenLimit} tokens (${1 + (maxTokens ?? 0)} a call)` : ''} (workerd, mock latency ${latencyMs} ms)\n`,
  );
  console.log(
    '| shape | N | coordinator | 200s | 429s / network calls | wall ÷ floor | coordinator ms per call p50 / p99 | coordinator round trips |',
  );
  console.log('|---|---:|---|---:|---:|---:|---:|---:|');
  const rows = [];
  for (const shape of shapes) {
    for (const n of ns) {
      for (const { shared, pkg: build } of runs(n)) {
        const r = await scenario({ n, shared, shape, k, l, windowMs, latencyMs, pkg: build, tokenLimit, maxTokens });
        rows.push({ shape, n, shared, baseline: Boolean(build), ...r });
        const lat = shared ? `${r.p50.toFixed(1)} / ${r.p99.toFixed(1)}` : '–';
        console.log(
          `| ${shape} | ${n} | ${shared ? (build ? 'yes, baseline' : 'yes') : 'no'} | ${r.ok} | ${r.r429} / ${r.calls} | ${r.ratio.toFixed(2)}× | ${lat} | ${shared ? r.trips : '–'} |`,
        );
      }
    }
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '2,4,8' },
      k: { type: 'string', default: '60' },
      l: { type: 'string', default: '10' },
      'window-ms': { type: 'string', default: '1000' },
      shapes: { type: 'string', default: 'fixed' },
      'latency-ms': { type: 'string', default: '30' },
      baseline: { type: 'string' },
      'token-limit': { type: 'string' },
      'max-tokens': { type: 'string' },
    },
  });
  await runIsolates({
    tokenLimit: values['token-limit'] && Number(values['token-limit']),
    maxTokens: values['max-tokens'] && Number(values['max-tokens']),
    ns: values.n.split(',').map(Number),
    shapes: values.shapes.split(','),
    k: Number(values.k),
    l: Number(values.l),
    windowMs: Number(values['window-ms']),
    latencyMs: Number(values['latency-ms']),
    baseline: values.baseline,
  });
}
