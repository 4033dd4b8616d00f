// Runs the shared suite inside Cloudflare's workerd. Bundled the way wrangler
// bundles a Worker (conditions workerd/worker/browser, .wasm as a module).
import * as ratewise from 'ratewise';
import { runSuite } from '../suite.mjs';

// One instance at module scope, shared by every invocation of the isolate,
// as the README's Workers example declares it: the queue, the throttle and
// the breaker all see calls from many invocations at once.
const shared = ratewise.createFetch({ maxConcurrency: 1, maxRetries: 2, baseDelayMs: 5 });

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
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
