// Node tier: the published package against its published types. index.d.ts is read with the
// TypeScript compiler API (tests/js/dts.mjs), and the packed `ratewise` is run against the mock API
// on 127.0.0.1: its runtime exports are exactly the values index.d.ts declares; every error class it
// declares is thrown by a real call, with the keys and the `kind` its declaration allows; and every
// `on…` callback index.d.ts declares is called by a real call, with the keys and literal values its
// payload type declares (and nothing undeclared). Grepping the sources missed each of these drifts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ratewise from 'ratewise';
import * as pricesModule from 'ratewise/prices';
import { startMock } from '../mock/server.mjs';
import { declarations, typecheck } from './dts.mjs';
import { mockClient } from './suite.mjs';
import { memoryNamespace } from './memory-namespace.mjs';

const here = (file) => fileURLToPath(new URL(file, import.meta.resolve('ratewise')));
const dts = declarations(here('./index.d.ts'));
// A plain object of the exports, to look names up in.
const exported = { ...ratewise };

const server = await startMock();
const mock = mockClient(server.url);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

const settled = () => new Promise((resolve) => setTimeout(resolve, 5));
const chat = (key = 'sk-contract-0000000000') => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
});
// The mock answers every chat completion with 9 input and 5 output tokens: $1.40 at these prices.
const prices = { 'gpt-4o-mini': { input: 100_000, output: 100_000 } };

/** Asserts that `value` conforms to the declared type `t`. */
function conforms(value, t, what) {
  const problems = dts.conform(value, t, what);
  assert.deepEqual(problems, [], `${what} against ${dts.text(t)}:\n${problems.join('\n')}`);
}

/** A Durable Object namespace of the package's RatewiseCoordinator, in memory, whose `failing` ops reject. */
const namespace = (failing = []) => memoryNamespace(ratewise, { failing });

test('the runtime exports are exactly the values index.d.ts and prices.d.ts declare (no internal makeError)', () => {
  assert.deepEqual(Object.keys(ratewise).sort(), dts.values);
  assert.deepEqual(Object.keys(pricesModule).sort(), declarations(here('./prices.d.ts')).values);
});

const errorClasses = dts.values.filter((n) => n.endsWith('Error') && !n.startsWith('is'));

test('each error class, constructed bare, carries a kind and keys its declaration allows, and its guard knows only it', () => {
  assert.ok(errorClasses.length >= 9, errorClasses.join());
  for (const name of errorClasses) {
    const e = new exported[name]('m');
    assert.ok(e instanceof ratewise.RatewiseError && e instanceof Error, name);
    assert.equal(e.name, name);
    conforms(e, dts.type(name), `new ${name}('m')`);
    if (name !== 'RatewiseError') {
      assert.equal(exported[`is${name}`](e), true, `is${name}`);
      const others = errorClasses.filter((o) => o !== name && o !== 'RatewiseError');
      for (const other of others) assert.equal(exported[`is${other}`](e), false, `is${other}(new ${name})`);
    }
  }
});

test('every error class index.d.ts declares is thrown by a real call, with the keys and kind it declares', async () => {
  const thrown = {};
  const call = async (options, script, key, init = chat(key)) => {
    if (script) await mock.script(script);
    const fetch = ratewise.createFetch({ throwOnError: true, maxRetries: 0, throttle: false, ...options });
    return fetch(mock.chat, init).catch((e) => e);
  };
  const keep = (e) => {
    assert.ok(ratewise.isRatewiseError(e), String(e?.stack ?? e));
    thrown[e.name] = [...(thrown[e.name] ?? []), e];
  };
  keep(await call({}, ['insufficient_quota'], 'sk-contract-quota-00000'));
  keep(await call({}, ['rate_limit']));
  keep(await call({}, ['overloaded']));
  keep(await call({}, ['server_error']));
  keep(await call({}, ['invalid_api_key']));
  keep(await call({}, ['context_length']));
  keep(await call({ fetch: async () => Promise.reject(new TypeError('fetch failed')) }));
  keep(await call({ fetch: async () => Promise.reject(new DOMException('timed out', 'TimeoutError')) }));
  // The queue: one call holds the only slot, the next finds no room.
  const hold = ratewise.createFetch({
    throwOnError: true,
    fetch: () => new Promise(() => {}),
    maxConcurrency: 1,
    maxQueue: 0,
  });
  hold(mock.chat, chat()).catch(() => {});
  keep(await hold(mock.chat, chat()).catch((e) => e));
  // An invocation with one subrequest: the second call sends nothing.
  const one = ratewise.createFetch({ throwOnError: true }).forInvocation({ subrequests: 1 });
  await (await one(mock.chat, chat())).text();
  keep(await one(mock.chat, chat()).catch((e) => e));
  // A $2 budget: the first call spends $1.40, the estimate of the second (20 tokens out) does not fit.
  const budget = ratewise.createFetch({
    throwOnError: true,
    prices,
    budgets: [{ name: 'daily', limitUsd: 2, window: 'day' }],
  });
  await (await budget(mock.chat, chat())).text();
  await settled();
  const big = { ...chat(), body: JSON.stringify({ ...JSON.parse(chat().body), max_tokens: 20 }) };
  keep(await budget(mock.chat, big).catch((e) => e));

  assert.deepEqual(
    Object.keys(thrown).sort(),
    errorClasses.filter((n) => n !== 'RatewiseError').sort(),
    'each declared class is thrown',
  );
  for (const [name, errors] of Object.entries(thrown)) {
    for (const e of errors) {
      conforms(e, dts.type(name), `${name} (kind ${e.kind})`);
      assert.equal(exported[`is${name}`](e), true);
    }
  }
});

test('every on… callback index.d.ts declares is called by a real call, with the payload its type declares', async () => {
  const options = dts.type('RatewiseOptions');
  const declared = dts.callbacks(options).sort();
  const seen = {};
  const record = (name) => (payload) => {
    seen[name] = [...(seen[name] ?? []), payload];
  };
  const hooks = Object.fromEntries(declared.map((name) => [name, record(name)]));

  // A retry, then a success whose usage is read and priced; a budget alerts as it is spent.
  await mock.script(['overloaded']);
  const fetch = ratewise.createFetch({
    ...hooks,
    baseDelayMs: 1,
    prices,
    budgets: [{ name: 'daily', limitUsd: 2, window: 'day' }],
  });
  await (await fetch(mock.chat, chat())).text();
  await settled();

  // A quota failure: onQuotaExhausted, the breaker opens; with no cooldown the next call probes,
  // succeeds and closes it.
  await mock.script(['insufficient_quota']);
  const quota = ratewise.createFetch({ ...hooks, quotaCooldownMs: 0 });
  await (await quota(mock.chat, chat('sk-contract-breaker-000'))).text();
  await (await quota(mock.chat, chat('sk-contract-breaker-000'))).text();

  // A stream whose later event is an error.
  const stream = ratewise.createFetch({
    ...hooks,
    peekStream: true,
    fetch: async () =>
      new Response(
        'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\nevent: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
        { status: 200, headers: { 'content-type': 'text/event-stream' } },
      ),
  });
  await (await stream('https://api.openai.com/v1/chat/completions', { method: 'POST', body: '{}' })).text();

  // A coordinator failing each op in turn (each its own instance: a failure is reported once per incident).
  for (const op of ['lookup', 'lease', 'tripped', 'budget']) {
    await mock.reset();
    if (op === 'tripped') await mock.script(['insufficient_quota']);
    const coordinated = ratewise.createFetch({
      onCoordinatorError: record('onCoordinatorError'),
      coordinator: namespace([op]),
      ...(op === 'budget' && { prices, budgets: [{ name: 'shared', limitUsd: 100, window: 'day' }] }),
    });
    await (await coordinated(mock.chat, chat(`sk-contract-${op}-0000`))).text();
    await settled();
  }

  assert.deepEqual(Object.keys(seen).sort(), declared, 'each declared callback is called');
  for (const name of declared) {
    const t = dts.payload(options, name);
    for (const [i, payload] of seen[name].entries()) conforms(payload, t, `${name}'s payload #${i + 1}`);
  }
  // Every op onCoordinatorError may report was reported, and each is one the type declares.
  const op = dts.literals(dts.property(dts.payload(options, 'onCoordinatorError'), 'op'));
  assert.deepEqual([...new Set(seen.onCoordinatorError.map((e) => e.op))].sort(), [...op].sort());
  // What the instance reports about itself, too.
  const instance = dts.returns(dts.type('createFetch'));
  conforms(quota.stats(), dts.returns(dts.property(instance, 'stats')), 'stats()');
  conforms(quota.breaker(), dts.returns(dts.property(instance, 'breaker')), 'breaker()');
  conforms(fetch.health(), dts.returns(dts.property(instance, 'health')), 'health()');
});

test('the functions ratewise calls with arguments (a cache store and key, waitUntil, a Coordinator) get what index.d.ts declares', async () => {
  const calls = [];
  const spy =
    (where, declared, impl) =>
    (...args) => {
      calls.push({ where, declared, args });
      return impl(...args);
    };
  const cache = dts.type('CacheOptions');
  const storeType = dts.property(cache, 'store');
  const entries = new Map();
  const store = {
    get: spy('cache.store.get', dts.property(storeType, 'get'), (k) => entries.get(k)?.clone()),
    put: spy('cache.store.put', dts.property(storeType, 'put'), (k, response) => void entries.set(k, response)),
  };
  const key = spy('cache.key', dts.property(cache, 'key'), () => 'contract');
  const send = spy('coordinator.send', dts.property(dts.type('Coordinator'), 'send'), async () => null);
  const waitUntil = spy('waitUntil', dts.property(dts.type('InvocationOptions'), 'waitUntil'), () => {});
  const fetch = ratewise.createFetch({
    cache: { ttlMs: 60_000, store, key },
    coordinator: { send },
    onCoordinatorError: () => {},
  });
  // A success is stored (through the invocation's waitUntil); then the quota is out and the cache answers.
  await (await fetch.forInvocation({ waitUntil })(mock.chat, chat())).text();
  await settled();
  await mock.script(['insufficient_quota']);
  const cached = await fetch(mock.chat, chat());
  await cached.text();
  assert.deepEqual([...new Set(calls.map((c) => c.where))].sort(), [
    'cache.key',
    'cache.store.get',
    'cache.store.put',
    'coordinator.send',
    'waitUntil',
  ]);
  for (const { where, declared, args } of calls) {
    const params = dts.parameters(declared);
    assert.ok(args.length <= params.length, `${where}: ${args.length} arguments, ${params.length} declared`);
    for (const [i, arg] of args.entries()) conforms(arg, params[i], `${where}'s argument ${i + 1}`);
  }
});

test("BudgetExhaustedError: code and kind are 'budget_exhausted', it names the budget, and its guard works across realms", () => {
  const e = new ratewise.BudgetExhaustedError('spent', { budget: 'nightly', resetsAtMs: 1_796_688_000_000 });
  assert.ok(e instanceof ratewise.RatewiseError);
  assert.deepEqual(
    [e.name, e.code, e.kind, e.budget, e.resetsAtMs],
    ['BudgetExhaustedError', 'budget_exhausted', 'budget_exhausted', 'nightly', 1_796_688_000_000],
  );
  assert.deepEqual(
    [new ratewise.BudgetExhaustedError('m').budget, new ratewise.BudgetExhaustedError('m').kind],
    [null, 'budget_exhausted'],
  );
  // A look-alike from another realm or package copy, which instanceof cannot see.
  const foreign = { [Symbol.for('ratewise.error')]: true, code: 'budget_exhausted' };
  assert.equal(ratewise.isBudgetExhaustedError(foreign), true);
  assert.equal(ratewise.isBudgetExhaustedError({ code: 'budget_exhausted' }), false);
  assert.equal(ratewise.isQuotaExhaustedError(e), false);
  assert.equal(ratewise.isBudgetExhaustedError(new ratewise.QuotaExhaustedError('m', {})), false);
});

test("the README's table of what classify() returns lists every kind index.d.ts declares, and no other", () => {
  const readme = readFileSync(here('./README.md'), 'utf8');
  const row = /^\| `kind` \| (.*) \|$/m.exec(readme)?.[1] ?? '';
  const listed = [...row.matchAll(/`(\w+)`/g)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), [...dts.literals(dts.type('Kind'))].sort());
});

// Last: compiling the examples blocks the event loop for seconds, and a keep-alive connection to the
// mock that outlives it can be closed under the next request.
test("the README's examples that import ratewise type-check against its index.d.ts (as a TypeScript user's would)", () => {
  const readme = readFileSync(here('./README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .filter((code) => /from 'ratewise'/.test(code));
  assert.ok(blocks.length >= 10, `${blocks.length} examples`);
  // Where `ratewise` and the SDKs resolve from, as in an app. The examples' own free names (the
  // environment, a function of the reader's) are declared, nothing more.
  const at = (name) => fileURLToPath(new URL(name, import.meta.url));
  const files = new Map(blocks.map((code, i) => [at(`readme-example-${i + 1}.mjs`), code]));
  files.set(
    at('readme-globals.d.ts'),
    'declare const process: { env: Record<string, string> };\ndeclare function alertSomeone(...args: unknown[]): void;\n',
  );
  // A module an example imports that is not installed here is not the example's fault.
  const problems = typecheck(files).filter((d) => !/TS(2307|7016):/.test(d));
  assert.deepEqual(problems, []);
});
