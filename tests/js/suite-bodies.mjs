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
  [
    'peekStream: a later error event cut by chunk boundaries anywhere (even inside the peek) still reaches onStreamError, once',
    async ({ ratewise }) => {
      const first = 'data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"Hel"}}]}\n\n';
      const late =
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
      const encoder = new TextEncoder();
      const streamOf = (chunks) =>
        new ReadableStream({
          pull(c) {
            if (chunks.length) c.enqueue(encoder.encode(chunks.shift()));
            else c.close();
          },
        });
      const run = async (chunks) => {
        const reported = [];
        const fetch = ratewise.createFetch({
          peekStream: true,
          onStreamError: (info) => reported.push(info.classification.kind),
          fetch: async () =>
            new Response(streamOf([...chunks]), { status: 200, headers: { 'content-type': 'text/event-stream' } }),
        });
        const res = await fetch('https://api.openai.com/v1/chat/completions', { method: 'POST', body: '{}' });
        equal(await res.text(), chunks.join(''), `every byte of ${JSON.stringify(chunks)}`);
        return reported;
      };
      for (let cut = 1; cut < late.length; cut++) {
        equal(await run([first, late.slice(0, cut), late.slice(cut)]), ['overloaded'], `cut at ${cut}`);
      }
      // Begun in the chunk the peek read, ended later.
      equal(await run([first + late.slice(0, 20), late.slice(20)]), ['overloaded'], 'begun in the peek');
      // One byte at a time.
      equal(await run([first, ...late.split('')]), ['overloaded'], 'byte by byte');
    },
  ],
  [
    'a deadline or an abort while an error body or a peeked stream is read rejects with its reason, never returns a used body',
    async ({ ratewise, mock }) => {
      const slow500 = { status: 500, chunks: ['{"error":{"message":"', 'slow', ' body"}}'] };
      const slowStream = {
        status: 200,
        chunks: [': keep-alive\n\n', 'data: {"choices":[]}\n\n'],
        headers: { 'content-type': 'text/event-stream' },
      };
      await mock.config({ streamGapMs: 250 });
      for (const [name, step, options, abortAt] of [
        ['deadline, maxRetries 0', slow500, { deadlineMs: 300, maxRetries: 0 }],
        ['deadline, maxRetries 2', slow500, { deadlineMs: 300, maxRetries: 2 }],
        ['abort while the error body is read', slow500, { maxRetries: 0 }, 300],
        ['abort while the stream is peeked', slowStream, { peekStream: true }, 150],
      ]) {
        await mock.script([step]);
        const controller = new AbortController();
        const reason = new Error('caller aborted');
        const timer = abortAt && setTimeout(() => controller.abort(reason), abortAt);
        let outcome;
        try {
          const res = await ratewise.createFetch(options)(mock.chat, {
            method: 'POST',
            body: '{}',
            signal: controller.signal,
          });
          outcome = `resolved ${res.status}, bodyUsed ${res.bodyUsed}`;
          await res.arrayBuffer().catch(() => {});
        } catch (e) {
          outcome = e === reason ? 'the abort reason' : e?.name;
        } finally {
          clearTimeout(timer);
        }
        equal(outcome, abortAt ? 'the abort reason' : 'TimeoutError', name);
      }
    },
  ],
  [
    'peekStream: a stream still read after its fetch function was garbage-collected yields every byte and reports its later error',
    async ({ ratewise }) => {
      const first = 'data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"Hel"}}]}\n\n';
      const late =
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
      const encoder = new TextEncoder();
      const reported = [];
      let collected = false;
      const registry = new FinalizationRegistry(() => {
        collected = true;
      });
      // The fetch function is held by this scope only: once it returns, the caller keeps the response alone.
      const open = async () => {
        const chunks = [first, late];
        const fetch = ratewise.createFetch({
          peekStream: true,
          onStreamError: (info) => reported.push(info.classification.kind),
          fetch: async () =>
            new Response(
              new ReadableStream({
                pull(c) {
                  if (chunks.length) c.enqueue(encoder.encode(chunks.shift()));
                  else c.close();
                },
              }),
              { status: 200, headers: { 'content-type': 'text/event-stream' } },
            ),
        });
        registry.register(fetch, 'fetch');
        return fetch('https://api.openai.com/v1/chat/completions', { method: 'POST', body: '{}' });
      };
      const res = await open();
      // The instance may be freed now (its finalizers run): the stream must not depend on it.
      await collectGarbage(() => collected);
      equal(await res.text(), first + late, 'every byte');
      equal(reported, ['overloaded'], 'the later error was reported');
    },
  ],
];

/**
 * Collects garbage until `done()` (a FinalizationRegistry saw its target go), then a few rounds
 * more so that every registry's callbacks have run; at most 50 rounds. Uses `gc` where the runner
 * exposes it (node.test.mjs, --expose-gc in Deno, Chromium and workerd, Bun.gc), else makes
 * garbage. Returns `done()`: a runtime that keeps the target alive only tests less.
 */
async function collectGarbage(done) {
  const gc = globalThis.gc ?? (globalThis.Bun ? () => globalThis.Bun.gc(true) : undefined);
  let after = 3;
  for (let round = 0; round < 50 && after > 0; round++) {
    if (gc) gc();
    else Array.from({ length: 200_000 }, (_, i) => ({ i }));
    await new Promise((r) => setTimeout(r, 10));
    if (done()) after--;
  }
  return done();
}
