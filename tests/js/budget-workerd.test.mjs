// workerd tier: spend budgets kept by the RatewiseCoordinator Durable Object
// (tests/js/workerd/budget.mjs) in the real workerd, its storage on disk: a
// spend survives a restart of workerd, and two isolates spending on one
// budget at once never pass it, each threshold alerting once between them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CROSS_REQUEST_WARNINGS, startWorkers } from './workerd-harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const storage = mkdtempSync(join(tmpdir(), 'ratewise-budget-do-'));
const entry = join(here, 'workerd', 'budget.mjs');
const COORD = { className: 'RatewiseCoordinator', service: 'a' };
const start = () =>
  startWorkers({
    name: 'budget',
    storage,
    workers: [
      { name: 'a', entry, durableObjects: ['RatewiseCoordinator'], namespaces: { COORD } },
      { name: 'b', entry, namespaces: { COORD } },
    ],
  });
let workers = await start();
test.after(async () => {
  await workers.stop();
  rmSync(storage, { recursive: true, force: true });
});

const get = async (isolate, path, query) => {
  const res = await fetch(`${workers.urls[isolate]}${path}?${new URLSearchParams(query)}`);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
};
const op = (isolate, message, budget) =>
  get(isolate, '/op', { message: JSON.stringify(message), ...(budget && { budget: JSON.stringify(budget) }) });

test('a spend kept in the Durable Object survives a restart of workerd, alerts fired included', async () => {
  const budget = { name: 'restart', limitUsd: 1, window: 'month' };
  const held = await op('a', { action: 'reserve', amount: 0.5 }, budget);
  assert.ok(Array.isArray(held.reservation), JSON.stringify(held));
  const settled = await op('a', { action: 'settle', reservation: held.reservation, actual: 0.6 }, budget);
  assert.deepEqual(
    settled.alerts.map((a) => [a.budget, a.threshold, a.spentUsd]),
    [['restart', 0.5, 0.6]],
  );
  // One more call in flight when the runtime goes down.
  const inFlight = await op('b', { action: 'reserve', amount: 0.2 }, budget);
  assert.ok(inFlight.reservation, JSON.stringify(inFlight));

  await workers.stop();
  workers = await start();

  const status = await op('b', { action: 'status' }, budget);
  assert.deepEqual([status.spent, status.reserved, status.limit], [0.6, 0.2, 1]);
  // 0.6 spent and 0.2 held: 0.3 does not fit, and the 0.5 alert does not fire again.
  assert.ok((await op('a', { action: 'reserve', amount: 0.3 }, budget)).exhausted);
  const late = await op('a', { action: 'settle', reservation: inFlight.reservation, actual: 0.15 }, budget);
  assert.deepEqual(late.alerts, []);
  assert.equal((await op('a', { action: 'status' }, budget)).spent, 0.75);
});

test('two isolates spending on one budget at once never pass it, and each threshold alerts once', async () => {
  // $1, calls of $0.1 settling at their estimate: exactly 10 go, across both isolates.
  const [a, b] = await Promise.all([
    get('a', '/spend', { n: 15, estimate: 0.1, actual: 0.1 }),
    get('b', '/spend', { n: 15, estimate: 0.1, actual: 0.1 }),
  ]);
  assert.equal(a.passed + b.passed, 10, JSON.stringify({ a: a.passed, b: b.passed }));
  const status = await op('a', { action: 'status' });
  assert.ok(status.spent <= 1 + 1e-9 && status.spent > 0.99, `spent ${status.spent}`);
  assert.equal(status.reserved, 0);
  const thresholds = [...a.alerts, ...b.alerts].filter((x) => x.threshold !== null).map((x) => x.threshold);
  assert.deepEqual(thresholds.sort(), [0.5, 0.8, 0.95]);
  // Spent: neither isolate gets another call through.
  const [more] = await Promise.all([get('b', '/spend', { n: 3, estimate: 0.01, actual: 0.01 })]);
  assert.equal(more.passed, 0);
  for (const bad of CROSS_REQUEST_WARNINGS) assert.ok(!workers.log().includes(bad), `workerd logged "${bad}"`);
});

test('a bad message is a 400 naming the field, and the books are untouched', async () => {
  const budget = { name: 'bad', limitUsd: -1, window: 'day' };
  const res = await fetch(
    `${workers.urls.a}/op?${new URLSearchParams({ message: JSON.stringify({ action: 'status' }), budget: JSON.stringify(budget) })}`,
  );
  assert.equal(res.status, 500);
  assert.match(
    (await res.json()).error,
    /HTTP 400: ratewise coordinator: `budget.limitUsd` must be a finite number >= 0, got -1/,
  );
});
