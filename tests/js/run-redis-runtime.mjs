// Deno and Bun tiers of the Redis coordinator: starts a real redis-server, the Upstash REST
// endpoint in front of it and the mock API here, runs tests/js/redis-standalone.mjs in the real
// `deno` or `bun` binary with one TCP client and Upstash over HTTP, and reports what it saw.
//
//   node tests/js/run-redis-runtime.mjs deno|bun
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startMock } from '../mock/server.mjs';
import { startRedis, startUpstashRest } from './redis-harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = (name) => join(here, '..', '..', 'node_modules', '.bin', name);
const runtimes = {
  deno: {
    command: bin('deno'),
    args: ['run', '--allow-net', '--allow-read', '--allow-env', '--allow-sys'],
    clients: ['upstash', 'node-redis'],
  },
  bun: { command: bin('bun'), args: ['run'], clients: ['ioredis', 'node-redis', 'upstash'] },
};
const name = process.argv[2];
const runtime = runtimes[name];
if (!runtime) {
  console.error(`usage: node tests/js/run-redis-runtime.mjs ${Object.keys(runtimes).join('|')}`);
  process.exit(2);
}

const run = promisify(execFile);
const redis = await startRedis();
const rest = await startUpstashRest(redis.port);
const mock = await startMock();
let result;
try {
  const job = {
    mockUrl: mock.url,
    port: redis.port,
    rest: { url: rest.url, token: rest.token },
    clients: runtime.clients,
  };
  const { stdout } = await run(
    runtime.command,
    [...runtime.args, join(here, 'redis-standalone.mjs'), JSON.stringify(job)],
    {
      cwd: here,
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: '1' },
    },
  );
  result = JSON.parse(stdout.trim().split('\n').pop());
} finally {
  await mock.close();
  await rest.close();
  await redis.stop();
}
console.log(`# runtime: ${name}, the Redis coordinator (resolved to ratewise/${result.entry})`);
for (const r of result.results) {
  console.log(r.ok ? `ok - ${r.name}` : `not ok - ${r.name}\n  ${r.error.split('\n').join('\n  ')}`);
}
console.log(`${name} redis: ${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 && result.passed > 0 ? 0 : 1);
