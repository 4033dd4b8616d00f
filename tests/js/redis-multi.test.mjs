// Redis tier, across processes: N Node processes (tests/js/redis-child.mjs), each with its own
// createFetch() and its own Redis client, share one account's limit on the mock API through a
// real redis-server.
import test from 'node:test';
import assert from 'node:assert/strict';
import { startMock } from '../mock/server.mjs';
import { redisCommand, runChildren, startRedis } from './redis-harness.mjs';

const redis = await startRedis();
test.after(() => redis.stop());

/** N processes send K calls at once in all against L per 1 s, fixed windows. */
async function shareLimit({ n, shared, k = 40, l = 10, client = 'node-redis' }) {
  const mock = await startMock({ limit: l, windowMs: 1_000, shape: 'fixed', latencyMs: 20 });
  try {
    const prefix = `multi-${n}-${shared}:`;
    const job = { mockUrl: mock.url, port: redis.port, client, shared, calls: k / n, prefix };
    const children = await runChildren(n, { ...job, startAt: Date.now() + 1_500 });
    const stats = mock.stats();
    return { children, r429: stats.byStatus[429] ?? 0, requests: stats.requests };
  } finally {
    await mock.close();
  }
}

for (const n of [2, 4, 8]) {
  test(`${n} processes sharing one limit: the coordinator keeps 429s off the network`, async () => {
    const alone = await shareLimit({ n, shared: false });
    const together = await shareLimit({ n, shared: true });
    for (const run of [alone, together]) {
      const ok = run.children.reduce((s, c) => s + (c.statuses[200] ?? 0), 0);
      assert.equal(ok, 40, `every call ends 200: ${JSON.stringify(run.children.map((c) => c.statuses))}`);
    }
    console.log(`N=${n}: 429s without the coordinator ${alone.r429}, with it ${together.r429}`);
    assert.ok(alone.r429 > 0, 'without it the processes collide');
    assert.ok(together.r429 <= 1, `with it: ${together.r429} 429s`);
    for (const c of together.children) assert.deepEqual(c.errors, []);
  });
}

test('a quota trip in one process is seen by the others with 0 further calls to the API', async () => {
  const mock = await startMock({ quota: true });
  try {
    const job = { mockUrl: mock.url, port: redis.port, client: 'ioredis', shared: true, prefix: 'quota:' };
    const [first] = await runChildren(1, { ...job, calls: 1 });
    assert.deepEqual(first.statuses, { 429: 1 });
    assert.equal(mock.stats().requests, 1);
    const others = await runChildren(3, { ...job, calls: 3 });
    for (const c of others) assert.deepEqual(c.statuses, { 429: 3 });
    assert.equal(mock.stats().requests, 1, 'no other process called the API');
  } finally {
    await mock.close();
  }
});

test('redis-server killed mid-run and restarted: every call settles, no process crashes or hangs, they rejoin', async () => {
  const mock = await startMock({ limit: 20, windowMs: 1_000, shape: 'fixed', latencyMs: 20 });
  try {
    const prefix = 'killed:';
    const startAt = Date.now() + 1_500;
    const job = { mockUrl: mock.url, port: redis.port, client: 'node-redis', shared: true, prefix, untimed: true };
    const running = runChildren(2, { ...job, calls: 3, durationMs: 4_000, startAt, maxRetries: 3 }, 30_000);
    await new Promise((r) => setTimeout(r, startAt - Date.now() + 1_000));
    await redis.kill();
    await new Promise((r) => setTimeout(r, 1_000));
    await redis.start();
    const children = await running;
    for (const c of children) {
      assert.ok(c.settled > 10, `${c.settled} calls settled`);
      assert.deepEqual(
        Object.keys(c.statuses).filter((s) => s !== '200' && s !== '429'),
        [],
        JSON.stringify(c.statuses),
      );
      assert.ok(c.errors.length >= 1 && c.errors.length <= 3, `reported ${JSON.stringify(c.errors)}`);
    }
    // Alone while Redis was down, each process went past the shared limit by at most about one lease.
    assert.ok((mock.stats().byStatus[429] ?? 0) <= 2 * 8, `${mock.stats().byStatus[429]} 429s`);
    // The restarted server is empty: what it holds now was written after the restart.
    assert.equal((await redisCommand(redis.port, ['KEYS', `${prefix}*`])).length, 1, 'they rejoined');
    console.log(
      `killed mid-run: ${JSON.stringify(children.map((c) => c.statuses))}, mock 429s ${mock.stats().byStatus[429] ?? 0}`,
    );
  } finally {
    await mock.close();
  }
});
