// The Worker bench/overhead.mjs runs inside workerd: GET /?contender=…&n=…&c=…&url=…
// makes n calls at concurrency c to `url` with one contender, reading every
// body, and answers when they are done (the caller times the request). With
// `&memory=1`, the contender is raw fetch or ratewise over an in-memory fetch.
import { createFetch } from 'ratewise';
import { INIT as init, contenders as makeContenders, memoryContenders } from './overhead-contenders.mjs';

// One instance at module scope, as the README's Workers example declares it.
const contenders = makeContenders(createFetch);
const memory = memoryContenders(createFetch);

export default {
  async fetch(request) {
    const params = new URL(request.url).searchParams;
    const f = (params.has('memory') ? memory : contenders)[params.get('contender')];
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
