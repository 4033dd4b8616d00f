// A Cloudflare Worker that proxies chat completions through ratewise.
//
// - One instance at module scope: every invocation of the isolate shares its
//   queue, throttle and quota breaker (calls never wait on another
//   invocation's promise or timer, so workerd never cancels them as hung).
// - forInvocation(): each invocation gets its own subrequest budget, so the
//   retries and fallback routes of all its calls never exceed what the plan
//   allows (50 on the free plan; this Worker leaves 10 for other fetches).
// - The API key comes from `env` (a secret), never from module scope.
// - Reports that need not block the response go through ctx.waitUntil.
// - With the RATEWISE Durable Object bound, an empty account seen by one
//   isolate fails fast in every other isolate too.
import { createFetch, isQuotaExhaustedError, isSubrequestsSpentError } from 'ratewise';

// The coordinator class, re-exported so wrangler.toml can bind it.
export { RatewiseCoordinator } from 'ratewise';

const llm = createFetch({
  maxRetries: 3,
  deadlineMs: 20_000,
  // Per isolate (the instance is shared by its invocations); each invocation may have at most 6
  // connections open, so one busy invocation never starves the others of theirs.
  maxConcurrency: 6,
  throwOnError: true,
});

export default {
  async fetch(request, env, ctx) {
    if (request.method !== 'POST') return new Response('POST a chat completion request', { status: 405 });
    const invocation = llm.forInvocation({ subrequests: 40, coordinator: env.RATEWISE });
    const body = await request.text();
    try {
      const res = await invocation(`${env.OPENAI_BASE_URL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.OPENAI_API_KEY}`, 'content-type': 'application/json' },
        body,
        signal: request.signal,
      });
      // The upstream's own content type: JSON, or text/event-stream for a streamed answer.
      const type = res.headers.get('content-type') ?? 'application/json';
      return new Response(res.body, { status: res.status, headers: { 'content-type': type } });
    } catch (e) {
      if (isQuotaExhaustedError(e)) {
        // Out of money: tell a human (once per incident, not once per invocation in flight) without
        // holding up the answer.
        if (e.firstReport) ctx.waitUntil(report(env, e.classification.message));
        return Response.json({ error: 'the AI provider account is out of quota' }, { status: 503 });
      }
      if (isSubrequestsSpentError(e)) return Response.json({ error: 'too many upstream calls' }, { status: 503 });
      return Response.json({ error: e.code ?? 'upstream_error', message: e.message }, { status: 502 });
    } finally {
      // Counts this invocation's upstream attempts, for logs.
      console.log('subrequests', JSON.stringify(invocation.subrequests()));
    }
  },
};

/** Sends an alert (here: a log line; in production a webhook or queue). */
async function report(env, message) {
  console.log(`alert: ${message}`);
  if (env.ALERT_WEBHOOK) await fetch(env.ALERT_WEBHOOK, { method: 'POST', body: message });
}
