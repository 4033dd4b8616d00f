// One process of the Redis tier's multi-process tests and of bench/redis.mjs:
// its own createFetch(), with or without redisCoordinator over its own client,
// sends chat completions to the mock API and prints what it saw as one JSON line.
//
//   node tests/js/redis-child.mjs '{"mockUrl":…,"port":…,"client":"node-redis","shared":true,"calls":10,…}'
//
// job: mockUrl, port (redis-server), client ('node-redis' | 'ioredis' | 'upstash'), rest (the Upstash
// endpoint), shared (use the coordinator), calls (sent at once; with durationMs, the calls in flight at
// any time; an array: each process's, by index), durationMs (keep sending until then), startAt (epoch ms to begin at, so that the
// processes begin together), key (the API key), prefix, maxRetries, pkg (another build's node.js to import
// instead of the installed package, for bench/redis.mjs --baseline).
import { AsyncLocalStorage } from 'node:async_hooks';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { connect } from './redis-harness.mjs';

// The event loop's lag during the run (for bench/redis.mjs): a round trip's time includes it.
const lag = monitorEventLoopDelay({ resolution: 5 });
lag.enable();

const job = JSON.parse(process.argv[2]);
const { createFetch, redisCoordinator } = await import(job.pkg ?? 'ratewise');
const calls = Array.isArray(job.calls) ? job.calls[job.index] : job.calls;
const connection = job.shared ? await connect(job.client, job.port, job.rest) : null;
// Each node-redis round trip, timed (for bench/redis.mjs).
const roundTrips = [];
// The script's calls by kind (for bench/redis.mjs): reads, stores, and compare-and-sets that lost.
const scripts = { get: 0, set: 0, lost: 0 };
// How many round trips each coordinator send took: tries[i] sends took i + 1 (the last counts more).
const tries = [0, 0, 0, 0];
const sending = new AsyncLocalStorage();
if (connection && job.client === 'node-redis') {
  const send = connection.client.sendCommand.bind(connection.client);
  connection.client.sendCommand = (...args) => {
    const started = performance.now();
    const kind = args[0]?.[4];
    if (kind === 'get' || kind === 'set') scripts[kind]++;
    const trip = sending.getStore();
    if (trip) trip.n++;
    return send(...args)
      .then((reply) => {
        if (kind === 'set' && reply !== 1 && reply !== '1') scripts.lost++;
        return reply;
      })
      .finally(() => roundTrips.push(performance.now() - started));
  };
}
const errors = [];
const alerts = [];
const llm = createFetch({
  // budget-redis.test.mjs: a spend budget (job.budgets, job.prices), its alerts' thresholds reported.
  ...(job.budgets && { budgets: job.budgets, prices: job.prices, onBudget: (a) => alerts.push(a.threshold) }),
  maxRetries: job.maxRetries ?? 10,
  deadlineMs: 120_000,
  onCoordinatorError: (e) => errors.push(e.message),
});
const coordinator = connection ? redisCoordinator(connection.client, { prefix: job.prefix }) : undefined;

// The coordinator's sends, in all and by message op (for bench/redis.mjs).
let sends = 0;
const ops = {};
/** `coordinator`, with every round trip timed into `spent` (and its sends and Redis round trips counted). */
const timed = (spent) =>
  coordinator && {
    async send(key, message) {
      sends++;
      spent.sends++;
      ops[message?.op] = (ops[message?.op] ?? 0) + 1;
      const started = performance.now();
      try {
        const trip = { n: 0 };
        try {
          return await sending.run(trip, () => coordinator.send(key, message));
        } finally {
          if (trip.n) tries[Math.min(trip.n, tries.length) - 1]++;
          spent.trips += trip.n;
        }
      } finally {
        spent.ms += performance.now() - started;
      }
    },
  };

async function one() {
  const spent = { ms: 0, sends: 0, trips: 0 };
  // job.untimed: every call passes the one coordinator object, as an app does. A timing wrapper is a
  // coordinator of its own per call, and an incident is reported once per coordinator object.
  const call = llm.forInvocation({ subrequests: 1000, coordinator: job.untimed ? coordinator : timed(spent) });
  const started = performance.now();
  const res = await call(`${job.mockUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${job.key ?? 'sk-shared-account'}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      ...(job.maxTokens && { max_tokens: job.maxTokens }),
    }),
  });
  // A budget settles from the usage in the body: read it.
  if (job.budgets) await res.text();
  else await res.body?.cancel();
  return { status: res.status, spent, ms: performance.now() - started };
}

if (job.startAt) await new Promise((r) => setTimeout(r, Math.max(0, job.startAt - Date.now())));
lag.reset();
const started = Date.now();
const results = [];
if (job.durationMs) {
  // Keep `calls` in flight until the deadline.
  const until = started + job.durationMs;
  await Promise.all(
    Array.from({ length: calls }, async () => {
      while (Date.now() < until) results.push(await one());
    }),
  );
} else {
  results.push(...(await Promise.all(Array.from({ length: calls }, one))));
}
const wallMs = Date.now() - started;
// The budgets' settles go in the background: let them reach Redis.
if (job.budgets) await new Promise((r) => setTimeout(r, 300));
connection?.close();
const statuses = {};
for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
console.log(
  JSON.stringify({
    index: job.index,
    settled: results.length,
    statuses,
    wallMs,
    coordinatorMs: results.map((r) => r.spent.ms),
    // Each call's coordinator sends and their Redis round trips (node-redis), in the same order.
    coordinatorSends: results.map((r) => [r.spent.sends, r.spent.trips]),
    errors,
    alerts,
    stats: llm.stats(),
    roundTrips,
    scripts,
    sends,
    ops,
    tries,
    lagP99: lag.percentile(99) / 1e6,
    lagMax: lag.max / 1e6,
  }),
);
