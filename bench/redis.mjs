// Benchmark (not a test): one account's rate limit shared by N Node processes, with and without
// redisCoordinator, against a real redis-server on 127.0.0.1.
//
//   node bench/redis.mjs [--n 2,4,8] [--k 60] [--l 10] [--window-ms 1000] [--shapes fixed,bucket]
//                        [--latency-ms 30] [--client node-redis|ioredis|upstash] [--baseline path/to/other/pkg/node.js]
//                        [--token-limit T --max-tokens M]
//
// With --token-limit, the mock also serves T tokens a window, each call charged 1 + M tokens (its
// prompt "hi" and max_tokens M): a tokens-bound limit when T / (1 + M) < L, and the floor counts
// windows of that many calls (issue 22: the coordinators share the tokens window too).
//
// With --baseline, each Redis scenario runs with that build too, interleaved in the same run (its rows
// say "Redis, baseline"): a change to the lease books measured before and after on the same load.
//
// For each shape, N and {no coordinator, Redis coordinator}: a fresh mock (tests/mock/server.mjs)
// allowing L requests per window, and N processes (tests/js/redis-child.mjs, each with its own
// createFetch and Redis client) that begin together and send K calls in all, at once. Reported: the
// mock's 429s and network calls, wall time (the slowest process) ÷ the floor (⌈K/L⌉−1) × W, the
// time each call waited on the coordinator (p50, p99 over the calls), and with node-redis each Redis
// round trip (how many, p50, p99: what the machine's load adds shows here), and with node-redis the
// coordinator's sends, the script's reads and compare-and-sets and how many of those lost to a
// newer value (each a round trip more), the sends by message op and by round trips taken, the sends and round trips
// each of the slowest 1% of calls made (what the p99 is made of); and each process's event-loop
// lag during the run (a round trip's time includes it: on a loaded machine it dominates). Needs redis-server
// (scripts/setup.sh installs Debian's).
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startMock } from '../tests/mock/server.mjs';
import { runChildren, startRedis, startUpstashRest } from '../tests/js/redis-harness.mjs';
import { help } from './help.mjs';

help(import.meta.url);

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

async function scenario({
  redis,
  rest,
  client,
  n,
  shared,
  shape,
  k,
  l,
  windowMs,
  latencyMs,
  pkg,
  tokenLimit,
  maxTokens,
}) {
  const mock = await startMock({ limit: l, windowMs, shape, latencyMs, ...(tokenLimit && { tokenLimit }) });
  // Calls a window: the requests limit, or the tokens limit's if it binds first.
  const perWindow = tokenLimit ? Math.min(l, Math.floor(tokenLimit / (1 + (maxTokens ?? 0)))) : l;
  try {
    const job = {
      mockUrl: mock.url,
      port: redis.port,
      rest: rest && { url: rest.url, token: rest.token },
      client,
      shared,
      calls: Array.from({ length: n }, (_, i) => Math.floor(k / n) + (i < k % n ? 1 : 0)),
      prefix: `bench-${shape}-${n}-${Date.now()}:`,
      pkg,
      maxTokens,
      startAt: Date.now() + 2_000,
    };
    const children = await runChildren(n, job, 180_000);
    const stats = mock.stats();
    const wall = Math.max(...children.map((c) => c.wallMs));
    const spent = children.flatMap((c) => c.coordinatorMs);
    // The slowest 1% of calls by coordinator time: how many sends and Redis round trips each made.
    const perCall = children.flatMap((c) =>
      c.coordinatorMs.map((ms, i) => [ms, ...(c.coordinatorSends?.[i] ?? [0, 0])]),
    );
    const slowest = perCall.sort((a, b) => b[0] - a[0]).slice(0, Math.max(1, Math.ceil(perCall.length / 100)));
    const mean = (i) => slowest.reduce((s, c) => s + c[i], 0) / slowest.length;
    const trips = children.flatMap((c) => c.roundTrips);
    const sum = (f) => children.reduce((s, c) => s + (f(c) ?? 0), 0);
    const cas = `${sum((c) => c.sends)} / ${sum((c) => c.scripts?.get)} / ${sum((c) => c.scripts?.set)} / ${sum((c) => c.scripts?.lost)}`;
    return {
      ok: children.reduce((s, c) => s + (c.statuses[200] ?? 0), 0),
      r429: stats.byStatus[429] ?? 0,
      calls: stats.requests,
      ratio: wall / ((Math.ceil(k / perWindow) - 1) * windowMs),
      p50: quantile(spent, 0.5),
      p99: quantile(spent, 0.99),
      slowest: `${mean(1).toFixed(1)} / ${mean(2).toFixed(1)}`,
      trips: trips.length,
      tripP50: quantile(trips, 0.5),
      tripP99: quantile(trips, 0.99),
      errors: children.reduce((s, c) => s + c.errors.length, 0),
      cas,
      tries: [0, 1, 2, 3].map((i) => sum((c) => c.tries?.[i])).join(' / '),
      lag: `${Math.max(...children.map((c) => c.lagP99 ?? 0)).toFixed(0)} / ${Math.max(...children.map((c) => c.lagMax ?? 0)).toFixed(0)}`,
      ops: children.reduce((o, c) => {
        for (const [k, v] of Object.entries(c.ops ?? {})) o[k] = (o[k] ?? 0) + v;
        return o;
      }, {}),
    };
  } finally {
    await mock.close();
  }
}

/** Runs every scenario and prints the table; returns the rows. */
export async function runRedis({
  ns = [2, 4, 8],
  shapes = ['fixed', 'bucket'],
  k = 60,
  l = 10,
  windowMs = 1000,
  latencyMs = 30,
  client = 'node-redis',
  baseline,
  tokenLimit,
  maxTokens,
} = {}) {
  const pkg = baseline && new URL(baseline, `file://${process.cwd()}/`).href;
  // Without a coordinator, then with it: this build, and the baseline's (in alternating order).
  const runs = (n) => {
    const builds = pkg ? (n % 4 === 0 ? [pkg, undefined] : [undefined, pkg]) : [undefined];
    return [{ shared: false }, ...builds.map((p) => ({ shared: true, pkg: p }))];
  };
  const redis = await startRedis();
  const rest = client === 'upstash' ? await startUpstashRest(redis.port) : null;
  try {
    console.log(
      `\n## ${k} calls over N Node processes sharing one limit of ${l} per ${windowMs} ms${tokenLimit ? ` and ${tokenLimit} tokens (${1 + (maxTokens ?? 0)} a call)` : ''} (redis-server on loopback, ${client}, mock latency ${latencyMs} ms)\n`,
    );
    console.log(
      '| shape | N | coordinator | 200s | 429s / network calls | wall ÷ floor | coordinator ms per call p50 / p99 | Redis round trips, ms p50 / p99 | coordinator errors | coordinator sends / script reads / compare-and-sets / lost | sends by op | sends taking 1 / 2 / 3 / 4+ round trips | slowest 1% of calls: sends / round trips each | event-loop lag ms p99 / max (worst process) |',
    );
    console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|');
    const rows = [];
    for (const shape of shapes) {
      for (const n of ns) {
        for (const { shared, pkg: build } of runs(n)) {
          const args = { redis, rest, client, n, shared, shape, k, l, windowMs, latencyMs, tokenLimit, maxTokens };
          const r = await scenario({ ...args, pkg: build });
          rows.push({ shape, n, shared, baseline: Boolean(build), ...r });
          const lat = shared ? `${r.p50.toFixed(1)} / ${r.p99.toFixed(1)}` : '–';
          const trips = r.trips ? `${r.trips}: ${r.tripP50.toFixed(1)} / ${r.tripP99.toFixed(1)}` : '–';
          console.log(
            `| ${shape} | ${n} | ${shared ? (build ? 'Redis, baseline' : 'Redis') : 'none'} | ${r.ok} | ${r.r429} / ${r.calls} | ${r.ratio.toFixed(2)}× | ${lat} | ${trips} | ${shared ? r.errors : '–'} | ${shared ? r.cas : '–'} | ${shared ? JSON.stringify(r.ops) : '–'} | ${shared ? r.tries : '–'} | ${shared ? r.slowest : '–'} | ${r.lag} |`,
          );
        }
      }
    }
    return rows;
  } finally {
    await rest?.close();
    await redis.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '2,4,8' },
      k: { type: 'string', default: '60' },
      l: { type: 'string', default: '10' },
      'window-ms': { type: 'string', default: '1000' },
      shapes: { type: 'string', default: 'fixed,bucket' },
      'latency-ms': { type: 'string', default: '30' },
      client: { type: 'string', default: 'node-redis' },
      baseline: { type: 'string' },
      'token-limit': { type: 'string' },
      'max-tokens': { type: 'string' },
    },
  });
  await runRedis({
    tokenLimit: values['token-limit'] && Number(values['token-limit']),
    maxTokens: values['max-tokens'] && Number(values['max-tokens']),
    ns: values.n.split(',').map(Number),
    shapes: values.shapes.split(','),
    k: Number(values.k),
    l: Number(values.l),
    windowMs: Number(values['window-ms']),
    latencyMs: Number(values['latency-ms']),
    client: values.client,
    baseline: values.baseline,
  });
}
