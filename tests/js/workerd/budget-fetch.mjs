// A Worker that spends on a budget through createFetch: the module-scope
// instance's budget is kept by the RatewiseCoordinator Durable Object bound as
// env.COORD when the binding is there (forInvocation({ coordinator,
// waitUntil })), else by the isolate. Used by budget-fetch-workerd.test.mjs,
// which runs it as services on one object and restarts workerd on the same
// storage.
//   GET /spend?n=: n chat completions at once to env.API (the mock API);
//     answers the statuses and the alerts onBudget got since the last /spend.
export { RatewiseCoordinator } from 'ratewise';
import { createFetch } from 'ratewise';

// The mock answers each completion with 9 input and 5 output tokens: $1.40 at
// these prices; a call asking for 20 output tokens reserves about $2.10.
const prices = { 'gpt-4o-mini': { input: 100_000, output: 100_000 } };
let alerts = [];
let errors = [];
const llm = createFetch({
  prices,
  budgets: [{ name: 'batch', limitUsd: 7, window: 'month' }],
  onBudget: (a) => alerts.push(a),
  onCoordinatorError: (e) => errors.push(e.message),
});

export default {
  async fetch(request, env, ctx) {
    if (request.method === 'HEAD') return new Response(null);
    const url = new URL(request.url);
    const n = Number(url.searchParams.get('n') ?? 1);
    const call = llm.forInvocation({ coordinator: env.COORD, waitUntil: (p) => ctx.waitUntil(p) });
    const one = async () => {
      const res = await call(`${env.API}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-proj-BUDGETSECRET0123456789', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const body = await res.json();
      return res.status === 200 ? 200 : `${res.status} ${body.error?.code}`;
    };
    const statuses = await Promise.all(Array.from({ length: n }, one));
    // The settles go in the background (waitUntil): give them a moment to answer.
    await new Promise((r) => setTimeout(r, 200));
    const seen = { statuses, alerts, errors };
    alerts = [];
    errors = [];
    return Response.json(seen);
  },
};
