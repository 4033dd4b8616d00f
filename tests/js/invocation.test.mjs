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
