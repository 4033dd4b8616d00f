// Node tier: regressions for production defects, each reproduced against an
// earlier main (issue #9). Stub fetches make broken servers deterministic;
// the mock API counts real requests.
import test from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import * as ratewise from 'ratewise';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';

// The package's wasm exports (initSync returns the instance the package made, in Node on the first
// call: classify()), to count what JavaScript objects wasm still holds.
const { initSync } = await import(new URL('./ratewise.js', import.meta.resolve('ratewise')).href);
ratewise.classify({ status: 200 });
const wasm = initSync();
const liveExternrefs = () => {
  const table = wasm.__wbindgen_externrefs;
  let live = 0;
  for (let i = 0; i < table.length; i++) if (table.get(i) != null) live++;
  return live;
};

const server = await startMock();
const mock = mockClient(server.url);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

const QUOTA =
  '{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A body that sends `first` and then never ends, or fails with `error`. */
function stalled(first, error) {
  return new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(first));
      if (error) setTimeout(() => c.error(error), 20);
    },
  });
}

test('a broken or endless error body never becomes an unhandled rejection', async () => {
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const reset = ratewise.createFetch({
      maxRetries: 1,
      baseDelayMs: 1,
      fetch: async () =>
        new Response(stalled('{"error":', new TypeError('terminated: other side closed')), { status: 503 }),
    });
    const res = await reset('https://api.openai.com/v1/chat/completions');
    assert.equal(res.status, 503);
    const endless = ratewise.createFetch({
      deadlineMs: 150,
      fetch: async () =>
        new Response(stalled('{"error":{"code":"rate_limit_exceeded"'), {
          status: 429,
          headers: { 'retry-after': '1' },
        }),
    });
    await endless('https://api.openai.com/v1/chat/completions').catch(() => {});
    await sleep(200);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('a stalled error body is read for a bounded time, then the response is returned', async () => {
  const fetch = ratewise.createFetch({
    maxRetries: 0,
    fetch: async () => new Response(stalled('{"error":{"code":"rate_limit_exceeded"'), { status: 429 }),
  });
  const started = Date.now();
  const res = await fetch('https://api.openai.com/v1/chat/completions');
  assert.equal(res.status, 429);
  const took = Date.now() - started;
  assert.ok(took >= 4_500 && took < 8_000, `took ${took} ms`);
});

test('a long-lived signal does not collect a listener per call', async () => {
  const controller = new AbortController();
  const shared = ratewise.createFetch({ signal: controller.signal, fetch: async () => new Response('ok') });
  const plain = ratewise.createFetch({ fetch: async () => new Response('ok'), deadlineMs: 60_000 });
  for (let i = 0; i < 500; i++) {
    await shared('https://api.openai.com/v1/models');
    await plain('https://api.openai.com/v1/models', { signal: controller.signal });
  }
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
});

test('a call that sleeps leaves nothing behind in wasm once it settles', async () => {
  // Each call fails once and sleeps before its retry, with a deadline (so it can be aborted).
  // Each sleep used to wait on the call's abort promise through a future that wasm-bindgen frees
  // only when the promise settles, and it never did: two JS references and their closures per
  // sleep stayed in wasm for good.
  let n = 0;
  const fetch = ratewise.createFetch({
    deadlineMs: 60_000,
    baseDelayMs: 1,
    maxDelayMs: 1,
    retryBudget: false,
    fetch: async () => new Response('x', { status: n++ % 2 === 0 ? 503 : 200 }),
  });
  const calls = async (count) => {
    for (let i = 0; i < count; i++) assert.equal((await fetch('https://api.openai.com/v1/models')).status, 200);
  };
  await calls(100);
  const before = liveExternrefs();
  await calls(1_000);
  assert.equal(fetch.stats().retries, 1_100);
  const kept = liveExternrefs() - before;
  assert.ok(kept < 50, `${kept} JS references kept in wasm after 1,000 calls`);
});

test('a call starts when it is made: fetch is called before the promise is returned', async () => {
  // As with an async function or fetch itself, and so its deadline counts from the call. Started
  // in a later microtask, 10,000 calls made in one loop each waited for all the others to start.
  let fetches = 0;
  const fetch = ratewise.createFetch({
    deadlineMs: 50,
    fetch: (_, init) =>
      new Promise((_, reject) => {
        fetches++;
        init.signal.addEventListener('abort', () => reject(init.signal.reason));
      }),
  });
  const call = fetch('https://api.openai.com/v1/models');
  assert.equal(fetches, 1);
  assert.ok(call instanceof Promise);
  await assert.rejects(call, (e) => e.name === 'TimeoutError');
});

for (const [name, make] of [
  [
    'an async iterable',
    () =>
      (async function* () {
        yield new TextEncoder().encode('{"model":"x"}');
      })(),
  ],
  ['a Node Readable', () => Readable.from([Buffer.from('{"model":"x"}')])],
]) {
  test(`${name} body is sent once and never re-sent empty`, async () => {
    await mock.script(['server_error']);
    const fetch = ratewise.createFetch({ throwOnError: true, baseDelayMs: 1 });
    await assert.rejects(
      fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: make(), duplex: 'half' }),
      (e) => {
        assert.equal(e.reason, 'body_not_replayable');
        assert.equal(e.status, 500, 'the server answer is kept');
        return true;
      },
    );
    assert.equal((await mock.stats()).requests, 1);
  });
}

for (const [name, tenant] of [
  ['Gemini ?key=', (k) => [`/v1/chat/completions?key=${k}`, {}]],
  ['x-goog-api-key', (k) => ['/v1/chat/completions', { 'x-goog-api-key': k }]],
  ['Basic auth', (k) => ['/v1/chat/completions', { authorization: `Basic ${btoa(`${k}:pw`)}` }]],
  ['OpenAI-Project', (k) => ['/v1/chat/completions', { authorization: 'Bearer sk-same', 'openai-project': k }]],
  [
    'OpenAI-Organization',
    (k) => ['/v1/chat/completions', { authorization: 'Bearer sk-same', 'openai-organization': k }],
  ],
]) {
  test(`one tenant's quota breaker never answers for another (${name})`, async () => {
    await mock.script(['insufficient_quota']);
    const fetch = ratewise.createFetch();
    const call = (k) => {
      const [path, headers] = tenant(k);
      return fetch(`${server.url}${path}`, { method: 'POST', headers, body: '{}' });
    };
    assert.equal((await call('tenant-a')).status, 429);
    assert.equal((await call('tenant-a')).headers.get('x-ratewise-breaker'), 'open', 'A is held by its breaker');
    const b = await call('tenant-b');
    assert.equal(b.status, 200, 'B goes to the network');
    assert.equal((await mock.stats()).requests, 2);
  });
}

test('a breaker replay carries only what the caller needs, and tells SDKs not to retry', async () => {
  const fetch = ratewise.createFetch({
    fetch: async () =>
      new Response(QUOTA, {
        status: 429,
        headers: {
          'content-type': 'application/json',
          'set-cookie': '__cf_bm=secret; path=/',
          'openai-organization': 'org-tenant-a',
          'x-request-id': 'req_123',
          'x-ratelimit-limit-requests': '500',
        },
      }),
  });
  await fetch('https://api.openai.com/v1/chat/completions', { headers: { authorization: 'Bearer sk-a' } });
  const replay = await fetch('https://api.openai.com/v1/chat/completions', {
    headers: { authorization: 'Bearer sk-a' },
  });
  assert.equal(replay.headers.get('x-ratewise-breaker'), 'open');
  assert.equal(replay.headers.get('x-should-retry'), 'false');
  assert.equal(replay.headers.get('set-cookie'), null);
  assert.equal(replay.headers.get('openai-organization'), null);
  assert.equal(replay.headers.get('x-request-id'), 'req_123');
  assert.equal(replay.headers.get('x-ratelimit-limit-requests'), '500');
  assert.equal(replay.headers.get('content-type'), 'application/json');
  assert.equal((await replay.json()).error.code, 'insufficient_quota');
});

test('a 50 MB header value does not grow memory for good', async () => {
  const huge = 'x'.repeat(50 * 1024 * 1024);
  ratewise.classify({ status: 429, headers: { 'retry-after': '1' } });
  huge.charCodeAt(0);
  const before = process.memoryUsage().rss;
  const c = ratewise.classify({ status: 429, headers: { 'retry-after': '2', 'x-ratelimit-reset-requests': huge } });
  assert.equal(c.retryAfterMs, 2_000);
  const grown = process.memoryUsage().rss - before;
  assert.ok(grown < 20 * 1024 * 1024, `memory grew by ${grown} bytes`);
});

test('option errors: a throwing getter throws, a baseURL without a host is refused', () => {
  const options = {
    get maxRetries() {
      throw new Error('getter exploded');
    },
  };
  assert.throws(() => ratewise.createFetch(options), /getter exploded/);
  for (const baseURL of ['https://', 'http://', 'https:///v1', 'ftp://x']) {
    assert.throws(
      () => ratewise.createFetch({ routes: [{ baseURL }] }),
      (e) => e instanceof TypeError && /routes\[0\]\.baseURL/.test(e.message),
      baseURL,
    );
  }
  ratewise.createFetch({ routes: [{ baseURL: 'https://backup.example/v1' }] });
});

test('option getters and Proxy traps that throw, 5,000 times: TypeErrors naming the field, and the module lives', () => {
  // An exception thrown through wasm without being caught there left the shadow stack pointer
  // lowered: after about 800 of them every call into ratewise trapped (RuntimeError: memory access
  // out of bounds, then unreachable) for the rest of the process, classify() included.
  const { proxy: revokedRoutes, revoke } = Proxy.revocable([], {});
  revoke();
  const boom = new Error('trap exploded');
  const throwingKeys = new Proxy(
    {},
    {
      ownKeys() {
        throw boom;
      },
    },
  );
  const badElement = [];
  Object.defineProperty(badElement, 0, {
    get() {
      throw boom;
    },
  });
  const cases = [
    [{ routes: revokedRoutes }, /createFetch: `routes` must be an array/],
    [throwingKeys, /createFetch: the keys of options could not be read: trap exploded/],
    [{ routes: badElement }, /createFetch: `routes\[0\]` could not be read: trap exploded/],
    [{ coordinator: { idFromName: revokedRoutes, get() {} } }, /createFetch: `coordinator` must be/],
  ];
  for (let i = 0; i < 5_000; i++) {
    const [options, message] = cases[i % cases.length];
    assert.throws(
      () => ratewise.createFetch(options),
      (e) =>
        e instanceof TypeError && message.test(e.message) && (!/could not be read/.test(e.message) || e.cause === boom),
    );
  }
  assert.equal(ratewise.classify({ status: 429, body: QUOTA }).kind, 'quota_exhausted');
});

test('a signal-like option whose addEventListener throws fails the call, 2,000 times, and the module lives', async () => {
  const boom = new Error('addEventListener exploded');
  const signal = {
    aborted: false,
    addEventListener() {
      throw boom;
    },
    removeEventListener() {},
  };
  const fetch = ratewise.createFetch({ signal, fetch: async () => new Response('ok') });
  for (let i = 0; i < 2_000; i++) {
    await assert.rejects(fetch('https://api.openai.com/v1/models'), (e) => e === boom);
  }
  const plain = ratewise.createFetch({ fetch: async () => new Response('ok') });
  assert.equal((await plain('https://api.openai.com/v1/models')).status, 200);
});

test('a call whose deadline passes while queued never starts a fetch', async () => {
  let fetches = 0;
  const fetch = ratewise.createFetch({
    maxConcurrency: 1,
    fetch: (_, init) =>
      new Promise((resolve, reject) => {
        fetches++;
        init.signal?.addEventListener('abort', () => reject(init.signal.reason));
        setTimeout(() => resolve(new Response('ok')), 400);
      }),
  });
  const first = fetch('https://api.openai.com/v1/models');
  const queued = fetch('https://api.openai.com/v1/models', { signal: AbortSignal.timeout(100) });
  await assert.rejects(queued, (e) => e.name === 'TimeoutError' || e.name === 'AbortError');
  assert.equal((await first).status, 200);
  assert.equal(fetches, 1);
});

test('10,000 concurrent calls, queue on and off: all settle, no listener or timer left', async () => {
  for (const maxConcurrency of [Infinity, 50]) {
    const controller = new AbortController();
    const fetch = ratewise.createFetch({
      maxConcurrency,
      signal: controller.signal,
      deadlineMs: 30_000,
      fetch: async () => {
        await sleep(1);
        return new Response('ok');
      },
    });
    const settled = await Promise.allSettled(
      Array.from({ length: 10_000 }, () => fetch('https://api.openai.com/v1/models')),
    );
    assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 10_000, `maxConcurrency ${maxConcurrency}`);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    assert.equal(fetch.stats().calls, 10_000);
  }
  const handles = process.getActiveResourcesInfo().filter((r) => r === 'Timeout');
  assert.ok(handles.length <= 2, `timers left: ${handles.length}`);
});

test('fetch failures that never heal are not retried; their messages hide secrets', async () => {
  for (const message of [
    'Failed to parse URL from not a url',
    'Too many subrequests.',
    'fetch failed: unknown scheme',
  ]) {
    let calls = 0;
    const fetch = ratewise.createFetch({
      throwOnError: true,
      baseDelayMs: 1,
      fetch: async () => {
        calls++;
        throw new TypeError(message);
      },
    });
    await assert.rejects(fetch('https://api.openai.com/v1/models'), (e) => {
      assert.equal(e.kind, 'bad_request', message);
      return true;
    });
    assert.equal(calls, 1, message);
  }
  const events = [];
  const leaky = ratewise.createFetch({
    maxRetries: 1,
    baseDelayMs: 1,
    onEvent: (e) => events.push(e),
    fetch: async () => {
      throw new TypeError(
        'connect ECONNREFUSED https://user:hunter2@gw.example/v1?key=AIzaSyA-secret-key-0123456789abcdef',
      );
    },
  });
  await leaky('https://user:hunter2@gw.example/v1?key=AIzaSyA-secret-key-0123456789abcdef').catch(() => {});
  assert.equal(events.length, 2, 'a refused connection is retried');
  const shown = JSON.stringify(events);
  assert.ok(!shown.includes('hunter2') && !shown.includes('secret-key'), shown);
});
