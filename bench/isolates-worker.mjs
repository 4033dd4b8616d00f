// The Worker of bench/isolates.mjs: one module-scope ratewise instance per
// isolate, one chat completion per invocation. With the RATEWISE binding the
// calls share the account's limit through the coordinator, timed: the answer
// says how long this invocation waited on coordinator round trips.
import { createFetch } from 'ratewise';

export { RatewiseCoordinator } from 'ratewise';

const llm = createFetch({ maxRetries: 10, deadlineMs: 120_000 });

/** `namespace`, with every round trip of its objects timed into `spent`. */
function timed(namespace, spent) {
  return {
    idFromName: (name) => namespace.idFromName(name),
    get(id) {
      const stub = namespace.get(id);
      return {
        async fetch(url, init) {
          const started = performance.now();
          try {
            return await stub.fetch(url, init);
          } finally {
            spent.ms += performance.now() - started;
            spent.trips += 1;
          }
        },
      };
    },
  };
}

export default {
  async fetch(request, env) {
    if (request.method === 'HEAD') return new Response(null);
    const spent = { ms: 0, trips: 0 };
    const coordinator = env.RATEWISE ? timed(env.RATEWISE, spent) : undefined;
    const call = llm.forInvocation({ subrequests: 1000, coordinator });
    const res = await call(`${env.BASE_URL}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        // bench/isolates.mjs --max-tokens: each call books 1 + max_tokens tokens.
        ...(env.MAX_TOKENS && { max_tokens: Number(env.MAX_TOKENS) }),
      }),
    });
    await res.body?.cancel();
    return Response.json({ status: res.status, coordinatorMs: spent.ms, coordinatorTrips: spent.trips });
  },
};
