// Shared-suite test of stats() and breaker() as objects (src/wasm/report.rs, through serde-wasm-bindgen):
// run in Node, workerd, Chromium, Deno and Bun through suite.mjs.
import { check, equal } from './suite.mjs';

/** A plain object (not an ES Map), whatever the realm. */
const plain = (value, message) =>
  check(Object.prototype.toString.call(value) === '[object Object]', `${message}: a plain object`);

/** Every value of `object` is a number (not a BigInt). */
const numbers = (object, message) => {
  for (const [key, value] of Object.entries(object))
    check(typeof value === 'number', `${message}.${key}: ${typeof value}`);
};

export const tests = [
  [
    'stats() and breaker() are plain objects and arrays: every key in camelCase and in order, numbers, zero kinds left out',
    async ({ ratewise, mock }) => {
      await mock.config({ quota: true });
      const fetch = ratewise.createFetch({ quotaCooldownMs: 60_000 });
      const init = { method: 'POST', headers: { authorization: 'Bearer sk-report-shape-0001' }, body: '{}' };
      for (let i = 0; i < 2; i++) await (await fetch(mock.chat, init)).arrayBuffer(); // opens the breaker, then answered by it
      await mock.config({ quota: false });

      const { usage, ...stats } = fetch.stats();
      plain(fetch.stats(), 'stats()');
      check(usage !== undefined, 'stats().usage');
      equal(
        Object.keys(fetch.stats()),
        [
          ...['calls', 'attempts', 'retries', 'waitedMs', 'byKind', 'byStop', 'networkCalls', 'shortCircuits'],
          ...['throttledMs', 'queued', 'byRoute', 'coordinatorErrors', 'cacheHits', 'byLane', 'bulkDiverted', 'usage'],
        ],
        'stats() keys',
      );
      for (const key of ['byKind', 'byStop', 'byLane']) {
        plain(stats[key], `stats().${key}`);
        numbers(stats[key], `stats().${key}`);
      }
      check(Array.isArray(stats.byRoute), 'stats().byRoute is an array');
      numbers(stats.byRoute, 'stats().byRoute');
      const { byKind, byStop, byRoute, byLane, ...counts } = stats;
      numbers(counts, 'stats()');
      equal(
        stats,
        {
          calls: 2,
          attempts: 2,
          retries: 0,
          waitedMs: 0,
          byKind: { quota_exhausted: 2 },
          byStop: { not_retryable: 1, breaker_open: 1 },
          networkCalls: 1,
          shortCircuits: 1,
          throttledMs: 0,
          queued: 0,
          byRoute: [2],
          coordinatorErrors: 0,
          cacheHits: 0,
          byLane: { interactive: 2, bulk: 0 },
          bulkDiverted: 0,
        },
        'stats()',
      );

      const list = fetch.breaker();
      check(Array.isArray(list) && list.length === 1, `breaker() is an array of one: ${JSON.stringify(list)}`);
      const [state] = list;
      plain(state, 'breaker()[0]');
      equal(Object.keys(state), ['key', 'kind', 'state', 'openedAtMs', 'retryAtMs', 'trips'], 'breaker()[0] keys');
      const { key, kind, state: open, ...times } = state;
      numbers(times, 'breaker()[0]');
      check(/^[0-9a-f]{8}$/.test(key), `breaker()[0].key: ${key}`);
      equal([kind, open, times.trips], ['quota', 'open', 1], 'breaker()[0]');
      check(times.retryAtMs - times.openedAtMs === 60_000, `the cooldown: ${JSON.stringify(times)}`);
      equal(fetch.health().breakers, list, 'health().breakers');
      fetch.resetBreaker();
      equal(fetch.breaker(), [], 'breaker() after resetBreaker()');
    },
  ],
];
