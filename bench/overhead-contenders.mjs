// The contenders of bench/overhead.mjs, shared by its Node run and its
// Worker (bench/overhead-worker.mjs): raw fetch, ratewise, ky and p-retry
// around fetch, each called as `(url, init)`, the request they send and the
// answer the local server (or the in-memory fetch) gives.
import ky from 'ky';
import pRetry from 'p-retry';

/** The chat completion request every contender sends. */
export const INIT = {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: '{"model":"gpt-4o-mini"}',
};

// The headers api.openai.com sends with a chat completion (values shortened).
export const HEADERS = {
  'content-type': 'application/json',
  'access-control-expose-headers': 'X-Request-ID',
  'openai-organization': 'org-bench',
  'openai-processing-ms': '412',
  'openai-project': 'proj_bench',
  'openai-version': '2020-10-01',
  'x-envoy-upstream-service-time': '415',
  'x-ratelimit-limit-requests': '10000',
  'x-ratelimit-limit-tokens': '30000000',
  'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-remaining-tokens': '29999990',
  'x-ratelimit-reset-requests': '6ms',
  'x-ratelimit-reset-tokens': '0s',
  'x-request-id': 'req_0123456789abcdef',
  'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
  'cf-cache-status': 'DYNAMIC',
  'set-cookie': '__cf_bm=abc; path=/; HttpOnly; Secure; SameSite=None',
  'x-content-type-options': 'nosniff',
  server: 'cloudflare',
  'cf-ray': '8f0000000000000-SJC',
};
export const BODY =
  '{"id":"chatcmpl-1","object":"chat.completion","choices":[{"message":{"role":"assistant","content":"Hi"}}]}';

/** A fetch answering from memory as the local server does: a success costs no I/O. */
export const memoryFetch = async () => new Response(BODY, { headers: HEADERS });

/**
 * Raw fetch and ratewise over `memoryFetch`: ratewise's own cost, without the network between
 * calls (every call of a run then runs in one turn of the event loop, with warm caches).
 */
export function memoryContenders(createFetch) {
  const ratewise = createFetch({ fetch: memoryFetch });
  return { 'raw fetch': memoryFetch, ratewise: (u, i) => ratewise(u, i) };
}

/** The contenders, with ratewise from `createFetch` (Node's build or the packed package). */
export function contenders(createFetch) {
  const ratewise = createFetch();
  const kyClient = ky.create({ retry: { limit: 2 } });
  return {
    'raw fetch': (u, i) => fetch(u, i),
    ratewise: (u, i) => ratewise(u, i),
    'ky (retry 2)': (u, i) => kyClient(u, { ...i, throwHttpErrors: false }),
    'p-retry + fetch': (u, i) =>
      pRetry(
        async () => {
          const res = await fetch(u, i);
          if (res.status === 429 || res.status >= 500) throw new Error(`HTTP ${res.status}`);
          return res;
        },
        { retries: 2 },
      ),
  };
}
