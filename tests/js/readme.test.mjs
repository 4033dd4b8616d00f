// The README's examples marked `<!-- readme-test: node -->` are extracted and
// run as they are, against the mock API (the openai client reads
// OPENAI_BASE_URL), so the documentation cannot drift from the package.
// Each example logs only the model's reply: its stdout must be the mock's
// reply once per console.log in it (nothing for one that logs nothing), and
// one that calls the API must have been retried past the scripted 429.
// A marker may name a setup (`<!-- readme-test: node second-key -->`): the
// mock's state and environment for a fallback recipe, and the requests the
// mock must then have seen.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { REPLY_TEXT } from '../mock/fixtures.mjs';
import { startMock } from '../mock/server.mjs';
import { startRedis } from './redis-harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(join(here, '..', '..', 'README.md'), 'utf8');
const examples = [...readme.matchAll(/<!-- readme-test: node(?: ([\w-]+))? -->\s*```js\n([\s\S]*?)```/g)].map((m) => ({
  setup: m[1] ?? 'retried',
  code: m[2],
}));
const KEY = 'sk-readme-example';
const CHAT = '/v1/chat/completions';
const dir = join(here, '.readme');
mkdirSync(dir, { recursive: true });

const server = await startMock();
test.after(() => server.close());
// A real redis-server for the Redis coordinator's example, if the README has one.
const redisServer = examples.some((e) => e.setup === 'redis') ? await startRedis() : null;
test.after(() => redisServer?.stop());

/** A chat completion as the mock sends it, from `model`. */
const completion = (model) => ({
  id: 'chatcmpl-readme',
  object: 'chat.completion',
  created: 0,
  model,
  choices: [{ index: 0, message: { role: 'assistant', content: REPLY_TEXT }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
});

/** What each setup scripts, and the requests (path, status) the mock must see. */
const SETUPS = {
  // One rate limit first, so each example also shows the retry working.
  retried: {
    script: [{ name: 'rate_limit', retryAfterMs: 20 }],
    log: [
      [CHAT, 429],
      [CHAT, 200],
    ],
  },
  // Anthropic is overloaded once (529), then answers.
  anthropic: {
    script: [{ name: 'anthropic_overloaded', retryAfterMs: 20 }],
    env: { ANTHROPIC_API_KEY: 'sk-ant-readme', ANTHROPIC_BASE_URL: server.url },
    log: [
      ['/v1/messages', 529],
      ['/v1/messages', 200],
    ],
  },
  // The first project's key is out of quota; the second project's is fine.
  'second-key': {
    config: { quotaKeys: [KEY] },
    env: { OPENAI_BACKUP_KEY: 'sk-readme-backup' },
    log: [
      [CHAT, 429],
      [CHAT, 200],
    ],
  },
  // Project A is out of quota; project B, under the same key, answers.
  'sibling-project': {
    config: { quotaProjects: ['proj_A'] },
    log: [
      [CHAT, 429],
      [CHAT, 200],
    ],
    projects: ['proj_A', 'proj_B'],
  },
  // OpenAI is out of quota; the Azure deployment answers (the mock serves Azure's paths).
  'azure-backup': {
    config: { quotaKeys: [KEY] },
    env: { AZURE_OPENAI_ENDPOINT: server.url, AZURE_OPENAI_API_KEY: 'azure-readme-key' },
    log: [
      [CHAT, 429],
      ['/openai/deployments/gpt-4o-mini/chat/completions', 200],
    ],
  },
  // gpt-4o is rate limited for two minutes; gpt-4o-mini has room. Then the account is out of quota:
  // one request, and the cache answers.
  'bulk-model': {
    script: [
      { name: 'rate_limit', retryAfter: 120 },
      { status: 200, body: completion('gpt-4o-mini') },
      'insufficient_quota',
    ],
    log: [
      [CHAT, 429],
      [CHAT, 200],
      [CHAT, 429],
    ],
  },
  // The Redis coordinator's example: retried past one rate limit, through a real redis-server.
  redis: {
    script: [{ name: 'rate_limit', retryAfterMs: 20 }],
    env: { REDIS_URL: redisServer?.url },
    log: [
      [CHAT, 429],
      [CHAT, 200],
    ],
  },
  // gpt-4o allows two requests a minute: the interactive call leaves one, so the bulk call takes gpt-4o-mini.
  lanes: {
    config: { limit: 2, windowMs: 60_000 },
    log: [
      [CHAT, 200],
      [CHAT, 200],
    ],
  },
};

test('the README has runnable examples', () => assert.ok(examples.length >= 3, `found ${examples.length}`));

test('every setup a README example names exists, and each fallback recipe is there', () => {
  for (const { setup } of examples) assert.ok(SETUPS[setup], `unknown setup ${setup}`);
  const named = new Set(examples.map((e) => e.setup));
  for (const setup of ['second-key', 'sibling-project', 'azure-backup', 'bulk-model', 'lanes']) {
    assert.ok(named.has(setup), setup);
  }
});

examples.forEach(({ setup, code }, i) => {
  test(`README example ${i + 1} (${setup}) runs: ${code.split('\n').find((l) => l.includes('ratewise'))}`, async () => {
    const { script = [], config = {}, env = {}, log, projects } = SETUPS[setup];
    server.reset();
    server.setConfig(config);
    server.script(script);
    const file = join(dir, `example-${i + 1}.mjs`);
    writeFileSync(file, code);
    const vars = { ...process.env, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: `${server.url}/v1`, ...env };
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [file], { env: vars, timeout: 20_000 });
    assert.doesNotMatch(stderr, /Error/, stderr);
    const logs = code.match(/console\.log\(/g)?.length ?? 0;
    assert.equal(stdout, `${REPLY_TEXT}\n`.repeat(logs), `stdout of example ${i + 1} (stderr: ${stderr})`);
    const seen = server.stats().log.map((l) => [l.path, l.status]);
    if (logs) assert.deepEqual(seen, log, `the requests the mock saw (${setup})`);
    else assert.deepEqual(seen, [], 'an example that prints nothing calls no API');
    if (projects) {
      const sent = server.stats().log.map((l) => l.project);
      assert.deepEqual(sent, projects, 'the OpenAI-Project each request carried');
    }
  });
});
