// Node tier: load. 10,000 concurrent calls through one instance with the queue off and one with
// maxConcurrency 8, against a local HTTP server, run in a child process (tests/js/load-run.mjs,
// with --expose-gc) so that its heap, its handles and its exit are its own. Every call settles;
// the JS heap, the wasm memory and the JS references wasm holds are flat after GC between the
// warm-up and the load; no abort listener is left on the long-lived signals; no timer is left
// when the last call settles; and the process exits by itself soon after.
//
// RATEWISE_LOAD_N sets the calls per batch (default 10000), RATEWISE_LOAD_ROUNDS the load rounds
// after the warm-up (default 1).
//
// The server is a minimal node:http one rather than the mock API: the mock's per-request work
// (request log, key hashing, rate-limit headers) would make it the bottleneck.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const N = Number(process.env.RATEWISE_LOAD_N ?? 10_000);
const ROUNDS = Number(process.env.RATEWISE_LOAD_ROUNDS ?? 1);
const MiB = 1024 * 1024;

/** A chat-completions-shaped 200 for every POST. */
async function startServer() {
  const body = JSON.stringify({
    id: 'chatcmpl-load',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
  });
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_load' });
      res.end(body);
    });
  });
  // Up to 10,000 connections arrive at once: a short accept queue would drop SYNs (retried 1 s
  // later) and measure the kernel instead.
  await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 65_535 }, resolve));
  return { url: `http://127.0.0.1:${server.address().port}/v1/chat/completions`, server };
}

/** Runs the load child; resolves with its results and how long it took to exit after the last call settled. */
function runChild(url) {
  const child = spawn(
    process.execPath,
    ['--expose-gc', fileURLToPath(new URL('./load-run.mjs', import.meta.url)), url, String(N), String(ROUNDS)],
    { cwd: fileURLToPath(new URL('.', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let settledAt;
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    const m = /^settled (\d+)$/m.exec(stdout);
    if (m) settledAt ??= Number(m[1]);
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      const exitLagMs = settledAt === undefined ? undefined : Date.now() - settledAt;
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      resolve({ code, signal, stderr, exitLagMs, result: line ? JSON.parse(line) : undefined });
    });
  });
}

const { url, server } = await startServer();
const started = Date.now();
let run;
try {
  run = await runChild(url);
} finally {
  server.closeAllConnections();
  server.close();
}
const { result } = run;
const calls = N * (1 + ROUNDS);
const n = N.toLocaleString('en');

test(`the child ran to the end and wrote nothing to stderr`, () => {
  assert.equal(run.stderr, '', 'the child wrote to stderr (a warning or a crash)');
  assert.equal(run.signal, null, `the child was killed by ${run.signal}`);
  assert.equal(run.code, 0);
  assert.ok(result, 'the child printed its results');
});

test(`${n} concurrent calls, queue off and on (maxConcurrency 8): every call settles, with a 200`, (t) => {
  for (const b of result.batches) {
    t.diagnostic(`${b.warmUp ? 'warm-up' : 'load'} ${b.mode}: ${b.settled} settled in ${b.ms} ms`);
    assert.equal(b.settled, N, b.mode);
    assert.deepEqual(b.statuses, { 200: N }, `${b.mode}: ${JSON.stringify(b.reasons)}`);
    assert.equal(b.rejected, 0);
  }
  for (const s of result.stats) assert.equal(s.calls, calls, s.mode);
});

test('the JS heap, the wasm memory and what wasm holds are flat after GC', (t) => {
  const { before, after } = result;
  const mb = (n) => (n / MiB).toFixed(1);
  t.diagnostic(
    `after GC, warm-up -> load: heap ${mb(before.heapUsed)} -> ${mb(after.heapUsed)} MiB, wasm memory ${mb(before.wasmMemory)} -> ${mb(after.wasmMemory)} MiB, live JS references held by wasm ${before.liveExternrefs} -> ${after.liveExternrefs}`,
  );
  // 2 × N calls between the measure points: at 10,000, a leak of 64 bytes per call breaks the heap bound.
  assert.ok(
    after.heapUsed - before.heapUsed < 1.25 * MiB,
    `the JS heap grew by ${mb(after.heapUsed - before.heapUsed)} MiB`,
  );
  assert.ok(after.wasmMemory - before.wasmMemory <= MiB, 'the wasm memory grew');
  assert.ok(after.liveExternrefs - before.liveExternrefs < 100, 'wasm holds more JS references');
});

test('no abort listener is left on the long-lived signals', () => {
  for (const [name, l] of Object.entries(result.listeners)) {
    assert.equal(l.added, 2 * calls, `${name} signal: one listener per call`);
    assert.equal(l.left, 0, `${name} signal: ${l.left} listeners left`);
    assert.equal(l.removed, l.added, `${name} signal: every listener removed`);
  }
});

test('no timer is left when the last call settles', () => {
  const timers = result.resources.atSettle.filter((r) => r === 'Timeout');
  assert.deepEqual(timers, [], `active resources: ${result.resources.atSettle}`);
});

test('the process exits by itself soon after the last call settles', (t) => {
  t.diagnostic(`exited ${run.exitLagMs} ms after the last call settled; the run took ${Date.now() - started} ms`);
  assert.ok(run.exitLagMs < 3_000, `the child took ${run.exitLagMs} ms to exit`);
});
