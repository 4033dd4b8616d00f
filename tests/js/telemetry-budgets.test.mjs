// Budgets in telemetry and in health() (issues 24 and 21), with the REAL OpenTelemetry SDK against the
// mock API: the call span names the budgets that applied, a call a spent budget stopped carries the
// budget and its stop (and sent nothing), `ratewise.budget.spent` counts what each budget settled in its
// unit, and health().budgets shows every scope's books.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createFetch } from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { sdk } from './otel-sdk.mjs';
import { mockClient } from './suite.mjs';

const server = await startMock();
const mock = mockClient(server.url);
const CHAT = `${server.url}/v1/chat/completions`;
test.after(() => server.close());
test.beforeEach(() => mock.reset());

const settled = () => new Promise((resolve) => setTimeout(resolve, 0));
/** A call read whole (its span has ended when this resolves). */
async function ask(fetch, tag) {
  const res = await fetch(CHAT, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: 'Bearer sk-test-budget-telemetry',
      ...(tag ? { 'x-ratewise-budget': tag } : {}),
    },
    body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.text();
  await settled();
  return res;
}

test('a tagged budget: its name on the span, its spend counted, then the stop; the other budget untouched', async () => {
  const o = sdk();
  const fetch = createFetch({
    telemetry: o.telemetry,
    prices: { 'gpt-4o-mini': { input: 1, output: 2 } },
    budgets: [
      { name: 'batch', limitTokens: 40, window: 'day', tag: 'nightly' },
      { name: 'everyone', limitUsd: 100, window: 'month' },
    ],
  });
  // The mock's JSON answer: 9 input and 5 output tokens, $19e-6 at these prices.
  assert.equal((await ask(fetch, 'nightly')).status, 200);
  const [first] = o.calls();
  assert.deepEqual(first.attributes['ratewise.budget.name'], ['batch', 'everyone']);
  assert.equal(first.attributes['ratewise.budget.exhausted'], undefined);
  assert.equal(first.attributes['ratewise.stop'], 'success');
  const spent = await o.points('ratewise.budget.spent');
  assert.equal(spent.length, 2);
  assert.deepEqual(spent[0], [{ 'ratewise.budget.name': 'batch', 'ratewise.budget.unit': 'tokens' }, 14]);
  assert.deepEqual(spent[1][0], { 'ratewise.budget.name': 'everyone', 'ratewise.budget.unit': 'usd' });
  assert.ok(Math.abs(spent[1][1] - 19e-6) < 1e-12, `${spent[1][1]}`);

  // Interactive traffic, untagged: only the per-key budget applies.
  o.reset();
  assert.equal((await ask(fetch)).status, 200);
  assert.deepEqual(o.calls()[0].attributes['ratewise.budget.name'], ['everyone']);

  // The batch runs on until its cap stops it: no network call, its own stop and error.type.
  let stopped;
  for (let i = 0; i < 5 && !stopped; i += 1) {
    o.reset();
    const res = await ask(fetch, 'nightly');
    if (res.status === 429) stopped = o.spans();
  }
  assert.ok(stopped, 'the batch budget stopped a call');
  assert.equal(stopped.length, 1, 'a call span and no HTTP span: nothing was sent');
  const [call] = stopped;
  assert.equal(call.attributes['ratewise.budget.exhausted'], 'batch');
  assert.equal(call.attributes['ratewise.stop'], 'budget_exhausted');
  assert.equal(call.attributes['error.type'], 'budget_exhausted');
  assert.equal(call.status.code, 2);
  // The interactive call still goes.
  o.reset();
  assert.equal((await ask(fetch)).status, 200);
  assert.equal(o.calls()[0].attributes['ratewise.budget.exhausted'], undefined);
});

test('health().budgets: one entry per scope, the key as an 8-hex hash, spent, reserved, limit, fraction, window end', async () => {
  const fetch = createFetch({
    budgets: [
      { name: 'batch', limitTokens: 1000, window: 'day', tag: 'nightly' },
      { name: 'monthly', limitUsd: 1, window: 'month' },
    ],
    prices: { 'gpt-4o-mini': { input: 1, output: 2 } },
  });
  assert.deepEqual(fetch.health().budgets, [], 'no books before a call');
  await ask(fetch, 'nightly');
  const budgets = fetch.health().budgets;
  const now = new Date();
  const tomorrow = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  assert.equal(budgets.length, 2);
  const [batch, monthly] = budgets;
  assert.match(batch.scope, /^[0-9a-f]{8}$/);
  assert.match(monthly.scope, /^[0-9a-f]{8}$/);
  assert.notEqual(batch.scope, monthly.scope, 'the tag is its own scope');
  assert.deepEqual(batch, {
    name: 'batch',
    scope: batch.scope,
    unit: 'tokens',
    spent: 14,
    reserved: 0,
    limit: 1000,
    fraction: 0.014,
    windowEndsAt: tomorrow,
  });
  assert.equal(monthly.unit, 'usd');
  assert.ok(Math.abs(monthly.spent - 19e-6) < 1e-12);
  assert.equal(monthly.windowEndsAt, nextMonth);
  assert.ok(Math.abs(monthly.fraction - 19e-6) < 1e-12);
  assert.ok(!JSON.stringify(fetch.health()).includes('sk-test'), 'no key, only its hash');
  assert.deepEqual(createFetch().health().budgets, [], 'no budgets: an empty list');
});
