// Shared-suite tests for the second hardening pass (issue 19), bodies group:
// run in Node, workerd, Chromium, Deno and Bun through suite.mjs.
import { equal } from './suite.mjs';

export const tests = [
  [
    "the breaker's answer to a HEAD request has no body",
    async ({ ratewise, mock }) => {
      await mock.config({ quota: true });
      const fetch = ratewise.createFetch();
      const init = { headers: { authorization: 'Bearer sk-head-check-0001' } };
      const tripped = await fetch(mock.chat, { ...init, method: 'POST', body: '{}' });
      await tripped.arrayBuffer();
      equal(tripped.status, 429, 'tripped');
      const head = await fetch(mock.chat, { ...init, method: 'HEAD' });
      equal([head.status, head.headers.get('x-ratewise-breaker')], [429, 'open'], 'answered by the breaker');
      equal([head.body, await head.text()], [null, ''], 'no body');
      const get = await fetch(mock.chat, init);
      equal(get.headers.get('x-ratewise-breaker'), 'open', 'a GET is answered by the breaker too');
      equal((await get.text()).includes('insufficient_quota'), true, 'with the body');
    },
  ],
];
