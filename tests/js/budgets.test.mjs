// Node tier, spend budgets in createFetch (issue 21 §2): a call holds its estimate before it is sent,
// settles its real cost when its usage is known, and a spent budget answers at once (a local 429,
// or BudgetExhaustedError with throwOnError) without a network call; alerts go to onBudget.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as ratewise from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';

const server = await startMock();
const mock = mockClient(server.url);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

const settled = () => new Promise((resolve) => setTimeout(resolve, 0));
const chat = (extra = {}, headers = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...extra }),
});
// The mock answers every chat completion with 9 input and 5 output tokens: $1.40 at these prices.
const prices = { 'gpt-4o-mini': { input: 100_000, output: 100_000 } };

test('a USD budget: calls settle their real cost, alerts fire once per threshold, the spent budget answers locally', async () => {
  const alerts = [];
  const fetch = ratewise.createFetch({
    prices,
    budgets: [{ name: 'daily', limitUsd: 2, window: 'day' }],
    onBudget: (a) => alerts.push(a),
  });
  for (let i = 0; i < 2; i++) {
    const res = await fetch(mock.chat, chat());
    assert.equal(res.status, 200, `call ${i + 1} goes`);
    await res.text();
    await settled();
  }
  assert.equal((await mock.stats()).requests, 2);
  assert.deepEqual(
    alerts.filter((a) => a.threshold !== null).map((a) => a.threshold),
    [0.5, 0.8, 0.95],
    'each threshold once, in order',
  );
  const a = alerts[0];
  assert.equal(a.budget, 'daily');
  assert.ok(Math.abs(a.spentUsd - 1.4) < 1e-9, `spent ${a.spentUsd}`);
  assert.equal(a.limitUsd, 2);
  assert.ok(a.windowEndsAt > Date.now());
  const refused = await fetch(mock.chat, chat());
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get('x-should-retry'), 'false');
  const body = await refused.json();
  assert.deepEqual([body.error.code, body.error.budget, body.error.unit], ['budget_exhausted', 'daily', 'usd']);
  assert.equal(ratewise.classify({ status: 429, body: JSON.stringify(body) }).kind, 'budget_exhausted');
  assert.equal((await mock.stats()).requests, 2, 'no network call');
});

test('with throwOnError a spent budget throws BudgetExhaustedError, sending nothing', async () => {
  const fetch = ratewise.createFetch({
    throwOnError: true,
    prices,
    budgets: [{ name: 'tiny', limitUsd: 1, window: 60_000 }],
  });
  await (await fetch(mock.chat, chat())).text();
  await settled();
  await assert.rejects(fetch(mock.chat, chat()), (e) => {
    assert.ok(ratewise.isBudgetExhaustedError(e), `${e?.name}: ${e?.message}`);
    assert.ok(e instanceof ratewise.BudgetExhaustedError);
    assert.deepEqual([e.kind, e.code, e.budget], ['budget_exhausted', 'budget_exhausted', 'tiny']);
    assert.ok(e.resetsAtMs > Date.now());
    return true;
  });
  assert.equal((await mock.stats()).requests, 1);
});

test('reservations: twenty concurrent calls cannot all pass a token budget that has room for two', async () => {
  await mock.config({ latencyMs: 30 });
  const fetch = ratewise.createFetch({ budgets: [{ name: 'tokens', limitTokens: 100, window: 'day' }] });
  // Each asks for up to 40 output tokens plus its prompt ("hi": 1 token): 41 held per call.
  const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(mock.chat, chat({ max_tokens: 40 }))));
  const statuses = answers.map((r) => r.status);
  await Promise.all(answers.map((r) => r.text()));
  assert.equal(statuses.filter((s) => s === 200).length, 2, `${statuses}`);
  assert.equal(statuses.filter((s) => s === 429).length, 18);
  assert.equal((await mock.stats()).requests, 2);
});

test('a tagged budget counts only the calls that carry its tag, and the tag is never sent', async () => {
  const sent = [];
  const fetch = ratewise.createFetch({
    fetch: (input, init) => {
      sent.push([...new Headers(init?.headers).keys()]);
      sent.at(-1).budget = init?.budget;
      return globalThis.fetch(input, init);
    },
    budgets: [{ name: 'nightly', limitTokens: 10, window: 'day', tag: 'nightly-batch' }],
  });
  // Untagged calls are not this budget's: they go whatever it holds.
  for (let i = 0; i < 3; i++) await (await fetch(mock.chat, chat())).text();
  const first = await fetch(mock.chat, chat({}, { 'x-ratewise-budget': 'nightly-batch' }));
  assert.equal(first.status, 200);
  await first.text();
  await settled();
  // 9 + 5 = 14 tokens settled: the budget of 10 is spent for tagged calls, by header or init.budget.
  assert.equal((await fetch(mock.chat, chat({}, { 'x-ratewise-budget': 'nightly-batch' }))).status, 429);
  assert.equal((await fetch(mock.chat, { ...chat(), budget: 'nightly-batch' })).status, 429);
  assert.equal((await fetch(mock.chat, chat())).status, 200, 'untagged still goes');
  assert.equal(sent.length, 5);
  assert.ok(
    sent.every((h) => !h.includes('x-ratewise-budget') && h.budget === undefined),
    'no tag leaves the process',
  );
});

test('bad budgets are a TypeError or RangeError naming the field', () => {
  assert.throws(
    () => ratewise.createFetch({ budgets: {} }),
    (e) => e instanceof TypeError && /`budgets`/.test(e.message),
  );
  assert.throws(
    () => ratewise.createFetch({ budgets: [{ name: 'x', limitUsd: -1, window: 'day' }] }),
    (e) => e instanceof RangeError && /budgets\[0\]/.test(e.message) && /limitUsd/.test(e.message),
  );
  assert.throws(
    () => ratewise.createFetch({ budgets: [{ name: 'x', limitUsd: 1, window: 0 }] }),
    (e) => /budgets\[0\]/.test(e.message) && /window/.test(e.message),
  );
  assert.throws(
    () => ratewise.createFetch({ budgets: [{ name: 'x', limitUsd: 1, window: 'day', alertAt: [1.5] }] }),
    (e) => e instanceof RangeError && /alertAt/.test(e.message),
  );
  // Not an array, or an array with a member that is not a number.
  for (const alertAt of [0.5, [0.5, '0.9'], [null]]) {
    assert.throws(
      () => ratewise.createFetch({ budgets: [{ name: 'x', limitUsd: 1, window: 'day', alertAt }] }),
      (e) => e instanceof TypeError && /budgets\[0\]\.alertAt` must be an array of numbers/.test(e.message),
    );
  }
  assert.throws(() => ratewise.createFetch({ budgets: [{ name: 'x', window: 'day' }] }), TypeError);
  assert.throws(
    () =>
      ratewise.createFetch({
        budgets: [
          { name: 'a', limitUsd: 1, window: 'day' },
          { name: 'a', limitUsd: 2, window: 'day' },
        ],
      }),
    TypeError,
  );
});

test('a coordinator that fails: the call goes on with the instance’s own books, reported once', async () => {
  const errors = [];
  const fetch = ratewise.createFetch({
    prices,
    budgets: [{ name: 'fallback', limitUsd: 2, window: 'day' }],
    coordinator: { send: () => Promise.reject(new Error('coordinator down')) },
    onCoordinatorError: (e) => errors.push(e),
  });
  const first = await fetch(mock.chat, chat());
  assert.equal(first.status, 200);
  await first.text();
  await settled();
  // $1.40 spent on the local books: the next call's estimate does not fit in $2.
  const second = await fetch(mock.chat, chat({ max_tokens: 20 }));
  assert.equal(second.status, 429);
  assert.equal((await second.json()).error.code, 'budget_exhausted');
  assert.equal((await mock.stats()).requests, 1);
  assert.equal(errors[0]?.op, 'budget', JSON.stringify(errors));
  assert.equal(errors.filter((e) => e.op === 'budget').length, 1, 'once per incident');
});

test('onExhausted: { route, from }: bulk calls move to the cheap route from the soft threshold on, interactive ones keep the primary until the cap', async () => {
  const fetch = ratewise.createFetch({
    prices: { 'gpt-4o': { input: 100_000, output: 100_000 }, 'gpt-4o-mini': { input: 10_000, output: 10_000 } },
    routes: [{ model: 'gpt-4o-mini' }],
    budgets: [{ name: 'team', limitUsd: 10, window: 'day', onExhausted: { route: 1, from: 0.5 } }],
  });
  const send = async (lane) => {
    const res = await fetch(mock.chat, { ...chat({ model: 'gpt-4o' }), ...(lane && { lane }) });
    await res.text();
    await settled();
    return res.status;
  };
  const byRoute = () => [0, 1].map((r) => fetch.stats().byRoute[r] ?? 0);
  // $1.40 a call on gpt-4o, $0.14 on gpt-4o-mini.
  for (let i = 0; i < 3; i++) assert.equal(await send(), 200);
  assert.equal(await send('bulk'), 200, 'at $4.20 of $10 a bulk call still goes on the primary');
  assert.deepEqual(byRoute(), [4, 0]);
  assert.equal(await send('bulk'), 200, 'at $5.60 a bulk call moves');
  assert.deepEqual(byRoute(), [4, 1]);
  assert.equal(await send(), 200, 'an interactive call keeps the primary');
  assert.deepEqual(byRoute(), [5, 1]);
  // $7.14 spent: interactive calls go on the primary until the cap ...
  for (let i = 0; i < 2; i++) assert.equal(await send(), 200);
  assert.deepEqual(byRoute(), [7, 1]);
  // ... at $9.94 the next is refused, and a bulk call (on the same account's books) too.
  assert.equal(await send(), 429);
  assert.equal(await send('bulk'), 429);
  assert.equal((await mock.stats()).requests, 8);
});

test('onExhausted.route must name one of the routes', () => {
  const budgets = [{ name: 'x', limitUsd: 1, window: 'day', onExhausted: { route: 2 } }];
  assert.throws(() => ratewise.createFetch({ routes: [{ model: 'gpt-4o-mini' }], budgets }), {
    name: 'RangeError',
    message: /budgets\[0\]\.onExhausted\.route/,
  });
});

test('stats().usage.byBudget: each scope’s books, by a short hash, never the credential', async () => {
  const fetch = ratewise.createFetch({ prices, budgets: [{ name: 'daily', limitUsd: 10, window: 'day' }] });
  for (let i = 0; i < 2; i++) {
    const res = await fetch(mock.chat, chat());
    await res.text();
    await settled();
  }
  const [entry, ...rest] = fetch.stats().usage.byBudget;
  assert.deepEqual(rest, []);
  assert.deepEqual(
    [entry.budget, entry.unit, entry.reserved, entry.limit, entry.shared],
    ['daily', 'usd', 0, 10, false],
  );
  assert.ok(Math.abs(entry.spent - 2.8) < 1e-9 && Math.abs(entry.fraction - 0.28) < 1e-9, JSON.stringify(entry));
  assert.match(entry.scope, /^[0-9a-f]{8}$/);
  assert.ok(entry.windowEndsAt > Date.now());
  assert.ok(!JSON.stringify(fetch.stats()).includes('sk-'), 'no credential');
});

test('a coordinator’s books: the alerts its settles answer go to onBudget, a settle that fails to onCoordinatorError once per incident', async () => {
  const alerts = [];
  const errors = [];
  let failing = false;
  const alert = { budget: 'shared', unit: 'usd', threshold: 0.5, fraction: 0.7, spentUsd: 1.4, limitUsd: 2 };
  const send = (_key, message) => {
    if (message.action === 'reserve') {
      return { reservation: [Date.now(), message.amount], fraction: 0.1, spent: 0, reserved: message.amount };
    }
    if (failing) return Promise.reject(new Error('settle lost'));
    return message.action === 'settle' ? { alerts: [alert, { ...alert, threshold: 0.8 }] } : {};
  };
  const fetch = ratewise.createFetch({
    prices,
    budgets: [{ name: 'shared', limitUsd: 2, window: 'day' }],
    coordinator: { send },
    onBudget: (a) => alerts.push(a),
    onCoordinatorError: (e) => errors.push(e),
  });
  const call = async () => {
    const res = await fetch(mock.chat, chat());
    assert.equal(res.status, 200);
    await res.text();
    await new Promise((resolve) => setTimeout(resolve, 20)); // the settle reaches the coordinator
  };
  await call();
  // Each alert the coordinator answered, as it answered it, in order.
  assert.deepEqual(alerts, [alert, { ...alert, threshold: 0.8 }]);
  assert.deepEqual(errors, []);
  failing = true;
  await call();
  await call();
  assert.deepEqual(errors, [{ op: 'budget', message: 'settle lost' }], 'once per incident');
  assert.equal(alerts.length, 2);
});
