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

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === '/cache') {
      const call = cached.forInvocation({ waitUntil: (p) => ctx.waitUntil(p) });
      const res = await call(`${env.MOCK_URL}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-cached', 'content-type': 'application/json' },
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
    const only = new URL(request.url).searchParams.get('only') ?? undefined;
    const result = await runSuite({ ratewise, mockUrl: env.MOCK_URL, only });
    return Response.json({ runtime: `workerd (navigator.userAgent: ${navigator.userAgent})`, ...result });
  },
};
