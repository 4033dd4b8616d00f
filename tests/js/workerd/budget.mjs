// A Worker that spends on one budget through the RatewiseCoordinator Durable
// Object's budget op (the message protocol of src/wasm/spend.rs, posted the
// way js/coordinator.js posts it). Used by budget-workerd.test.mjs, which runs
// it as two services (two isolates) on one object, and restarts workerd on
// the same storage.
//   GET /op?message=<json>: one message (action, amount, reservation, ...)
//   GET /spend?n=&estimate=&actual=: n calls at once, each reserving
//     `estimate` and then settling `actual`; answers how many were let go
//     and the alerts.
export { RatewiseCoordinator } from 'ratewise';

const KEY = '00000000000000b1';
const BUDGET = { name: 'shared', limitUsd: 1, window: 'month' };

async function send(env, message) {
  const stub = env.COORD.get(env.COORD.idFromName(`ratewise:${message.key}`));
  const res = await stub.fetch('https://ratewise.coordinator/', { method: 'POST', body: JSON.stringify(message) });
  if (!res.ok) throw new Error(`the coordinator answered HTTP ${res.status}: ${await res.text()}`);
  return res.json();
}

export default {
  async fetch(request, env) {
    if (request.method === 'HEAD') return new Response(null);
    const url = new URL(request.url);
    const p = Object.fromEntries(url.searchParams);
    const base = { op: 'budget', key: KEY, budget: p.budget ? JSON.parse(p.budget) : BUDGET };
    try {
      if (url.pathname === '/op') return Response.json(await send(env, { ...base, ...JSON.parse(p.message) }));
      if (url.pathname === '/spend') {
        const [n, estimate, actual] = [p.n, p.estimate, p.actual].map(Number);
        const calls = Array.from({ length: n }, async () => {
          const held = await send(env, { ...base, action: 'reserve', amount: estimate });
          if (held.exhausted) return null;
          // The answer takes a while: other calls reserve meanwhile.
          await new Promise((r) => setTimeout(r, 5));
          const settled = await send(env, { ...base, action: 'settle', reservation: held.reservation, actual });
          return settled.alerts;
        });
        const done = await Promise.all(calls);
        const passed = done.filter((a) => a !== null);
        return Response.json({ passed: passed.length, alerts: passed.flat() });
      }
      return new Response('not found', { status: 404 });
    } catch (e) {
      return Response.json({ error: String(e?.message ?? e) }, { status: 500 });
    }
  },
};
