// Node tier: the Durable Object coordinator's protocol, in process. The
// package's own RatewiseCoordinator class runs behind a fake namespace (one
// object per name, storage in a Map), and two createFetch() instances stand
// for two isolates. workerd runs the real thing in example-worker.test.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as ratewise from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';
import { memoryNamespace } from './memory-namespace.mjs';

const server = await startMock();
const mock = mockClient(server.url);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

/** A Durable Object namespace of RatewiseCoordinator objects, in memory. */
const namespace = () => memoryNamespace(ratewise);

const chat = (key) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
});

test('a quota seen by one isolate opens the breaker of another, which sends nothing', async () => {
  const ns = namespace();
  const a = ratewise.createFetch({ coordinator: ns });
  const b = ratewise.createFetch().forInvocation({ coordinator: ns });
  await mock.config({ quota: true });
  assert.equal((await a(mock.chat, chat('sk-shared-account'))).status, 429);
  assert.equal((await mock.stats()).requests, 1);
  const res = await b(mock.chat, chat('sk-shared-account'));
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('x-ratewise-breaker'), 'open');
  assert.equal((await res.json()).error.code, 'insufficient_quota', 'the replay carries the body');
  assert.equal((await mock.stats()).requests, 1, 'B sent nothing');
  // One object per key, named by a hash: no credential reaches the coordinator.
  assert.equal(ns.objects.size, 1);
  assert.ok(!JSON.stringify(ns.calls).includes('sk-shared-account'));
  assert.deepEqual(
    ns.calls.map((c) => c.body.op),
    ['lookup', 'lease', 'tripped', 'lease', 'lookup'],
  );
  // A's lease, then its first answer's report forwarded at once (no permits asked).
  assert.deepEqual(
    ns.calls.filter((c) => c.body.op === 'lease').map((c) => c.body.want),
    [1, 0],
  );
});

test('another key is not affected, and a success closes the shared breaker', async () => {
  const ns = namespace();
  const a = ratewise.createFetch({ coordinator: ns, quotaCooldownMs: 0 });
  await mock.config({ quota: true });
  await a(mock.chat, chat('sk-account-1'));
  await mock.config({ quota: false });
  const other = ratewise.createFetch({ coordinator: ns });
  assert.equal((await other(mock.chat, chat('sk-account-2'))).status, 200, 'another key');
  // A's cooldown is 0: its next call is the probe, which succeeds and closes the breaker for all.
  assert.equal((await a(mock.chat, chat('sk-account-1'))).status, 200);
  assert.ok(ns.calls.some((c) => c.body.op === 'closed'));
  const late = ratewise.createFetch({ coordinator: ns });
  assert.equal((await late(mock.chat, chat('sk-account-1'))).status, 200, 'a new isolate finds it closed');
});

test('a coordinator that fails or hangs is reported, and calls go on with local state', async () => {
  const errors = [];
  const failing = {
    idFromName: (n) => n,
    get: () => ({ fetch: async () => Promise.reject(new Error('coordinator down')) }),
  };
  const llm = ratewise.createFetch({ coordinator: failing, onCoordinatorError: (e) => errors.push(e) });
  assert.equal((await llm(mock.chat, chat('sk-x'))).status, 200);
  assert.deepEqual(errors, [{ op: 'lookup', message: 'coordinator down' }]);
  assert.equal(llm.stats().coordinatorErrors, 1);

  const hanging = { idFromName: (n) => n, get: () => ({ fetch: () => new Promise(() => {}) }) };
  const slow = ratewise.createFetch({ coordinator: hanging, onCoordinatorError: (e) => errors.push(e) });
  const started = Date.now();
  assert.equal((await slow(mock.chat, chat('sk-y'))).status, 200);
  const waited = Date.now() - started;
  assert.ok(waited >= 990 && waited < 2500, `waited ${waited} ms for a hanging coordinator`);
  assert.match(errors.at(-1).message, /no answer within 1000 ms/);
});

test('coordinator options and messages are checked', async () => {
  assert.throws(() => ratewise.createFetch({ coordinator: {} }), {
    name: 'TypeError',
    message: /createFetch: `coordinator` must be a Durable Object namespace binding/,
  });
  assert.throws(() => ratewise.createFetch().forInvocation({ coordinator: 'RATEWISE' }), {
    name: 'TypeError',
    message: /forInvocation: `coordinator`/,
  });
  const ctx = { storage: { get: async () => undefined, put: async () => {} }, blockConcurrencyWhile: (fn) => fn() };
  const object = new ratewise.RatewiseCoordinator(ctx);
  const bad = [
    'nope',
    '{"op":"lookup","key":"sk-not-a-hash"}',
    '{"op":"drop","key":"0123456789abcdef"}',
    '{"op":"lease","key":"sk-not-a-hash","want":1}',
    '{"op":"lease","key":"0123456789abcdef","want":-1}',
    '{"op":"lease","key":"0123456789abcdef"}',
  ];
  for (const body of bad) {
    const res = await object.fetch(new Request('https://c/', { method: 'POST', body }));
    assert.equal(res.status, 400, body);
  }
  // A report it cannot read is ignored; the lease is still answered (a cold start: one permit, then a wait).
  const lease = (report) =>
    object
      .fetch(
        new Request('https://c/', {
          method: 'POST',
          body: JSON.stringify({ op: 'lease', key: '0123456789abcdef', want: 1e12, report }),
        }),
      )
      .then((r) => r.json());
  assert.deepEqual(await lease(['x', null, {}, -1]), { grant: 1 });
  assert.ok((await lease(null)).grant < 0, 'the others wait for the first answer');
  // A report with a limit: up to 8 permits a lease, never more than asked for or left.
  const now = Date.now();
  // The report is of the cold-start request (sent after it was granted).
  assert.deepEqual(await lease([10, 9, now + 1000, now, null, now + 1]), { grant: 8 });
  // Then at most the one slot left (grants close together are booked as one run, at the later
  // time, so the report may count the cold start twice: never fewer waits, only more), then waits.
  const next = (await lease(null)).grant;
  assert.ok(next === 1 || next < 0, `grant ${next}`);
  assert.ok((await lease(null)).grant < 0, 'no more than the limit in the window');
});

test('four isolates sharing a tokens-bound limit through the Durable Object meet no 429 (issue 22)', async () => {
  const { tokensBound } = await import('./tokens-bound.mjs');
  const ns = namespace();
  const shared = await tokensBound(mock, ratewise, () => ns);
  console.log(
    `tokens-bound, 4 isolates, 16 calls: ${shared.rejected} 429s in ${shared.wallMs} ms (floor ${shared.floorMs} ms)`,
  );
  assert.deepEqual(shared.answers, Array(16).fill(200));
  assert.equal(shared.rejected, 0);
  // The lease requests say how many tokens each call books; the reports carry the tokens window.
  const leases = ns.calls.filter((c) => c.body.op === 'lease').map((c) => c.body);
  assert.ok(leases.some((l) => l.want > 0 && l.tokens === 1_000));
  assert.ok(leases.some((l) => l.report?.length === 10 && l.report[7] === 4_000));
});
