// A test Worker for the coordinator in workerd: the package's own
// RatewiseCoordinator, and two broken ones (one answers 500, one never
// answers in time). The query picks the coordinator, the subrequest
// budget and a tenant (a suffix to the API key, so tests do not share keys); the instance has 10 retries and a fallback route. The answer is
// JSON with the status and what the instance counted.
import { createFetch } from 'ratewise';

export { RatewiseCoordinator } from 'ratewise';

/** A coordinator that fails every message. */
export class BrokenCoordinator {
  async fetch() {
    return new Response('broken on purpose', { status: 500 });
  }
}

/** A coordinator that answers after 3 s (ratewise waits 1 s). */
export class SlowCoordinator {
  async fetch() {
    await new Promise((r) => setTimeout(r, 3_000));
    return Response.json({});
  }
}

const errors = [];
const llm = createFetch({
  maxRetries: 10,
  baseDelayMs: 5,
  maxDelayMs: 20,
  routes: [{ apiKey: 'sk-test-backup' }],
  onCoordinatorError: (e) => {
    errors.push(e);
    if (errors.length > 50) errors.shift();
  },
});

export default {
  async fetch(request, env) {
    if (request.method === 'HEAD') return new Response(null);
    const q = new URL(request.url).searchParams;
    const coordinator = { real: env.REAL, broken: env.BROKEN, slow: env.SLOW }[q.get('coordinator')];
    const call = llm.forInvocation({ subrequests: Number(q.get('budget') ?? 50), coordinator });
    const started = Date.now();
    const res = await call(`${env.BASE_URL}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.KEY}${q.get('tenant') ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.body?.cancel();
    return Response.json({
      status: res.status,
      ms: Date.now() - started,
      subrequests: call.subrequests(),
      coordinatorErrors: llm.stats().coordinatorErrors,
      errors: errors.splice(0),
    });
  },
};
