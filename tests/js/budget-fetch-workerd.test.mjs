// workerd tier: a spend budget in createFetch kept by the RatewiseCoordinator
// Durable Object (tests/js/workerd/budget-fetch.mjs), in the real workerd
// against the mock API, its storage on disk: two isolates on one budget
// spend no more than it between them, each threshold alerts once between
// them, and after a restart of workerd the spend is still there. Services
// with no coordinator bound show what each isolate alone would let through.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';
import { CROSS_REQUEST_WARNINGS, startWorkers } from './workerd-harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const storage = mkdtempSync(join(tmpdir(), 'ratewise-budget-fetch-'));
const entry = join(here, 'workerd', 'budget-fetch.mjs');
const server = await startMock();
const mock = mockClient(server.url);
const COORD = { className: 'RatewiseCoordinator', service: 'a' };
const bindings = { API: server.url };
const start = () =>
  startWorkers({
    name: 'budget-fetch',
    storage,
    workers: [
      { name: 'a', entry, bindings, durableObjects: ['RatewiseCoordinator'], namespaces: { COORD } },
      { name: 'b', entry, bindings, namespaces: { COORD } },
      { name: 'c', entry, bindings },
      { name: 'd', entry, bindings },
    ],
  });
let workers = await start();
test.after(async () => {
  await workers.stop();
  await server.close();
  rmSync(storage, { recursive: true, force: true });
});

const spend = async (isolate, n) => {
  const res = await fetch(`${workers.urls[isolate]}/spend?n=${n}`);
  assert.equal(res.status, 200);
  return res.json();
};
const passed = (...runs) => runs.flatMap((r) => r.statuses).filter((s) => s === 200).length;

test('two isolates on one $7 budget through the coordinator spend at most $7 between them; alone, each spends its own', async () => {
  // Each call reserves about $2.10 and costs $1.40: at most 5 fit in $7.
  await mock.reset();
  const [c, d] = await Promise.all([spend('c', 6), spend('d', 6)]);
  const alone = passed(c, d);
  await mock.reset();
  const [a, b] = await Promise.all([spend('a', 6), spend('b', 6)]);
  const together = passed(a, b);
  const requests = (await mock.stats()).requests;
  console.log(`# two isolates, $7 budget: ${together} calls went with the coordinator, ${alone} without`);
  assert.ok(alone >= 6, `without a coordinator each isolate spends its own $7: ${alone} calls`);
  assert.ok(together >= 3 && together <= 5, `with it, $7 between them: ${together} calls`);
  assert.equal(requests, together, 'a refused call sends nothing');
  for (const s of [...a.statuses, ...b.statuses]) assert.ok(s === 200 || s === '429 budget_exhausted', s);
  // Each threshold crossed alerts once between the two isolates.
  const thresholds = [...a.alerts, ...b.alerts].filter((x) => x.threshold !== null).map((x) => x.threshold);
  assert.ok(thresholds.includes(0.5), JSON.stringify(thresholds));
  assert.equal(new Set(thresholds).size, thresholds.length, `alerted twice: ${JSON.stringify(thresholds)}`);
  assert.deepEqual([...a.errors, ...b.errors], []);
  for (const bad of CROSS_REQUEST_WARNINGS) assert.ok(!workers.log().includes(bad), `workerd logged "${bad}"`);
});

test('after a restart of workerd the Durable Object still knows what was spent', async () => {
  // Spend what is left first, one call at a time.
  let last;
  for (let i = 0; i < 5 && last !== '429 budget_exhausted'; i++) [last] = (await spend('a', 1)).statuses;
  assert.equal(last, '429 budget_exhausted');
  await workers.stop();
  workers = await start();
  await mock.reset();
  const after = await spend('b', 1);
  assert.deepEqual(after.statuses, ['429 budget_exhausted'], 'the spend outlived the restart');
  assert.equal((await mock.stats()).requests, 0);
  // A fresh isolate with no coordinator has its own, empty books.
  assert.deepEqual((await spend('c', 1)).statuses, [200]);
});

test("the README's Workers budget recipe: two isolates share one budget through the Durable Object", async () => {
  const readme = readFileSync(join(here, '..', '..', 'README.md'), 'utf8');
  const [, code] = readme.match(/<!-- readme-test: workerd budgets -->\s*```js\n([\s\S]*?)```/) ?? [];
  assert.ok(code, 'the README has the recipe');
  // The same recipe with a budget a few mock answers spend: each costs $0.00000435 (9 tokens in, 5 out)
  // and reserves about $0.0000032 (5 out): two fit in $0.00001.
  assert.ok(code.includes('limitUsd: 50,'));
  const file = join(here, '..', '..', '.cache', 'readme-budget-worker.mjs');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, code.replace('limitUsd: 50,', 'limitUsd: 0.00001,'));
  const RATEWISE = { className: 'RatewiseCoordinator', service: 'a' };
  const env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'sk-proj-READMEBUDGET0123456789' };
  const recipe = await startWorkers({
    name: 'readme-budget',
    workers: [
      { name: 'a', entry: file, bindings: env, durableObjects: ['RatewiseCoordinator'], namespaces: { RATEWISE } },
      { name: 'b', entry: file, bindings: env, namespaces: { RATEWISE } },
    ],
  });
  try {
    await mock.reset();
    const statuses = [];
    for (const isolate of ['a', 'b', 'a', 'b']) {
      const res = await fetch(recipe.urls[isolate], {
        method: 'POST',
        body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      });
      statuses.push(res.status);
      await res.text();
      await new Promise((r) => setTimeout(r, 100)); // the settle reaches the object
    }
    // Alone, each isolate would let two through.
    assert.deepEqual(statuses, [200, 200, 503, 503]);
    assert.equal((await mock.stats()).requests, 2);
    // The second answer crosses 0.5 and 0.8 at once: each alerts once, in the isolate that settled it.
    assert.equal(recipe.log().match(/alert: monthly is 87% spent/g)?.length, 2, recipe.log());
  } finally {
    await recipe.stop();
  }
});
