// Shared-suite tests for the second hardening pass (issue 19), engine group:
// run in Node, workerd, Chromium, Deno and Bun through suite.mjs.
import { check, equal } from './suite.mjs';

export const tests = [
  [
    "a route's headers set or remove headers: a sibling project answers, and each project has its own breaker",
    async ({ ratewise, mock }) => {
      await mock.config({ quotaProjects: ['proj_A'] });
      const fetch = ratewise.createFetch({
        routes: [{ headers: { 'OpenAI-Project': 'proj_B', 'x-debug-tag': null } }],
      });
      const init = {
        method: 'POST',
        headers: { authorization: 'Bearer sk-sibling-0001', 'openai-project': 'proj_A', 'x-debug-tag': 'a' },
        body: '{}',
      };
      for (let i = 0; i < 2; i++) {
        const res = await fetch(mock.chat, init);
        await res.arrayBuffer();
        equal(res.status, 200, `call ${i + 1} answered by proj_B`);
      }
      const log = (await mock.stats()).log.map((l) => [l.status, l.project]);
      equal(
        log,
        [
          [429, 'proj_A'],
          [200, 'proj_B'],
          [200, 'proj_B'],
        ],
        "proj_A's breaker is open; proj_B's is not",
      );
      equal(fetch.stats().byRoute, [0, 2], 'by route');
      let error;
      try {
        ratewise.createFetch({ routes: [{ headers: { 'OpenAI-Project': 42 } }] });
      } catch (e) {
        error = e;
      }
      check(
        error instanceof TypeError && /routes\[0\]\.headers\.OpenAI-Project/.test(error.message),
        `a bad header value is a TypeError naming it: ${error}`,
      );
    },
  ],
];
