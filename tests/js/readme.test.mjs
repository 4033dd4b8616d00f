// The README's examples marked `<!-- readme-test: node -->` are extracted and
// run as they are, against the mock API (the openai client reads
// OPENAI_BASE_URL), so the documentation cannot drift from the package.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startMock } from '../mock/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(join(here, '..', '..', 'README.md'), 'utf8');
const examples = [...readme.matchAll(/<!-- readme-test: node -->\s*```js\n([\s\S]*?)```/g)].map((m) => m[1]);
const dir = join(here, '.readme');
mkdirSync(dir, { recursive: true });

const server = await startMock();
test.after(() => server.close());

test('the README has runnable examples', () => assert.ok(examples.length >= 3, `found ${examples.length}`));

examples.forEach((code, i) => {
  test(`README example ${i + 1} runs: ${code.split('\n').find((l) => l.includes('ratewise'))}`, async () => {
    await fetch(`${server.url}/__mock/reset`, { method: 'POST' });
    // A rate limit first, so each example also shows the retry working.
    await server.script([{ name: 'rate_limit', retryAfterMs: 20 }]);
    const file = join(dir, `example-${i + 1}.mjs`);
    writeFileSync(file, code);
    const env = { ...process.env, OPENAI_API_KEY: 'sk-readme-example', OPENAI_BASE_URL: `${server.url}/v1` };
    const { stderr } = await promisify(execFile)(process.execPath, [file], { env, timeout: 20_000 });
    assert.doesNotMatch(stderr, /Error/, stderr);
  });
});
