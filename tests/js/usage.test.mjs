// Node tier, usage and cost (issue 21): every documented answer of tests/data/usage_cases.json,
// served by the mock API in chunks, read through createFetch; the ratewise/prices entry; and the
// default import that never loads the price data.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { calcPrice } from '@pydantic/genai-prices';
import * as ratewise from 'ratewise';
import { genaiPrices } from 'ratewise/prices';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';

const server = await startMock({ streamGapMs: 1 });
const mock = mockClient(server.url);
test.after(() => server.close());
test.beforeEach(() => mock.reset());

const CASES = JSON.parse(readFileSync(new URL('../data/usage_cases.json', import.meta.url), 'utf8'));
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));
const chat = (model = 'gpt-4o-mini') => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello there, how are you' }] }),
});

test('every documented answer of every provider gives its usage through createFetch, the body unchanged', async () => {
  assert.ok(CASES.length >= 25);
  const seen = [];
  const fetch = ratewise.createFetch({ onUsage: (e) => seen.push(e) });
  for (const c of CASES) {
    // Three chunks, cut at fixed fractions of the body: the scanner keeps what a cut splits.
    const body = c.body;
    const cuts = [0, Math.floor(body.length / 3), Math.floor((body.length * 2) / 3), body.length];
    const chunks = cuts.slice(1).map((end, i) => body.slice(cuts[i], end));
    await mock.script([{ status: 200, headers: { 'content-type': c.contentType, ...(c.headers ?? {}) }, chunks }]);
    const res = await fetch(`${server.url}/v1/chat/completions`, chat());
    assert.equal(await res.text(), body, `${c.name}: the same bytes`);
    await settled();
    const e = seen.pop();
    assert.ok(e, `${c.name}: reported`);
    const want = c.expect;
    const got = e.usage;
    const fields = ['outputTokens', 'cachedInputTokens', 'cacheWriteTokens', 'reasoningTokens'];
    for (const f of fields) assert.equal(got[f], want[f], `${c.name}: ${f}`);
    // Without a reported input, the request's own estimate stands in (24 characters ÷ 4).
    assert.equal(got.inputTokens, want.estimated ? 6 : want.inputTokens, `${c.name}: inputTokens`);
    assert.equal(e.model, want.model ?? 'gpt-4o-mini', `${c.name}: model (else the request's)`);
    assert.equal(e.estimated, want.estimated, `${c.name}: estimated`);
    assert.equal(e.responseId, want.responseId ?? null, `${c.name}: responseId`);
    if (want.providerCost !== null)
      assert.equal(e.costUsd, Number(want.providerCost), `${c.name}: the provider's cost`);
  }
  const total = fetch.stats().usage.total;
  assert.equal(total.answers, CASES.length);
  assert.equal(
    total.outputTokens,
    CASES.reduce((sum, c) => sum + c.expect.outputTokens, 0),
  );
});

test('a 1 MB JSON answer gives its usage through text(), json(), arrayBuffer() and body alike', async () => {
  const content = 'x'.repeat(1 << 20);
  const body = `{"id":"chatcmpl-1","model":"gpt-4o-2024-08-06","choices":[{"message":{"content":"${content}"}}],"usage":{"prompt_tokens":12,"completion_tokens":262144,"prompt_tokens_details":{"cached_tokens":8}}}`;
  const seen = [];
  const fetch = ratewise.createFetch({ onUsage: (e) => seen.push(e) });
  const reads = {
    text: (r) => r.text(),
    json: async (r) => JSON.stringify(await r.json()),
    arrayBuffer: async (r) => new TextDecoder().decode(await r.arrayBuffer()),
    body: (r) => new Response(r.body).text(),
  };
  for (const [how, read] of Object.entries(reads)) {
    await mock.script([{ status: 200, headers: { 'content-type': 'application/json' }, body }]);
    const got = await read(await fetch(mock.chat, chat()));
    assert.equal(got.length, body.length, `${how}: every byte`);
    await settled();
    const e = seen.pop();
    assert.deepEqual(
      [e?.usage.inputTokens, e?.usage.outputTokens, e?.usage.cachedInputTokens, e?.model, e?.estimated],
      [12, 262144, 8, 'gpt-4o-2024-08-06', false],
      how,
    );
  }
});

test('ratewise/prices: genaiPrices prices the answer as @pydantic/genai-prices does', async () => {
  const seen = [];
  const fetch = ratewise.createFetch({ prices: genaiPrices, onUsage: (e) => seen.push(e) });
  await (await fetch(mock.chat, chat())).text();
  await settled();
  const want = calcPrice({ input_tokens: 9, output_tokens: 5 }, 'gpt-4o-mini', { providerId: 'openai' }).total_price;
  assert.ok(want > 0);
  assert.equal(seen[0].costUsd, want);
  const usage = { inputTokens: 1000, outputTokens: 100, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
  assert.equal(genaiPrices({ model: 'no-such-model-anywhere', provider: 'openai', usage }), undefined);
  assert.equal(genaiPrices({ model: null, provider: 'openai', usage }), undefined);
  // Gemini is 'google' to genai-prices; a proxied model is priced by its name alone.
  assert.ok(genaiPrices({ model: 'gemini-2.5-flash', provider: 'gemini', usage }) > 0);
  assert.ok(genaiPrices({ model: 'claude-sonnet-4-20250514', provider: 'unknown', usage }) > 0);
});

test("importing 'ratewise' never loads @pydantic/genai-prices; importing 'ratewise/prices' does", () => {
  // A resolve hook in a fresh process records every specifier resolved.
  const hook = `export async function resolve(specifier, context, next) {
    if (specifier.includes('genai-prices')) process.stdout.write('LOADED ' + specifier + '\\n');
    return next(specifier, context);
  }`;
  const run = (entry) =>
    spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { register } from 'node:module';
         register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
         await import('${entry}');
         console.log('imported');`,
      ],
      { cwd: fileURLToPath(new URL('.', import.meta.url)), encoding: 'utf8' },
    );
  const plain = run('ratewise');
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /imported/);
  assert.doesNotMatch(plain.stdout, /LOADED/);
  const prices = run('ratewise/prices');
  assert.equal(prices.status, 0, prices.stderr);
  assert.match(prices.stdout, /LOADED @pydantic\/genai-prices/);
});
