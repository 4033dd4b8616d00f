// Node tier: option decoding as a fuzz target. createFetch(options) and fetch.forInvocation(options)
// get random option objects: known option names and junk keys; numbers (NaN, ±Infinity, -1, 1e309,
// fractions, huge), strings, booleans, null, BigInt, symbols, objects, arrays, functions, fake and real
// signals, getters that throw, Proxies (whose traps answer, throw or were revoked) and nested
// retryBudget, routes and coordinator values built the same way. Each call must return a fetch
// function or throw a TypeError/RangeError whose message names a field: never another error, never a
// wasm trap (RuntimeError), and the module must still work afterwards.
//
//   node --test tests/js/fuzz-options.test.mjs                       # 5,000 option objects
//   RATEWISE_FUZZ_OPTIONS=1000000 node --test tests/js/fuzz-options.test.mjs
//   RATEWISE_FUZZ_SEED=7 ...                                         # another sequence (default 1)
import test from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import * as ratewise from 'ratewise';

const COUNT = Number(process.env.RATEWISE_FUZZ_OPTIONS ?? 5_000);
const SEED = Number(process.env.RATEWISE_FUZZ_SEED ?? 1);

/**
 * The names an options object takes, as the package itself lists them: an unknown key's TypeError says
 * "unknown option `x` (known: a, b, ...)". Read from the package, not copied here, so every option it
 * grows is fuzzed too. `valid`: the keys the object needs before its other keys are read. [] when
 * `make` does not throw that error (it takes no object of options).
 */
function knownKeys(make, valid = {}) {
  try {
    make({ ...valid, zz_fuzz_probe: 1 });
  } catch (e) {
    const list = /unknown option `[^`]*zz_fuzz_probe` \(known: ([^)]*)\)/.exec(e?.message ?? '')?.[1];
    if (list) return list.split(', ');
  }
  return [];
}
const KNOWN = knownKeys((o) => ratewise.createFetch(o));
const ROUTE_KEYS = knownKeys((o) => ratewise.createFetch({ routes: [o] }));
const INVOCATION_KEYS = knownKeys((o) => ratewise.createFetch().forInvocation(o));
/** The keys of each option that takes an object of its own (retryBudget, throttle, lanes, budgets...). */
const NESTED = new Map(
  KNOWN.map((k) => [k, knownKeys((o) => ratewise.createFetch({ [k]: o }))]).filter(([, keys]) => keys.length > 0),
);
NESTED.set(
  'budgets',
  knownKeys((o) => ratewise.createFetch({ budgets: [o] }), { name: 'b', limitUsd: 1 }),
);
const BUDGET_KEYS = NESTED.get('retryBudget') ?? [];
const JUNK_KEYS = ['', 'maxretries', 'max_retries', 'constructor', 'toString', '0', 'a.b', 'x`y', 'é', 'x'.repeat(300)];

/** mulberry32: a small seeded PRNG, so a failure can be replayed from its seed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const int = (n) => Math.floor(random() * n);
const pick = (xs) => xs[int(xs.length)];
const chance = (p) => random() < p;

/** Thrown by the fuzz's own getters and traps. */
class Planted extends Error {}
const planted = () => new Planted('planted by the fuzz');

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  2,
  8,
  1000,
  1001,
  NaN,
  Infinity,
  -Infinity,
  Number.parseFloat('1e309'), // Infinity, as JSON.parse reads it
  1e9,
  1e9 + 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  2147483647,
  2147483648,
  65536,
  65537,
  300_000,
];
const STRINGS = [
  '',
  'full',
  'equal',
  'decorrelated',
  'none',
  'FULL',
  'https://backup.example/v1',
  'http://127.0.0.1:1',
  'https://',
  'http://',
  'https:///v1',
  'ftp://x',
  'sk-fuzz',
  '5',
  'NaN',
  '\u0000',
  '\ud800',
  'x'.repeat(10_000),
];

function number() {
  return chance(0.7) ? pick(NUMBERS) : (random() - 0.3) * 10 ** int(12);
}

/** A value of any kind; `depth` bounds nesting. */
function value(depth, keys = KNOWN) {
  const kinds = [
    () => undefined,
    () => null,
    number,
    () => pick(STRINGS),
    () => chance(0.5),
    () => BigInt(int(10)),
    () => Symbol('fuzz'),
    () => () => {},
    () => async () => new Response('ok'),
    () => class {},
    () => [],
    () => new Date(0),
    () => /x/,
    () => new Map(),
    () => new Number(5),
    () => new Uint8Array(2),
    () => Promise.resolve(),
    () => new Error('an error as a value'),
    () => new AbortController().signal,
    () => AbortSignal.abort(),
    () => fakeSignal(),
    () => revoked(),
    () => ({ idFromName() {}, get() {} }),
  ];
  if (depth > 0) {
    kinds.push(
      () => options(depth - 1, keys),
      () => options(depth - 1, pick([ROUTE_KEYS, INVOCATION_KEYS, KNOWN, ...NESTED.values()])),
      () => Array.from({ length: int(4) }, () => value(depth - 1, ROUTE_KEYS)),
      () => Array.from({ length: int(3) }, () => options(depth - 1, ROUTE_KEYS)),
      () => proxy(options(depth - 1, keys)),
      () => proxy(Array.from({ length: int(3) }, () => options(depth - 1, ROUTE_KEYS))),
    );
  }
  return pick(kinds)();
}

/** An object shaped like an AbortSignal, whose parts may throw. */
function fakeSignal() {
  const s = {};
  const aborted = pick([false, true, 'no', undefined]);
  if (chance(0.3)) {
    Object.defineProperty(s, 'aborted', {
      enumerable: true,
      get() {
        throw planted();
      },
    });
  } else s.aborted = aborted;
  s.addEventListener = pick([
    () => {},
    () => {
      throw planted();
    },
    'not a function',
  ]);
  s.removeEventListener = () => {};
  return s;
}

/** A Proxy that has been revoked: any operation on it throws a TypeError. */
function revoked() {
  const { proxy: p, revoke } = Proxy.revocable(pick([{}, [], () => {}]), {});
  revoke();
  return p;
}

/** A Proxy over `target` whose traps pass through, throw, or lie about the keys. */
function proxy(target) {
  const handler = {};
  for (const trap of ['get', 'ownKeys', 'getOwnPropertyDescriptor', 'has', 'getPrototypeOf']) {
    if (!chance(0.3)) continue;
    handler[trap] = pick([
      () => {
        throw planted();
      },
      (...args) => Reflect[trap](...args),
    ]);
  }
  return new Proxy(target, handler);
}

const BOOLEANS = ['throwOnError', 'throttle', 'peekStream'];
const FUNCTIONS = ['onQuotaExhausted', 'onRetry', 'onEvent', 'fetch', 'onCoordinatorError', 'onStreamError'];

/** Usually a value of the type `key` wants (so decoding gets past it), sometimes anything. */
function valueFor(key, depth, keys) {
  if (chance(0.4)) return value(depth, keys);
  if (key === 'jitter') return pick(STRINGS.slice(0, 6));
  if (key === 'baseURL' || key === 'apiKey' || key === 'model') return pick(STRINGS);
  if (key === 'signal') return pick([new AbortController().signal, fakeSignal(), undefined]);
  if (key === 'retryBudget') return chance(0.3) ? chance(0.5) : options(depth - 1, BUDGET_KEYS);
  if (key === 'routes') return Array.from({ length: int(3) }, () => options(depth - 1, ROUTE_KEYS));
  if (key === 'coordinator') return pick([{ idFromName() {}, get() {} }, { idFromName: 1 }, undefined]);
  if (key === 'budgets' && chance(0.6))
    return Array.from({ length: int(3) }, () => options(depth - 1, NESTED.get(key)));
  if (NESTED.has(key) && chance(0.6)) return options(depth - 1, NESTED.get(key));
  if (BOOLEANS.includes(key)) return chance(0.5);
  if (FUNCTIONS.includes(key)) return () => {};
  return number();
}

/** An options object with keys from `keys` and junk, plain or not, values of any kind. */
function options(depth, keys = KNOWN) {
  const o = pick([() => ({}), () => Object.create(null), () => new (class Options {})()])();
  for (let i = int(6); i > 0; i--) {
    const key = chance(0.85) ? pick(keys) : pick(JUNK_KEYS);
    if (chance(0.1)) {
      Object.defineProperty(o, key, {
        enumerable: chance(0.8),
        configurable: true,
        get: pick([
          () => {
            throw planted();
          },
          () => value(0),
        ]),
      });
    } else {
      Object.defineProperty(o, key, {
        value: valueFor(key, Math.max(depth, 1), keys),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  if (chance(0.03)) o[Symbol('fuzz')] = 1;
  if (chance(0.03)) Object.freeze(o);
  return o;
}

/** Top-level options: usually an object, sometimes anything at all. */
function topLevel(keys) {
  return chance(0.9) ? pick([() => options(2, keys), () => proxy(options(2, keys))])() : value(1, keys);
}

const FIELD =
  /^(createFetch|forInvocation): (unknown option `|`[^`]+`|the keys of (options|`[^`]+`)|(options|retryBudget|routes\[\d+\]) must be an object)/;

/** Whether `e` is an error the contract allows: a TypeError/RangeError naming a field. */
function allowed(e, caller) {
  if (!(e instanceof TypeError || e instanceof RangeError)) return false;
  // What a getter or trap threw is kept as the cause.
  if (e.message.includes('could not be read') && !(e.cause instanceof Planted || e.cause instanceof TypeError)) {
    return false;
  }
  if (!FIELD.test(e.message) || !e.message.startsWith(`${caller}: `)) return false;
  const name = /`([^`]+)`/.exec(e.message)?.[1];
  if (name === undefined || e.message.includes('unknown option')) return true;
  const root = name.split(/[.[]/)[0];
  return [...KNOWN, ...INVOCATION_KEYS].includes(root);
}

const describe = (e) => `${e?.constructor?.name}: ${e?.message}`;
const show = (input) => {
  try {
    return inspect(input, { depth: 3, breakLength: Infinity }).slice(0, 400);
  } catch {
    return typeof input;
  }
};

test('the option names are read from the package: every top-level, route, invocation and nested list', () => {
  // The names this test was first written with must all still be there (a failed read gives []).
  for (const k of ['maxRetries', 'jitter', 'signal', 'fetch', 'throttle', 'retryBudget', 'routes', 'coordinator']) {
    assert.ok(KNOWN.includes(k), `${k} in ${KNOWN}`);
  }
  assert.deepEqual([...ROUTE_KEYS.slice(0, 3)], ['apiKey', 'baseURL', 'model']);
  assert.ok(INVOCATION_KEYS.includes('subrequests') && INVOCATION_KEYS.includes('coordinator'), `${INVOCATION_KEYS}`);
  assert.deepEqual(BUDGET_KEYS, ['capacity', 'retryCost', 'refund']);
  assert.ok(NESTED.size >= 5 && NESTED.get('budgets').includes('limitUsd'), `objects of options: ${[...NESTED]}`);
});

test(`createFetch and forInvocation decode ${COUNT.toLocaleString('en')} random option objects: a fetch function or a TypeError/RangeError naming a field (seed ${SEED})`, (t) => {
  const started = performance.now();
  const outcomes = { fetch: 0, typeError: 0, rangeError: 0, forInvocation: 0 };
  const bad = [];
  const check = (caller, e, input) => {
    if (e instanceof TypeError) outcomes.typeError++;
    else if (e instanceof RangeError) outcomes.rangeError++;
    if (!allowed(e, caller) && bad.length < 10) bad.push(`${describe(e)}  <- ${caller}(${show(input)})`);
  };
  for (let i = 0; i < COUNT && bad.length < 10; i++) {
    const input = topLevel(KNOWN);
    let fetch;
    try {
      fetch = ratewise.createFetch(input);
    } catch (e) {
      check('createFetch', e, input);
      continue;
    }
    if (typeof fetch !== 'function' || fetch.length !== 2 || typeof fetch.stats !== 'function') {
      bad.push(`createFetch returned ${typeof fetch}`);
      continue;
    }
    outcomes.fetch++;
    if (!chance(0.2)) continue;
    const invocation = topLevel(INVOCATION_KEYS);
    try {
      const f = fetch.forInvocation(invocation);
      if (typeof f !== 'function') bad.push(`forInvocation returned ${typeof f}`);
      else outcomes.forInvocation++;
    } catch (e) {
      check('forInvocation', e, invocation);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  t.diagnostic(
    `${COUNT.toLocaleString('en')} option objects in ${seconds.toFixed(1)} s: ${outcomes.fetch} fetch functions (${outcomes.forInvocation} forInvocation), ${outcomes.typeError} TypeErrors, ${outcomes.rangeError} RangeErrors`,
  );
  assert.deepEqual(bad, [], `errors outside the contract:\n${bad.join('\n')}`);
  assert.ok(outcomes.fetch > COUNT / 20 && outcomes.typeError > 0 && outcomes.rangeError > 0, 'every outcome occurs');
  // The module still works.
  const c = ratewise.classify({ status: 429, body: { error: { code: 'insufficient_quota' } } });
  assert.equal(c.kind, 'quota_exhausted');
  assert.equal(typeof ratewise.createFetch({ maxRetries: 1, routes: [{ apiKey: 'sk-x' }] }), 'function');
});

test('a polluted Object.prototype is never an option: random values planted under option names leave createFetch({}) and forInvocation({}) as they are', async () => {
  const runs = Math.max(50, Math.floor(COUNT / 50));
  for (let i = 0; i < runs; i++) {
    const names = KNOWN.filter(() => chance(0.3));
    const planted = names.map((k) => [k, value(1)]);
    let fetch;
    let invocation;
    for (const [k, v] of planted)
      Object.defineProperty(Object.prototype, k, { value: v, configurable: true, writable: true });
    try {
      fetch = ratewise.createFetch({});
      invocation = fetch.forInvocation({});
    } finally {
      for (const [k] of planted) delete Object.prototype[k];
    }
    assert.equal(typeof fetch, 'function', `createFetch({}) with ${names.join(', ')} planted`);
    assert.equal(typeof invocation, 'function', `forInvocation({}) with ${names.join(', ')} planted`);
  }
});

/** A Proxy whose every trap throws: a getter-laden or hostile object handed to an option. */
const hostile = (target = {}) =>
  new Proxy(target, {
    get: () => {
      throw planted();
    },
    ownKeys: () => {
      throw planted();
    },
    getOwnPropertyDescriptor: () => {
      throw planted();
    },
  });
const revokedProxy = () => {
  const { proxy: p, revoke } = Proxy.revocable({}, {});
  revoke();
  return p;
};

test('the options other glue or the core read (cache, telemetry, prices, budgets) are read like the rest: a revoked or throwing Proxy, or a stray key, is a TypeError naming the field', () => {
  const budget = { name: 'b', limitUsd: 1, window: 'day' };
  const cases = [
    [{ cache: revokedProxy() }, /^createFetch: the keys of `cache` could not be read/],
    [{ lanes: [] }, /^createFetch: `lanes` must be an object, got array/],
    [{ telemetry: revokedProxy() }, /^createFetch: `telemetry` could not be read/],
    [{ telemetry: { meter: revokedProxy() } }, /^createFetch: `telemetry.meter` could not be read/],
    [{ telemetry: { traces: 1 } }, /^createFetch: unknown option `telemetry.traces` \(known: tracer, /],
    [{ prices: revokedProxy() }, /^createFetch: the keys of `prices` could not be read/],
    [{ prices: { 'gpt-x': hostile() } }, /^createFetch: the keys of `prices\["gpt-x"\]` could not be read/],
    [{ budgets: hostile([]) }, /^createFetch: `budgets` could not be read/],
    [
      { budgets: [{ ...budget, alertat: [0.5] }] },
      /^createFetch: unknown option `budgets\[0\].alertat` \(known: name, /,
    ],
    [{ budgets: [{ ...budget, alertAt: hostile([]) }] }, /^createFetch: `budgets\[0\].alertAt` could not be read/],
    [
      { budgets: [{ ...budget, onExhausted: { route: 1, form: 0.5 } }] },
      /unknown option `budgets\[0\].onExhausted.form`/,
    ],
    [
      { budgets: [{ name: 'b', window: 'day' }] },
      /^createFetch: `budgets\[0\]` needs one of `limitUsd` and `limitTokens`/,
    ],
    [
      { budgets: [{ ...budget, limitUsd: -1 }] },
      /^createFetch: `budgets\[0\].limitUsd` must be a finite number >= 0, got -1/,
    ],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => ratewise.createFetch(options),
      (e) => (e instanceof TypeError || e instanceof RangeError) && message.test(e.message),
      show(options),
    );
  }
});

test('a throwing Proxy inside budgets or prices, 2,000 times, leaves the module working (no exception unwinds through wasm)', () => {
  // An exception thrown through a wasm import without `catch` skips restoring the shadow stack
  // pointer; after about a thousand, every call traps.
  for (let i = 0; i < 2000; i++) {
    for (const options of [
      { budgets: [{ name: 'b', limitUsd: 1, window: 'day', alertAt: hostile([]) }] },
      { prices: { m: hostile() } },
    ]) {
      assert.throws(() => ratewise.createFetch(options), TypeError);
    }
  }
  assert.equal(
    ratewise.classify({ status: 429, body: { error: { code: 'insufficient_quota' } } }).kind,
    'quota_exhausted',
  );
  assert.equal(
    typeof ratewise.createFetch({ budgets: [{ name: 'b', limitUsd: 1, window: 'day', alertAt: [0.5] }] }),
    'function',
  );
});

test('a polluted Object.prototype reaches no budget or telemetry field: the copies the core reads have no prototype', () => {
  const planted = [
    ['limitTokens', 5],
    ['alertAt', 'not an array'],
    ['tracer', 5],
  ];
  for (const [k, v] of planted)
    Object.defineProperty(Object.prototype, k, { value: v, configurable: true, writable: true });
  try {
    const fetch = ratewise.createFetch({ budgets: [{ name: 'b', limitUsd: 1, window: 'day' }], telemetry: true });
    assert.equal(typeof fetch, 'function');
  } finally {
    for (const [k] of planted) delete Object.prototype[k];
  }
});
