// The Worker bench/overhead.mjs runs inside workerd: GET /?contender=…&n=…&c=…&url=…
// makes n calls at concurrency c to `url` with one contender, reading every
// body, and answers when they are done (the caller times the request).
import ky from 'ky';
import pRetry from 'p-retry';
import { createFetch } from 'ratewise';

// One instance at module scope, as the README's Workers example declares it.
const ratewise = createFetch();
const kyClient = ky.create({ retry: { limit: 2 } });
const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o-mini"}' };

const contenders = {
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

export default {
  async fetch(request) {
    const params = new URL(request.url).searchParams;
    const f = contenders[params.get('contender')];
    if (!f) return new Response('ready');
    const n = Number(params.get('n'));
    const c = Number(params.get('c'));
    const url = params.get('url');
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        const res = await f(url, init);
        await res.text();
      }
    };
    await Promise.all(Array.from({ length: c }, worker));
    return new Response('done');
  },
};
