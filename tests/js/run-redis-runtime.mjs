// Deno and Bun tiers of the Redis coordinator: starts a real redis-server, the Upstash REST
// endpoint in front of it and the mock API here, runs tests/js/redis-standalone.mjs in the real
// `deno` or `bun` binary with one TCP client and Upstash over HTTP, and reports what it saw.
//
//   node tests/js/run-redis-runtime.mjs deno|bun
import { startMock } from '../mock/server.mjs';
import { startRedis, startUpstashRest } from './redis-harness.mjs';
import { report, runScript, runtimeFromArgs } from './runtime-runner.mjs';

/** The clients each runtime runs, and the flags they need (node-redis reads the OS in Deno). */
const setups = {
  deno: { clients: ['upstash', 'node-redis'], flags: ['--allow-sys'] },
  bun: { clients: ['ioredis', 'node-redis', 'upstash'], flags: [] },
};
const name = runtimeFromArgs('run-redis-runtime.mjs');
const { clients, flags } = setups[name];
const redis = await startRedis();
const rest = await startUpstashRest(redis.port);
const mock = await startMock();
let result;
try {
  const job = { mockUrl: mock.url, port: redis.port, rest: { url: rest.url, token: rest.token }, clients };
  result = await runScript(name, 'redis-standalone.mjs', JSON.stringify(job), flags);
} finally {
  await mock.close();
  await rest.close();
  await redis.stop();
}
report(`# runtime: ${name}, the Redis coordinator (resolved to ratewise/${result.entry})`, `${name} redis`, result);
