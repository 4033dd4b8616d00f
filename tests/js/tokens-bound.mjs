// Instances sharing one key whose tokens limit binds long before its requests limit (issues 22 and
// 23): `n` createFetch() instances, each with its own `coordinator()` (or none), send `calls` chat
// completions at once, each charged 1 000 tokens (2 of prompt, max_tokens 998), against the mock
// serving 4 000 tokens and 100 requests a window. The coordinators' tests run it.

const TOKENS = 4_000;
const EACH = 1_000;

/**
 * Runs the batch on `mock` (a mockClient); answers the final statuses, the 429s the mock sent, the
 * wall time and its floor (one window per 4 calls after the first window, ms).
 */
export async function tokensBound(mock, ratewise, coordinator, { n = 4, calls = 16, windowMs = 1_000 } = {}) {
  await mock.reset();
  await mock.config({ limit: 100, windowMs, tokenLimit: TOKENS, tokenWindowMs: windowMs });
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-tokens-bound' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 998 }),
  };
  const instances = Array.from({ length: n }, () =>
    ratewise.createFetch(coordinator ? { coordinator: coordinator() } : {}),
  );
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: calls }, (_, i) => instances[i % n](mock.chat, init).then((r) => r.status)),
  );
  const wallMs = Date.now() - started;
  const rejected = (await mock.stats()).byStatus[429] ?? 0;
  const floorMs = (Math.ceil((calls * EACH) / TOKENS) - 1) * windowMs;
  return { answers, rejected, wallMs, floorMs };
}
