// The contenders of bench/overhead.mjs, shared by its Node run and its
// Worker (bench/overhead-worker.mjs): raw fetch, ratewise, ky and p-retry
// around fetch, each called as `(url, init)`, and the request they send.
import ky from 'ky';
import pRetry from 'p-retry';

/** The chat completion request every contender sends. */
export const INIT = {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: '{"model":"gpt-4o-mini"}',
};

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
