// createFetch({ telemetry }) in the real workerd, the SDK bundled into the Worker as wrangler would:
// an explicit tracer records the call and attempt spans; `telemetry: true`, which cannot import
// @opentelemetry/api by name in a bundled Worker, finds what the SDK registered; nothing hangs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { startMock } from '../mock/server.mjs';
import { mockClient } from './suite.mjs';
import { CROSS_REQUEST_WARNINGS, startWorkerd } from './workerd-harness.mjs';

// The OpenTelemetry SDK, bundled for browsers (its `browser` field maps out node's os and crypto).
await build({
  stdin: {
    contents:
      "export { trace } from '@opentelemetry/api';\n" +
      "export { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';\n",
    resolveDir: fileURLToPath(new URL('.', import.meta.url)),
  },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  outfile: fileURLToPath(new URL('../../.cache/otel-workerd.mjs', import.meta.url)),
  logLevel: 'warning',
});
const server = await startMock();
const mock = mockClient(server.url);
const worker = await startWorkerd({
  name: 'telemetry-workerd',
  entry: fileURLToPath(new URL('./workerd/telemetry.mjs', import.meta.url)),
});
test.after(async () => {
  await worker.stop();
  await server.close();
});

const run = async (mode) => (await fetch(`${worker.url}/?mode=${mode}&mock=${encodeURIComponent(server.url)}`)).json();

test('workerd: an explicit tracer records the call span and one HTTP span per attempt', async () => {
  await mock.reset();
  await mock.script([{ name: 'rate_limit', retryAfterMs: 10 }]);
  const { status, spans } = await run('explicit');
  assert.equal(status, 200);
  assert.deepEqual(spans, [
    { name: 'POST', child: true, status: 429, error: '429', events: [] },
    { name: 'POST', child: true, status: 200, events: [] },
    // The usage joined: the call span ended with the body, the mock's 5 output tokens on it.
    { name: 'chat gpt-4o-mini', child: false, attempts: 2, tokens: 5, events: ['ratewise.wait.backoff'] },
  ]);
});

test('workerd: telemetry: true finds the tracer the bundled SDK registered globally', async () => {
  await mock.reset();
  const { status, spans } = await run('global');
  assert.equal(status, 200);
  assert.deepEqual(spans, [
    { name: 'POST', child: true, status: 200, events: [] },
    { name: 'chat gpt-4o-mini', child: false, attempts: 1, tokens: 5, events: [] },
  ]);
  for (const warning of CROSS_REQUEST_WARNINGS) assert.ok(!worker.log().includes(warning), worker.log());
});
