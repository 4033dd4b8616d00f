// Shared-suite tests for the success path's reading of a request (issue 25): a plain object's
// headers are read without building a Headers object, and must mean exactly what the Headers
// object would. Run in Node, workerd, Chromium, Deno and Bun through suite.mjs.
import { check, equal } from './suite.mjs';

const KEY = 'sk-percall-key-0001';
const BODY = '{"model":"gpt-4o-mini","messages":[]}';

export const tests = [
  [
    "a request's credentials make one limit key whatever shape and case its headers come in",
    async ({ ratewise, mock }) => {
      await mock.config({ quota: true });
      const fetch = ratewise.createFetch();
      const sent = async () => (await mock.stats()).requests;
      const before = await sent();
      const first = await fetch(mock.chat, { method: 'POST', headers: { Authorization: `Bearer ${KEY}` }, body: BODY });
      await first.arrayBuffer();
      equal([first.status, first.headers.get('x-ratewise-breaker')], [429, null], 'the first call is sent');
      const shapes = [
        ['a plain object, lower case', { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }],
        ['a plain object, upper case', { AUTHORIZATION: `Bearer ${KEY}` }],
        ['a value with spaces around it', { authorization: `  Bearer ${KEY} ` }],
        ['an object without a prototype', Object.assign(Object.create(null), { Authorization: `Bearer ${KEY}` })],
        ['a Headers object', new Headers({ Authorization: `Bearer ${KEY}` })],
        ['pairs', [['authorization', `Bearer ${KEY}`]]],
      ];
      for (const [what, headers] of shapes) {
        const res = await fetch(mock.chat, { method: 'POST', headers, body: BODY });
        await res.arrayBuffer();
        equal(res.headers.get('x-ratewise-breaker'), 'open', `${what}: the same key's breaker answers`);
      }
      const request = new Request(mock.chat, {
        method: 'POST',
        headers: { Authorization: `Bearer ${KEY}` },
        body: BODY,
      });
      const fromRequest = await fetch(request);
      await fromRequest.arrayBuffer();
      equal(fromRequest.headers.get('x-ratewise-breaker'), 'open', "a Request's headers: the same key");
      equal((await sent()) - before, 1, 'only the first call was sent');
      // Two credentials in one object, one of them in upper case: another key, so it is sent.
      const both = await fetch(mock.chat, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'X-Api-Key': 'sk-percall-other' },
        body: BODY,
      });
      await both.arrayBuffer();
      equal(both.headers.get('x-ratewise-breaker'), null, 'another credential is another key');
      equal((await sent()) - before, 2, 'that call was sent');
    },
  ],

  [
    'headers a Headers object refuses reject the call with a TypeError before fetch is called',
    async ({ ratewise, mock }) => {
      let calls = 0;
      const fetch = ratewise.createFetch({
        fetch: (input, init) => {
          calls++;
          return globalThis.fetch(input, init);
        },
      });
      const before = (await mock.stats()).requests;
      for (const [what, headers] of [
        ['a name with a space', { 'x bad': 'v' }],
        ['a value with a line break', { 'x-bad': 'a\nb' }],
        ['the same name twice, one of them bad', { 'X-Dup': 'a', 'x-dup': 'b\r\nc' }],
      ]) {
        let error;
        try {
          await fetch(mock.chat, { method: 'POST', headers, body: BODY });
        } catch (e) {
          error = e;
        }
        check(error?.name === 'TypeError', `${what}: rejected with a TypeError, got ${error?.name}`);
      }
      equal([calls, (await mock.stats()).requests - before], [0, 0], 'fetch was not called, nothing was sent');
    },
  ],

  [
    "ratewise's own headers are read in any case and never go out; the others go out as given",
    async ({ ratewise, mock }) => {
      const seen = [];
      const lanes = [];
      const fetch = ratewise.createFetch({
        fetch: (input, init) => {
          seen.push(new Headers(init?.headers));
          return globalThis.fetch(input, init);
        },
        onEvent: (e) => lanes.push(e.lane),
      });
      const headers = { 'X-Ratewise-Priority': 'bulk', 'X-Ratewise-Budget': 'team-a', 'X-Trace': 'abc' };
      const res = await fetch(mock.chat, { method: 'POST', headers, body: BODY });
      await res.arrayBuffer();
      const plain = await fetch(mock.chat, { method: 'POST', headers: { 'X-Trace': 'def' }, body: BODY });
      await plain.arrayBuffer();
      equal(
        seen.map((h) => [h.get('x-ratewise-priority'), h.get('x-ratewise-budget'), h.get('x-trace')]),
        [
          [null, null, 'abc'],
          [null, null, 'def'],
        ],
        'what went out',
      );
      equal(lanes, ['bulk', 'interactive'], 'the lane was read from the header');
      equal(headers['X-Ratewise-Priority'], 'bulk', "the caller's object is untouched");
    },
  ],

  [
    'a call reads its init once, checks it in order, and a call refused after its signals were linked lets go of them',
    async ({ ratewise, mock }) => {
      let calls = 0;
      const fetch = ratewise.createFetch({
        fetch: (input, init) => {
          calls++;
          return globalThis.fetch(input, init);
        },
      });
      // A signal-like object (checked by shape) that counts its listeners.
      let listening = 0;
      const signal = {
        aborted: false,
        reason: undefined,
        addEventListener: () => listening++,
        removeEventListener: () => listening--,
      };
      const rejection = async (init) => {
        try {
          await fetch(mock.chat, init);
        } catch (e) {
          return `${e.name}: ${e.message}`;
        }
        return 'resolved';
      };
      // Each member is read once, by its own getter.
      const reads = {};
      const init = {};
      for (const [k, v] of Object.entries({ method: 'POST', body: BODY, headers: { 'x-trace': 'once' } })) {
        Object.defineProperty(init, k, {
          enumerable: true,
          get: () => {
            reads[k] = (reads[k] ?? 0) + 1;
            return v;
          },
        });
      }
      const res = await fetch(mock.chat, init);
      await res.arrayBuffer();
      equal([res.status, reads], [200, { method: 1, body: 1, headers: 1 }], 'each init member read once');
      check(
        (await rejection(7)).startsWith('TypeError: fetch: `init` must be an object'),
        'an init that is not an object',
      );
      const bad = await rejection({ signal: { aborted: 'no' } });
      check(bad.startsWith('TypeError: fetch: `init.signal` must be an AbortSignal, got object'), bad);
      // A bad lane is found after the signals are linked: the call lets go of them.
      const lane = await rejection({ lane: 'urgent', signal });
      check(lane.startsWith('TypeError: fetch: `init.lane` must be'), lane);
      equal(listening, 0, 'no listener left on the signal');
      equal(calls, 1, 'fetch was called for the good call only');
    },
  ],

  [
    'a success sets no timer: the throttle and the queue let it go at once',
    async ({ ratewise }) => {
      // An answer with OpenAI's rate-limit headers, far from its limits: the throttle learns its
      // windows and lets every call through. A wait of 0 ms slept on a timer would cost a turn of
      // the event loop per call (workerd's timers are coarse), so none may be set.
      const answer = () =>
        new Response('{"id":"chatcmpl-1"}', {
          headers: {
            'content-type': 'application/json',
            'x-ratelimit-limit-requests': '10000',
            'x-ratelimit-remaining-requests': '9999',
            'x-ratelimit-reset-requests': '6ms',
            'x-ratelimit-limit-tokens': '30000000',
            'x-ratelimit-remaining-tokens': '29999990',
            'x-ratelimit-reset-tokens': '0s',
          },
        });
      const fetch = ratewise.createFetch({ fetch: async () => answer(), maxConcurrency: 16 });
      const call = async () => {
        const res = await fetch('https://api.openai.com/v1/chat/completions', { method: 'POST', body: BODY });
        equal(res.status, 200, 'the success passes through');
        await res.text();
      };
      // The first answer teaches the throttle its windows; the calls after it run under them.
      await call();
      const set = [];
      const real = globalThis.setTimeout;
      globalThis.setTimeout = (fn, ms, ...rest) => {
        set.push(ms);
        return real(fn, ms, ...rest);
      };
      try {
        for (let i = 0; i < 5; i++) await call();
        await Promise.all(Array.from({ length: 8 }, call));
      } finally {
        globalThis.setTimeout = real;
      }
      equal(set, [], 'timers set by 13 successes (their delays)');
    },
  ],
];
