// Redis tier, in process: redisCoordinator over node-redis, ioredis and @upstash/redis
// (the last through a local endpoint speaking Upstash's REST protocol) against a real
// redis-server. Two createFetch() instances, each with its own connection, stand for two
// processes; redis-multi.test.mjs runs real ones.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as ratewise from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { connect, redisCommand, startRedis, startUpstashRest } from './redis-harness.mjs';
import { mockClient } from './suite.mjs';

const server = await startMock();
const mock = mockClient(server.url);
const redis = await startRedis();
const rest = await startUpstashRest(redis.port);
const open = [];
test.after(async () => {
  for (const c of open) await c.close();
  await rest.close();
  await redis.stop();
  await server.close();
});
test.beforeEach(() => mock.reset());

const chat = (key) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
});
const client = async (kind, port = redis.port) => {
  const c = await connect(kind, port, rest);
  open.push(c);
  return c.client;
};
const keysOf = (prefix) => redisCommand(redis.port, ['KEYS', `${prefix}*`]);

for (const kind of ['node-redis', 'ioredis', 'upstash']) {
  test(`${kind}: a quota seen by one process opens the breaker of another, which sends nothing`, async () => {
    const prefix = `t-${kind}:`;
    const errors = [];
    const onCoordinatorError = (e) => errors.push(e);
    const a = ratewise.createFetch({
      coordinator: ratewise.redisCoordinator(await client(kind), { prefix }),
      onCoordinatorError,
    });
    const b = ratewise.createFetch({
      coordinator: ratewise.redisCoordinator(await client(kind), { prefix }),
      onCoordinatorError,
    });
    assert.equal((await a(mock.chat, chat('sk-redis-account'))).status, 200, 'a lease is granted');
    await mock.config({ quota: true });
    assert.equal((await a(mock.chat, chat('sk-redis-account'))).status, 429);
    const before = (await mock.stats()).requests;
    const res = await b(mock.chat, chat('sk-redis-account'));
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('x-ratewise-breaker'), 'open');
    assert.equal((await res.json()).error.code, 'insufficient_quota', 'the replay carries the body');
    assert.equal((await mock.stats()).requests, before, 'b sent nothing');
    assert.deepEqual(errors, []);
    // One key per limit key, under the prefix, named by a hash, with a TTL; no credential in Redis.
    const keys = await keysOf(prefix);
    assert.equal(keys.length, 1);
    assert.match(keys[0], new RegExp(`^${prefix}[0-9a-f]{16}$`));
    const value = await redisCommand(redis.port, ['GET', keys[0]]);
    assert.match(value, /^ratewise\/2 /);
    assert.ok(!value.includes('sk-redis-account') && !keys[0].includes('sk-'));
    const ttl = await redisCommand(redis.port, ['PTTL', keys[0]]);
    assert.ok(ttl > 0 && ttl <= 86_400_000, `ttl ${ttl}`);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('a corrupted or foreign value is ignored, reported and replaced; the call goes on', async () => {
  const prefix = 't-corrupt:';
  const coordinator = ratewise.redisCoordinator(await client('node-redis'), { prefix });
  assert.equal((await ratewise.createFetch({ coordinator })(mock.chat, chat('sk-corrupt'))).status, 200);
  const [key] = await keysOf(prefix);
  for (const spoil of [
    ['SET', key, 'ratewise/2 0000000000000000 16:0123456789abcdef'],
    ['SET', key, '{"x":1}'],
  ]) {
    await redisCommand(redis.port, spoil);
    const errors = [];
    const llm = ratewise.createFetch({ coordinator, onCoordinatorError: (e) => errors.push(e) });
    assert.equal((await llm(mock.chat, chat('sk-corrupt'))).status, 200);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0].message, /the value stored for key [0-9a-f]{8} was ignored: (its checksum|not a ratewise)/);
    assert.equal(llm.stats().coordinatorErrors, 1);
    assert.match(await redisCommand(redis.port, ['GET', key]), /^ratewise\/2 /, 'replaced');
  }
  // A key of another type in its place.
  await redisCommand(redis.port, ['DEL', key]);
  await redisCommand(redis.port, ['HSET', key, 'field', 'value']);
  const errors = [];
  const llm = ratewise.createFetch({ coordinator, onCoordinatorError: (e) => errors.push(e) });
  assert.equal((await llm(mock.chat, chat('sk-corrupt'))).status, 200);
  assert.equal(errors.length, 1);
  assert.equal(await redisCommand(redis.port, ['TYPE', key]), 'string');
});

for (const kind of ['node-redis', 'ioredis']) {
  test(`${kind}: redis down at start: calls go on alone, reported once; once it is up, the process rejoins`, async () => {
    const down = await startRedis();
    await down.kill();
    const prefix = `t-down-${kind}:`;
    const errors = [];
    const coordinator = ratewise.redisCoordinator(await client(kind, down.port), { prefix });
    const llm = ratewise.createFetch({ coordinator, onCoordinatorError: (e) => errors.push(e) });
    // Over 3 s: the process asks again each second, and fails each time.
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      assert.equal((await llm(mock.chat, chat('sk-down'))).status, 200);
      assert.ok(Date.now() - started < 500, `call ${i} took ${Date.now() - started} ms`);
      await sleep(600);
    }
    assert.equal(errors.length, 1, 'one incident, one report');
    assert.match(errors[0].message, /not connected/);
    assert.ok(llm.stats().coordinatorErrors >= 3, `${llm.stats().coordinatorErrors} failures counted`);
    // Up again, on the same port: another process trips the quota, and this one hears of it.
    await down.start();
    try {
      const other = ratewise.createFetch({
        coordinator: ratewise.redisCoordinator(await client(kind, down.port), { prefix }),
      });
      await mock.config({ quota: true });
      assert.equal((await other(mock.chat, chat('sk-down'))).status, 429);
      const sent = (await mock.stats()).requests;
      await sleep(1_500); // its client reconnects, and its last lookup is stale
      const res = await llm(mock.chat, chat('sk-down'));
      assert.equal(res.headers.get('x-ratewise-breaker'), 'open', 'it rejoined without a restart');
      assert.equal((await mock.stats()).requests, sent);
      assert.equal(errors.length, 1);
    } finally {
      await down.kill();
    }
  });
}

test('a slow redis (2 s) costs a call one bounded timeout, reported', async () => {
  const errors = [];
  const coordinator = ratewise.redisCoordinator(await client('node-redis'), { prefix: 't-slow:' });
  const llm = ratewise.createFetch({ coordinator, onCoordinatorError: (e) => errors.push(e) });
  assert.equal((await llm(mock.chat, chat('sk-slow'))).status, 200);
  const sleeping = redisCommand(redis.port, ['DEBUG', 'SLEEP', '2']);
  await sleep(50);
  const started = Date.now();
  assert.equal((await llm(mock.chat, chat('sk-slow'))).status, 200);
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 1_800, `the call took ${took} ms`);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /no answer within 1000 ms/);
  await sleeping;
});

test('a redis that answers errors: calls go on, reported once', async () => {
  await redisCommand(redis.port, ['ACL', 'SETUSER', 'limited', 'on', '>secret', '~*', '+@all', '-evalsha', '-eval']);
  const errors = [];
  const limited = await client('node-redis', redis.port);
  const refused = await connect('node-redis', redis.port, rest, { username: 'limited', password: 'secret' });
  open.push(refused);
  assert.ok(limited.isReady && refused.client.isReady);
  const coordinator = ratewise.redisCoordinator(refused.client, { prefix: 't-errors:' });
  const llm = ratewise.createFetch({ coordinator, onCoordinatorError: (e) => errors.push(e) });
  for (let i = 0; i < 3; i++) assert.equal((await llm(mock.chat, chat('sk-errors'))).status, 200);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /NOPERM/);
});

test('upstash: an endpoint that is down costs a call at most one timeout, reported once', async () => {
  const { freePort } = await import('./redis-harness.mjs');
  const { Redis: Upstash } = await import('@upstash/redis');
  // Upstash's own retries (5, with backoff) left on, as users have them.
  const down = new Upstash({ url: `http://127.0.0.1:${await freePort()}`, token: 't', enableTelemetry: false });
  const errors = [];
  const coordinator = ratewise.redisCoordinator(down, { prefix: 't-updown:' });
  const llm = ratewise.createFetch({ coordinator, onCoordinatorError: (e) => errors.push(e) });
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    assert.equal((await llm(mock.chat, chat('sk-updown'))).status, 200);
    assert.ok(Date.now() - started < 1_800, `call ${i} took ${Date.now() - started} ms`);
    await sleep(600);
  }
  assert.equal(errors.length, 1, JSON.stringify(errors));
});

test('redisCoordinator checks its arguments', () => {
  assert.throws(() => ratewise.redisCoordinator({}), {
    name: 'TypeError',
    message: /node-redis, ioredis or @upstash\/redis/,
  });
  assert.throws(() => ratewise.redisCoordinator(null), TypeError);
  const fake = { sendCommand: async () => 1 };
  assert.throws(() => ratewise.redisCoordinator(fake, { prefix: 3 }), { name: 'TypeError', message: /prefix/ });
  assert.throws(() => ratewise.redisCoordinator(fake, { prefix: 'x'.repeat(300) }), TypeError);
  assert.equal(typeof ratewise.redisCoordinator(fake).send, 'function');
});

for (const kind of ['node-redis', 'ioredis', 'upstash']) {
  test(`${kind}: concurrent lease requests from many processes never grant past the limit (compare-and-set)`, async () => {
    const key = '00000000000000aa';
    const now = Date.now();
    const prefix = `t-cas-${kind}:`;
    const coordinators = [];
    for (let i = 0; i < 10; i++) coordinators.push(ratewise.redisCoordinator(await client(kind), { prefix }));
    // The server said: 10 a minute, all 10 left.
    const report = [10, 10, now + 60_000, now, Number.NaN, now];
    await coordinators[0].send(key, { op: 'lease', key, want: 0, report });
    const answers = await Promise.all(
      coordinators.map((c) => c.send(key, { op: 'lease', key, want: 8, report: null })),
    );
    const granted = answers.map((a) => a.grant).filter((g) => g > 0);
    assert.equal(
      granted.reduce((s, g) => s + g, 0),
      10,
      `grants ${JSON.stringify(answers)}: each update saw the one before`,
    );
  });
}

/**
 * Two coordinators on one prefix, each with a node-redis client of its own; `calls` lists the script
 * calls `first` makes, by kind ('get' or 'set').
 */
async function twoCoordinators(prefix) {
  const a = await client('node-redis');
  const calls = [];
  const send = a.sendCommand.bind(a);
  a.sendCommand = (args, ...rest) => {
    calls.push(args[4]);
    return send(args, ...rest);
  };
  const first = ratewise.redisCoordinator(a, { prefix });
  const other = ratewise.redisCoordinator(await client('node-redis'), { prefix });
  return { calls, first, other };
}

test('a lost compare-and-set whose step changes nothing costs no round trip more', async () => {
  const key = '00000000000000bb';
  const now = Date.now();
  const prefix = 't-unchanged:';
  const { calls, first, other } = await twoCoordinators(prefix);
  // a sees the books first: 10 a minute, all 10 left. Then another process takes all ten.
  const report = [10, 10, now + 60_000, now, Number.NaN, now];
  await first.send(key, { op: 'lease', key, want: 0, report });
  for (const want of [8, 8]) assert.ok((await other.send(key, { op: 'lease', key, want, report: null })).grant > 0);
  calls.length = 0;
  // a's remembered value is stale: its compare-and-set loses and answers with the full books, on
  // which the step is a wait that changes nothing: the answer stands, nothing more is sent.
  const answer = await first.send(key, { op: 'lease', key, want: 8, report: null });
  assert.ok(answer.grant < 0, `a wait: ${JSON.stringify(answer)}`);
  assert.deepEqual(calls, ['set'], 'one round trip');
  // A step that changes the books still writes them: a report is kept.
  calls.length = 0;
  const newer = [10, 0, now + 60_000, now + 5, Number.NaN, now + 1];
  await other.send(key, { op: 'lease', key, want: 0, report: newer });
  await first.send(key, { op: 'lease', key, want: 0, report: [10, 0, now + 60_000, now + 9, Number.NaN, now + 2] });
  assert.deepEqual(calls, ['set', 'set'], 'lost, then stored');
});

test('a lease answered with a wait costs one round trip though time let grants leave the books', async () => {
  const key = '00000000000000cc';
  const now = Date.now();
  const prefix = 't-settled:';
  const { calls, first, other } = await twoCoordinators(prefix);
  // 10 per 200 ms, all 10 left; another process takes eight, then a's 429 closes the key for a
  // minute, and the other process's report changes the value a remembers.
  const report = (remaining, at, blockedUntil) => [10, remaining, now + 200, now + at, blockedUntil, now + at - 1];
  await first.send(key, { op: 'lease', key, want: 0, report: report(10, 1, Number.NaN) });
  assert.ok((await other.send(key, { op: 'lease', key, want: 8, report: null })).grant > 0);
  await first.send(key, { op: 'lease', key, want: 0, report: report(0, 5, now + 60_000) });
  await other.send(key, { op: 'lease', key, want: 0, report: report(0, 6, now + 60_000) });
  // The eight leave the books a window and a permit's way after their grant.
  await new Promise((r) => setTimeout(r, 400));
  calls.length = 0;
  // The step lets the eight go and answers the 429's wait, on what a remembers and on the value
  // held: only time changed the books, so nothing is written (main wrote the books with the eight
  // gone: a compare-and-set lost to the other process's report, then one stored).
  const answer = await first.send(key, { op: 'lease', key, want: 8, report: null });
  assert.ok(answer.grant < 0, `the 429's wait: ${JSON.stringify(answer)}`);
  assert.deepEqual(calls, ['get'], 'one round trip');
});

test('four processes sharing a tokens-bound limit through Redis meet no 429 (issue 22)', async () => {
  const { tokensBound } = await import('./tokens-bound.mjs');
  const alone = await tokensBound(mock, ratewise, null);
  const c = await client('node-redis');
  const shared = await tokensBound(mock, ratewise, () => ratewise.redisCoordinator(c, { prefix: 't-tokens:' }));
  console.log(
    `tokens-bound, 4 instances, 16 calls: alone ${alone.rejected} 429s in ${alone.wallMs} ms; ` +
      `through Redis ${shared.rejected} 429s in ${shared.wallMs} ms (floor ${shared.floorMs} ms)`,
  );
  assert.ok(alone.rejected > 0, 'alone, the instances each spend the whole tokens window');
  assert.deepEqual(shared.answers, Array(16).fill(200));
  assert.equal(shared.rejected, 0);
});
