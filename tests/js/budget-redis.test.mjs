// Redis tier, spend budgets across processes: two Node processes (tests/js/redis-child.mjs), each
// with its own createFetch() and Redis client, spend on one budget through redisCoordinator and a
// real redis-server, against the mock API. Alone, each would spend the whole budget.
import test from 'node:test';
import assert from 'node:assert/strict';
import { startMock } from '../mock/server.mjs';
import { createFetch, redisCoordinator } from 'ratewise';
import { connect, redisCommand, runChildren, startRedis } from './redis-harness.mjs';

const redis = await startRedis();
test.after(() => redis.stop());

// The mock answers each completion with 9 input and 5 output tokens: $1.40 at these prices; a call
// asking for 20 output tokens reserves about $2.10, so at most 5 calls fit in $7.
const prices = { 'gpt-4o-mini': { input: 100_000, output: 100_000 } };
const budgets = [{ name: 'batch', limitUsd: 7, window: 'month' }];

const mock = await startMock();
test.after(() => mock.close());

async function run(shared, prefix) {
  mock.reset();
  const job = { mockUrl: mock.url, port: redis.port, client: 'node-redis', shared, prefix, budgets, prices };
  const children = await runChildren(2, { ...job, calls: 6, maxTokens: 20, startAt: Date.now() + 1_500 });
  const passed = children.reduce((s, c) => s + (c.statuses[200] ?? 0), 0);
  return { children, passed, requests: mock.stats().requests };
}

test('two processes on one $7 budget through Redis spend at most $7 between them; alone, each spends its own', async () => {
  const alone = await run(false, 'alone:');
  const together = await run(true, 'budget:');
  console.log(
    `# two processes, $7 budget: ${together.passed} calls went with the coordinator, ${alone.passed} without`,
  );
  assert.ok(alone.passed >= 6, `without a coordinator: ${alone.passed} calls`);
  assert.ok(together.passed >= 3 && together.passed <= 5, `with it: ${together.passed} calls`);
  assert.equal(together.requests, together.passed, 'a refused call sends nothing');
  for (const c of together.children) {
    assert.deepEqual(
      Object.keys(c.statuses).sort(),
      ['200', '429'].filter((s) => c.statuses[s]),
    );
    assert.deepEqual(c.errors, []);
  }
  const thresholds = together.children.flatMap((c) => c.alerts).filter((t) => t !== null);
  assert.ok(thresholds.includes(0.5), JSON.stringify(thresholds));
  assert.equal(new Set(thresholds).size, thresholds.length, `alerted twice: ${JSON.stringify(thresholds)}`);
  // The books have a key of their own, kept until an hour past the month's end.
  const keys = await redisCommand(redis.port, ['KEYS', 'budget:*:budget:batch']);
  assert.equal(keys.length, 1, JSON.stringify(keys));
  const ttl = Number(await redisCommand(redis.port, ['PTTL', keys[0]]));
  const now = new Date();
  const monthEnds = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  assert.ok(Math.abs(ttl - (monthEnds - Date.now() + 3_600_000)) < 30_000, `TTL ${ttl} ms`);
  // A third process later (another client) finds the spend there: of $7 less what was spent,
  // calls reserving $2.10 each.
  const job = { mockUrl: mock.url, port: redis.port, client: 'ioredis', shared: true, prefix: 'budget:' };
  const [late] = await runChildren(1, { ...job, budgets, prices, calls: 3, maxTokens: 20 });
  const fit = Math.floor((7 - 1.4 * together.passed) / 2.1 + 1e-9);
  assert.equal(late.statuses[200] ?? 0, fit, JSON.stringify(late.statuses));
});

test('onExhausted: { route } through the coordinator: bulk calls move from the soft threshold on, interactive ones at the cap stop', async () => {
  mock.reset();
  const { client, close } = await connect('node-redis', redis.port);
  const errors = [];
  try {
    const fetch = createFetch({
      prices: { 'gpt-4o': { input: 100_000, output: 100_000 }, 'gpt-4o-mini': { input: 10_000, output: 10_000 } },
      routes: [{ model: 'gpt-4o-mini' }],
      budgets: [{ name: 'team', limitUsd: 10, window: 'day', onExhausted: { route: 1, from: 0.5 } }],
      coordinator: redisCoordinator(client, { prefix: 'move:' }),
      onCoordinatorError: (e) => errors.push(e),
    });
    const byRoute = () => [0, 1].map((r) => fetch.stats().byRoute[r] ?? 0);
    const send = async (lane) => {
      const res = await fetch(`${mock.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-move', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
        ...(lane && { lane }),
      });
      await res.text();
      await new Promise((r) => setTimeout(r, 50)); // the settle reaches Redis
      return res.status;
    };
    // $1.40 a call on gpt-4o, $0.14 on gpt-4o-mini.
    for (let i = 0; i < 4; i++) assert.equal(await send(i === 3 ? 'bulk' : undefined), 200);
    assert.deepEqual(byRoute(), [4, 0], 'below $5 a bulk call stays on the primary');
    assert.equal(await send('bulk'), 200);
    assert.deepEqual(byRoute(), [4, 1], 'at $5.60 a bulk call moves');
    for (let i = 0; i < 3; i++) assert.equal(await send(), 200);
    assert.deepEqual(byRoute(), [7, 1], 'interactive calls keep the primary');
    assert.equal(await send(), 429);
    assert.equal(await send('bulk'), 429);
    assert.equal(mock.stats().requests, 8);
    // The books were Redis's, not the instance's: stats() shows them as the last answer had them.
    assert.deepEqual(errors, []);
    const books = fetch.stats().usage.byBudget;
    assert.deepEqual(
      books.map((b) => [b.budget, b.shared]),
      [['team', true]],
    );
    assert.ok(books[0].fraction > 0.85 && books[0].fraction <= 1, JSON.stringify(books));
    assert.equal((await redisCommand(redis.port, ['KEYS', 'move:*:budget:team'])).length, 1);
  } finally {
    close();
  }
});
