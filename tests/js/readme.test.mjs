// The README's examples marked `<!-- readme-test: node -->` are extracted and
// run as they are, against the mock API (the openai client reads
// OPENAI_BASE_URL), so the documentation cannot drift from the package.
// Each example logs only the model's reply: its stdout must be the mock's
// reply once per console.log in it (nothing for one that logs nothing), and
// one that calls the API must have been retried past the scripted 429.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { REPLY_TEXT } from '../mock/fixtures.mjs';
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
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [file], { env, timeout: 20_000 });
    assert.doesNotMatch(stderr, /Error/, stderr);
    const logs = code.match(/console\.log\(/g)?.length ?? 0;
    assert.equal(stdout, `${REPLY_TEXT}\n`.repeat(logs), `stdout of example ${i + 1} (stderr: ${stderr})`);
    const { byStatus } = server.stats();
    if (logs) assert.deepEqual(byStatus, { 200: 1, 429: 1 }, 'one scripted 429, retried, then the reply');
    else assert.deepEqual(byStatus, {}, 'an example that prints nothing calls no API');
  });
});
