// Node tier: forInvocation(), the per-invocation subrequest budget (issue #13).
// Every network attempt of the invocation's calls (first attempts, retries,
// fallback routes) counts against one budget; the mock API counts what arrived.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as ratewise from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';

const server = await startMock();
const mock = mockClient(server.url);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

const chat = (extra = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-invocation' },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  ...extra,
});

test('an invocation makes at most its budget of fetches, whatever the retries and routes', async () => {
  // Out of quota on the first route, then overloaded on the backup.
  await mock.script(['insufficient_quota', ...Array.from({ length: 40 }, () => 'overloaded')]);
  const stops = [];
  const routes = [];
  const llm = ratewise.createFetch({
    maxRetries: 10,
    baseDelayMs: 1,
    maxDelayMs: 2,
    retryBudget: false,
    routes: [{ apiKey: 'sk-test-backup' }],
    onEvent: (e) => {
      routes.push(e.route);
      if (e.stop) stops.push(e.stop);
    },
  });
  const inv = llm.forInvocation({ subrequests: 5 });
  const first = await inv(mock.chat, chat());
  assert.equal(first.status, 503, 'the last real answer comes back, not a platform error');
  const second = await inv(mock.chat, chat()).catch((e) => e);
  assert.ok(ratewise.isSubrequestsSpentError(second), `got ${second}`);
  assert.match(second.message, /5 subrequests are spent/);
  assert.equal((await mock.stats()).requests, 5);
  assert.deepEqual(stops, ['subrequests_spent']);
  assert.deepEqual(routes, [0, 1, 1, 1, 1], 'the move to the backup route counts too');
  assert.deepEqual(inv.subrequests(), { limit: 5, spent: 5 });

  // Another invocation has its own budget; the instance itself has none.
  const other = llm.forInvocation({ subrequests: 2 });
  await mock.reset();
  assert.equal((await other(mock.chat, chat())).status, 200);
  assert.deepEqual(other.subrequests(), { limit: 2, spent: 1 });
  assert.equal((await llm(mock.chat, chat())).status, 200);
});

test('concurrent calls of one invocation share its budget', async () => {
  await mock.config({ latencyMs: 30 });
  const inv = ratewise.createFetch().forInvocation({ subrequests: 3 });
  const settled = await Promise.allSettled(Array.from({ length: 5 }, () => inv(mock.chat, chat())));
  const ok = settled.filter((s) => s.status === 'fulfilled' && s.value.status === 200).length;
  const spent = settled.filter((s) => s.status === 'rejected' && ratewise.isSubrequestsSpentError(s.reason)).length;
  assert.deepEqual([ok, spent], [3, 2]);
  assert.equal((await mock.stats()).requests, 3);
});

test('the default budget is the Workers free plan, 50', async () => {
  const inv = ratewise.createFetch().forInvocation();
  assert.deepEqual(inv.subrequests(), { limit: 50, spent: 0 });
});

test("a cache lookup waits for its own invocation's store in flight, never for another's", async () => {
  const entries = new Map();
  let gate;
  const hold = () => {
    let release;
    gate = new Promise((r) => {
      release = r;
    });
    return release;
  };
  const store = {
    get: async (key) => entries.get(key)?.clone(),
    put: async (key, response) => {
      await gate; // the store stays in flight until the test lets it land
      entries.set(key, response);
    },
  };
  const llm = ratewise.createFetch({ cache: { ttlMs: 60_000, store }, maxRetries: 0 });
  const pending = [];
  const invocation = () => llm.forInvocation({ waitUntil: (p) => pending.push(p) });
  const answer = async (res) => [res.status, res.headers.get('x-ratewise-cache'), (await res.text()).length > 0];

  // A stores; B, out of quota while A's store is in flight (it lands 300 ms on), never waits for it.
  const a = invocation();
  let release = hold();
  const first = chat({ body: '{"model":"gpt-4o-mini","n":1}' });
  await (await a(mock.chat, first)).text();
  assert.equal(pending.length, 1, "the store went to the invocation's waitUntil");
  await mock.config({ quota: true });
  setTimeout(release, 300);
  assert.deepEqual(await answer(await invocation()(mock.chat, first)), [429, null, true], 'B: the failure as it was');
  await Promise.all(pending);
  assert.equal(entries.size, 1);

  // A stores again (another tenant: B's 429 opened the first one's breaker); A's own lookup waits
  // for it and is answered from it.
  await mock.config({ quota: false });
  release = hold();
  const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-test-invocation-2' };
  const second = chat({ headers, body: '{"model":"gpt-4o-mini","n":2}' });
  await (await a(mock.chat, second)).text();
  await mock.config({ quota: true });
  setTimeout(release, 300);
  assert.deepEqual(await answer(await a(mock.chat, second)), [200, 'hit', true], 'A: its own store, waited for');
  await Promise.all(pending);
});

test('forInvocation options are checked by name', () => {
  const llm = ratewise.createFetch();
  assert.throws(() => llm.forInvocation({ subrequests: -1 }), {
    name: 'RangeError',
    message: /forInvocation: `subrequests` must be an integer/,
  });
  assert.throws(() => llm.forInvocation({ subrequest: 5 }), {
    name: 'TypeError',
    message: /forInvocation: unknown option `subrequest`/,
  });
  assert.throws(() => llm.forInvocation(7), { name: 'TypeError', message: /forInvocation: options must be/ });
});
