// Runs the shared suite inside Cloudflare's workerd. Bundled the way wrangler
// bundles a Worker (conditions workerd/worker/browser, .wasm as a module).
import * as ratewise from 'ratewise';
import { runSuite } from '../suite.mjs';

// One instance at module scope, shared by every invocation of the isolate,
// as the README's Workers example declares it: the queue, the throttle and
// the breaker all see calls from many invocations at once.
const shared = ratewise.createFetch({ maxConcurrency: 1, maxRetries: 2, baseDelayMs: 5 });

// The cached-response fallback across invocations: caches.default keeps
// one invocation's answer for a later one.
const cached = ratewise.createFetch({ cache: { ttlMs: 60_000 }, maxRetries: 0 });

// For /load: two more module-scope instances, the queue off and on, with a long-lived signal
// whose abort listeners are counted (each call adds one and must remove it) and a deadline.
const lifetime = new AbortController();
const listeners = { added: 0, removed: 0 };
for (const [method, counter] of [
  ['addEventListener', 'added'],
  ['removeEventListener', 'removed'],
]) {
  const original = lifetime.signal[method];
  lifetime.signal[method] = function (type, ...rest) {
    if (type === 'abort') listeners[counter]++;
    return original.call(this, type, ...rest);
  };
}
const load = {
  off: ratewise.createFetch({ signal: lifetime.signal, deadlineMs: 60_000 }),
  on: ratewise.createFetch({ signal: lifetime.signal, deadlineMs: 60_000, maxConcurrency: 8 }),
};

/** `n` concurrent calls through one module-scope instance from this invocation; how they settled. */
async function loadRun(env, n, queue) {
  const fetch = load[queue];
  const started = Date.now();
  const settled = await Promise.allSettled(
    Array.from({ length: n }, (_, i) =>
      fetch(`${env.MOCK_URL}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-load', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `call ${i}` }] }),
      }).then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      }),
    ),
  );
  const statuses = {};
  const reasons = new Set();
  for (const s of settled) {
    if (s.status === 'fulfilled') statuses[s.value] = (statuses[s.value] ?? 0) + 1;
    else reasons.add(String(s.reason));
  }
  const { calls, queued } = fetch.stats();
  return {
    settled: settled.length,
    statuses,
    rejected: settled.filter((s) => s.status === 'rejected').length,
    reasons: [...reasons].slice(0, 3),
    ms: Date.now() - started,
    calls,
    queued,
    listeners: { ...listeners },
  };
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === '/cache') {
      const call = cached.forInvocation({ waitUntil: (p) => ctx.waitUntil(p) });
      const res = await call(`${env.MOCK_URL}/v1/chat/completions`, {
        method: 'POST',
        // `key`: a tenant of its own (its own breaker and entries), for a test after another.
        headers: {
          authorization: `Bearer ${url.searchParams.get('key') ?? 'sk-cached'}`,
          'content-type': 'application/json',
        },
        body: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"cached across invocations"}]}',
      });
      return Response.json({
        status: res.status,
        cache: res.headers.get('x-ratewise-cache'),
        body: await res.text(),
        stats: cached.stats(),
      });
    }
    if (url.pathname === '/shared') {
      // `key` picks the tenant; the mock decides what it answers.
      const res = await shared(`${env.MOCK_URL}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${url.searchParams.get('key') ?? 'sk-shared'}`,
          'content-type': 'application/json',
        },
        body: '{"model":"gpt-4o-mini"}',
      });
      await res.arrayBuffer();
      return Response.json({
        status: res.status,
        breaker: res.headers.get('x-ratewise-breaker'),
        stats: shared.stats(),
      });
    }
    if (url.pathname === '/load') {
      // `n` calls from this invocation (n = 1: one of many concurrent invocations).
      const queue = url.searchParams.get('queue') === 'on' ? 'on' : 'off';
      return Response.json(await loadRun(env, Number(url.searchParams.get('n') ?? 1000), queue));
    }
    const only = new URL(request.url).searchParams.get('only') ?? undefined;
    const result = await runSuite({ ratewise, mockUrl: env.MOCK_URL, only });
    return Response.json({ runtime: `workerd (navigator.userAgent: ${navigator.userAgent})`, ...result });
  },
};
