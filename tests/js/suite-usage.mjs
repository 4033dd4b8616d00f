// Usage and cost (issue 21 §1), run in every runtime: the tap passes a successful answer's body
// through unchanged and reports its usage to onUsage, onEvent and stats().usage once it ends.

import { check, equal } from './suite.mjs';

const SECRET = 'sk-proj-SECRETSECRETSECRET1234';
const chat = (body) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body }),
});
// The usage is reported in a microtask after the body ends; a few timer turns leave room for a
// runtime that resolves a body's read in a later turn of its own (workerd).
const settled = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 1));
};

function recorder(options = {}) {
  const seen = [];
  return { seen, options: { onUsage: (e) => seen.push(e), ...options } };
}

// Anthropic's documented stream (https://docs.anthropic.com/en/docs/build-with-claude/streaming),
// as separate chunks, one cut inside the message_start event.
const ANTHROPIC_STREAM = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-opus-4-20250514","usage":{"input_tokens":25,"cache_read_input_tokens":2000,"cache_creation_input_tokens":0,"outp',
  'ut_tokens":1}}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n',
];

export const tests = [
  [
    'usage: a JSON answer reaches the caller unchanged and its usage reaches onUsage, onEvent and stats().usage',
    async ({ ratewise, mock }) => {
      const events = [];
      const { seen, options } = recorder({
        onEvent: (e) => events.push(e),
        prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
      });
      const fetch = ratewise.createFetch(options);
      const res = await fetch(mock.chat, chat());
      equal(
        [res.status, res.url, res.headers.get('content-type')?.split(';')[0]],
        [200, mock.chat, 'application/json'],
        'status, url, headers kept',
      );
      const body = await res.json();
      equal(body.usage, { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 }, "the body is the mock's own");
      await settled();
      equal(seen.length, 1, 'one usage report');
      const u = seen[0];
      equal(
        [u.type, u.usage, u.model, u.estimated, u.end, u.route, u.lane],
        [
          'usage',
          { inputTokens: 9, outputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
          'gpt-4o-mini',
          false,
          'complete',
          0,
          'interactive',
        ],
        'the usage event',
      );
      check(Math.abs(u.costUsd - (9 * 0.15 + 5 * 0.6) / 1e6) < 1e-12, `costUsd ${u.costUsd}`);
      check(!u.url.includes(SECRET), 'no secret in the event');
      equal(
        events.map((e) => e.type),
        ['attempt', 'usage'],
        'onEvent sees the attempt, then the usage',
      );
      const stats = fetch.stats().usage;
      equal([stats.total.answers, stats.total.inputTokens, stats.total.outputTokens], [1, 9, 5], 'stats().usage.total');
      equal(
        [stats.byRoute[0].answers, stats.byLane.interactive.outputTokens, stats.byLane.bulk.answers],
        [1, 5, 0],
        'per route and lane',
      );
    },
  ],

  [
    'usage: a stream with stream_options.include_usage is read from its last chunk, every byte passed on',
    async ({ ratewise, mock }) => {
      await mock.config({ streamGapMs: 1 });
      const { seen, options } = recorder();
      const fetch = ratewise.createFetch(options);
      const res = await fetch(mock.chat, chat({ stream: true, stream_options: { include_usage: true } }));
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let text = '';
      for (let next = await reader.read(); !next.done; next = await reader.read()) {
        text += decoder.decode(next.value, { stream: true });
      }
      check(text.endsWith('data: [DONE]\n\n') && text.includes('"usage":{"prompt_tokens":9'), 'the stream, whole');
      await settled();
      equal(
        seen.map((e) => [e.usage.inputTokens, e.usage.outputTokens, e.estimated]),
        [[9, 4, false]],
        'usage',
      );
    },
  ],

  [
    'usage: a stream cancelled by the caller is charged for what it produced, as an estimate',
    async ({ ratewise, mock }) => {
      await mock.config({ streamGapMs: 20 });
      const { seen, options } = recorder();
      const fetch = ratewise.createFetch(options);
      const res = await fetch(mock.chat, chat({ stream: true }));
      const reader = res.body.getReader();
      const first = await reader.read();
      check(!first.done && first.value.length > 0, 'a first chunk');
      await reader.cancel();
      await settled();
      equal(seen.length, 1, 'one report');
      const u = seen[0];
      equal([u.end, u.estimated], ['cancelled', true], 'cancelled, estimated');
      check(u.usage.inputTokens > 0, 'the request estimate stands in for the input');
    },
  ],

  [
    "usage: Anthropic's message_start and message_delta, cut across chunks, give input, cache reads and output",
    async ({ ratewise, mock }) => {
      await mock.config({ streamGapMs: 1 });
      await mock.script([{ status: 200, chunks: ANTHROPIC_STREAM }]);
      const { seen, options } = recorder();
      const res = await ratewise.createFetch(options)(`${mock.url}/v1/messages`, chat());
      equal(await res.text(), ANTHROPIC_STREAM.join(''), 'the same bytes');
      await settled();
      const u = seen[0];
      equal(
        [u.usage.inputTokens, u.usage.cachedInputTokens, u.usage.outputTokens, u.model, u.estimated],
        [2025, 2000, 15, 'claude-opus-4-20250514', false],
        'usage',
      );
    },
  ],

  [
    "usage: without a consumer the tap is off and the answer is the platform's own Response",
    async ({ ratewise, mock }) => {
      // A tapped answer is the same Response with its body methods wrapped on the instance.
      const tappedOf = (res) => Object.getOwnPropertyDescriptor(res, 'text') !== undefined;
      const plain = await ratewise.createFetch()(mock.chat, chat());
      check(!tappedOf(plain), 'untouched');
      await plain.text();
      const tapped = await ratewise.createFetch({ usage: true })(mock.chat, chat());
      check(tappedOf(tapped), 'usage: true taps');
      check(tapped instanceof Response && !Object.keys(tapped).length, 'a Response, no enumerable additions');
      await tapped.text();
      const events = [];
      const observed = await ratewise.createFetch({ onEvent: (e) => events.push(e.type) })(mock.chat, chat());
      check(!tappedOf(observed), 'onEvent alone does not tap');
      await observed.text();
      await settled();
      equal(events, ['attempt'], 'and sees no usage event');
      const off = await ratewise.createFetch({ usage: false, onUsage() {} })(mock.chat, chat());
      check(!tappedOf(off), 'usage: false wins over onUsage');
      await off.text();
    },
  ],

  [
    'usage: a tapped answer can be cloned, and both copies read whole, the usage counted once',
    async ({ ratewise, mock }) => {
      const { seen, options } = recorder();
      const res = await ratewise.createFetch(options)(mock.chat, chat());
      const copy = res.clone();
      const [a, b] = await Promise.all([new Response(res.body).text(), copy.text()]);
      equal(a, b, 'the same bytes');
      check(JSON.parse(a).usage.prompt_tokens === 9, 'the body');
      await settled();
      equal(
        seen.map((e) => e.usage.inputTokens),
        [9],
        'one report, from the original',
      );
    },
  ],

  [
    'usage: a model with no price counts its tokens, has no costUsd, and warns once',
    async ({ ratewise, mock }) => {
      const warn = console.warn;
      const warnings = [];
      console.warn = (m) => warnings.push(String(m));
      try {
        const { seen, options } = recorder({ prices: { 'gpt-4o': { input: 2.5, output: 10 } } });
        const fetch = ratewise.createFetch(options);
        for (let i = 0; i < 2; i++) await (await fetch(mock.chat, chat({ model: 'mystery-model' }))).text();
        await settled();
        equal(
          seen.map((e) => [e.usage.inputTokens, e.costUsd]),
          [
            [9, undefined],
            [9, undefined],
          ],
          'tokens, no cost',
        );
        equal(warnings.filter((w) => w.includes("'mystery-model'")).length, 1, `warned once: ${warnings}`);
        equal(fetch.stats().usage.total.unpriced, 2, 'stats count the unpriced answers');
      } finally {
        console.warn = warn;
      }
    },
  ],

  [
    'usage: a price function gets the model, the provider and the usage',
    async ({ ratewise, mock }) => {
      const asked = [];
      const { seen, options } = recorder({
        prices: (a) => {
          asked.push(a);
          return 0.25;
        },
      });
      await (await ratewise.createFetch(options)(mock.chat, chat())).text();
      await settled();
      equal(
        asked.map((a) => [a.model, a.usage.outputTokens]),
        [['gpt-4o-mini', 5]],
        'arguments',
      );
      equal(seen[0].costUsd, 0.25, 'its cost');
    },
  ],

  [
    'usage: bad usage and prices options are a TypeError or RangeError naming the field',
    ({ ratewise }) => {
      const fails = (options, name, pattern) => {
        try {
          ratewise.createFetch(options);
        } catch (e) {
          equal(e.name, name, pattern.source);
          check(pattern.test(e.message), e.message);
          return;
        }
        throw new Error(`did not throw: ${pattern}`);
      };
      fails({ usage: 'yes' }, 'TypeError', /`usage` must be a boolean/);
      fails({ prices: 3 }, 'TypeError', /`prices` must be an object/);
      fails({ prices: { m: { input: -1, output: 1 } } }, 'RangeError', /prices\["m"\]\.input/);
      fails({ prices: { m: { input: 1 } } }, 'TypeError', /prices\["m"\]\.output/);
      fails({ prices: { m: { input: 1, output: 1, cached: 1 } } }, 'TypeError', /prices\["m"\]\.cached` is unknown/);
    },
  ],
];
