// workerd tier: the coordinator and the invocation budget in the real
// workerd (tests/js/workerd/coordinated.mjs, one service): a coordinator
// that fails or is late is reported and calls go on with local state; an
// invocation with a budget of 5 makes at most 5 fetches whatever its
// retries and routes. (Two isolates sharing one coordinator:
// example-worker.test.mjs.)
import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';
import { CROSS_REQUEST_WARNINGS, startWorkers } from './workerd-harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const server = await startMock();
const mock = mockClient(server.url);
const KEY = 'sk-proj-COORDINATEDSECRET0123456789';
const ns = (className) => ({ className, service: 'main' });
const worker = await startWorkers({
  name: 'coordinated',
  workers: [
    {
      name: 'main',
      entry: join(here, 'workerd', 'coordinated.mjs'),
      bindings: { BASE_URL: server.url, KEY },
      durableObjects: ['RatewiseCoordinator', 'BrokenCoordinator', 'SlowCoordinator'],
      namespaces: { REAL: ns('RatewiseCoordinator'), BROKEN: ns('BrokenCoordinator'), SLOW: ns('SlowCoordinator') },
    },
  ],
});
test.after(async () => {
  await worker.stop();
  await server.close();
});
test.beforeEach(() => mock.reset());

const call = (query) => fetch(`${worker.urls.main}/?${query}`).then((r) => r.json());

test('a coordinator that fails is reported, and the call goes on with local state', async () => {
  const r = await call('coordinator=broken&tenant=1');
  assert.equal(r.status, 200);
  assert.ok(r.errors.length >= 1, JSON.stringify(r));
  assert.match(r.errors[0].message, /the coordinator answered HTTP 500/);
  assert.equal((await mock.stats()).requests, 1);
  assert.ok(!JSON.stringify(r).includes(KEY));
});

test('a coordinator that does not answer in time costs one timeout, then local state', async () => {
  const r = await call('coordinator=slow&tenant=2');
  assert.equal(r.status, 200);
  assert.deepEqual(
    r.errors.map((e) => e.op),
    ['lookup'],
    'one timeout: no lease request after the failed lookup',
  );
  assert.match(r.errors[0].message, /no answer within 1000 ms/);
  assert.ok(r.ms >= 990 && r.ms < 2_500, `took ${r.ms} ms`);
  // Within the next second the instance does not wait on it again.
  const again = await call('coordinator=slow&tenant=2');
  assert.equal(again.status, 200);
  assert.ok(again.ms < 500, `took ${again.ms} ms`);
  for (const bad of CROSS_REQUEST_WARNINGS) assert.ok(!worker.log().includes(bad), `workerd logged "${bad}"`);
});

test('the real coordinator answers leases: no error, one network call', async () => {
  const r = await call('coordinator=real&tenant=3');
  assert.equal(r.status, 200);
  assert.deepEqual(r.errors, []);
  assert.equal((await mock.stats()).requests, 1);
});

test('an invocation with a budget of 5 makes at most 5 fetches, whatever the retries and routes', async () => {
  await mock.script(Array(20).fill({ name: 'server_error' }));
  const r = await call('coordinator=real&budget=5&tenant=4');
  assert.equal(r.status, 500);
  assert.deepEqual(r.subrequests, { limit: 5, spent: 5 });
  assert.equal((await mock.stats()).requests, 5, 'the mock saw 5 requests');
});
