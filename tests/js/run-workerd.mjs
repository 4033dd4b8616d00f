// workerd tier: bundles tests/js/workerd/worker.mjs with esbuild as wrangler
// would, starts the real `workerd` binary from npm on 127.0.0.1 with network
// access to the local mock API, and runs the shared suite inside it.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { startMock } from '../mock/server.mjs';
import { startCacheBackend } from './cache-backend.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(root, '.cache', 'workerd');
const require = createRequire(join(root, 'package.json'));
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, 'workerd', 'worker.mjs')],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  conditions: ['workerd', 'worker', 'browser'],
  external: ['*.wasm'],
  outfile: join(out, 'worker.js'),
  logLevel: 'warning',
});
for (const wasm of ['ratewise_bg.wasm', 'ratewise_coordinator_bg.wasm']) {
  copyFileSync(join(here, 'node_modules', 'ratewise', wasm), join(out, wasm));
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const mock = await startMock();
// workerd's caches.default stores through this service (as Miniflare's does).
const cacheBackend = await startCacheBackend();
const port = await freePort();
writeFileSync(
  join(out, 'config.capnp'),
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (allow = ["public", "private", "local"])),
    (name = "cache", external = (address = "${cacheBackend.address}", http = ())),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
  v8Flags = ["--expose-gc"],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "ratewise_bg.wasm", wasm = embed "ratewise_bg.wasm"),
    (name = "ratewise_coordinator_bg.wasm", wasm = embed "ratewise_coordinator_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [(name = "MOCK_URL", text = "${mock.url}")],
  globalOutbound = "internet",
  cacheApiOutbound = "cache",
);
`,
);

// bin/workerd is either the native binary or a launcher script: run it as is.
const workerdBin = join(dirname(require.resolve('workerd/package.json')), 'bin', 'workerd');
const child = spawn(workerdBin, ['serve', join(out, 'config.capnp')], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
// workerd's own log: echoed, and searched for the warnings a Worker must never cause.
let workerdLog = '';
for (const stream of [child.stdout, child.stderr]) {
  stream.on('data', (chunk) => {
    workerdLog += chunk;
    process.stderr.write(chunk);
  });
}
const stop = async () => {
  child.kill('SIGTERM');
  await mock.close();
  await cacheBackend.close();
};

let result;
try {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const only = process.argv[2] ? `?only=${encodeURIComponent(process.argv[2])}` : '';
      const res = await fetch(`http://127.0.0.1:${port}/${only}`);
      result = await res.json();
      break;
    } catch (e) {
      if (child.exitCode !== null) throw new Error(`workerd exited with code ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`workerd did not answer on port ${port}: ${e.message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // The suite's cache tests ran against workerd's own caches.default.
  const seen = { ...cacheBackend.seen };
  const used = seen.put >= 3 && seen.hit >= 3;
  if (!process.argv[2] || 'cache'.includes(process.argv[2]) || process.argv[2].startsWith('cache')) {
    result.results.push({
      name: `workerd: the suite's cache tests stored and found their entries through caches.default (${JSON.stringify(seen)})`,
      ok: used,
      error: used ? undefined : 'the cache backend behind caches.default saw too few puts or hits',
    });
  }
  if (!process.argv[2]) result.results.push(...(await sharedInstance()));
} finally {
  await stop();
}

/**
 * A module-scope instance with maxConcurrency 1, shared by concurrent
 * invocations: each must answer, none may be cancelled as hung, and workerd
 * must log no cross-request warning (the queue, throttle and breaker never
 * make one invocation wait on another's promise or timer). Then load: 1,000
 * concurrent calls from one invocation through a module-scope instance with
 * the queue off and on.
 */
async function sharedInstance() {
  const results = [];
  const check = async (name, fn) => {
    try {
      await mock.reset();
      await fn();
      results.push({ name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, error: String(e?.stack ?? e) });
    }
  };
  const hit = async (key) => {
    const res = await fetch(`http://127.0.0.1:${port}/shared${key ? `?key=${key}` : ''}`);
    if (res.status !== 200) throw new Error(`invocation answered ${res.status}: ${await res.text()}`);
    return res.json();
  };
  const quiet = () => {
    for (const bad of ['hung', 'different request context', 'never generate a response']) {
      if (workerdLog.includes(bad)) throw new Error(`workerd logged "${bad}"`);
    }
  };
  await check(
    'workerd: 8 concurrent invocations through one module-scope maxConcurrency 1 instance all answer',
    async () => {
      await mock.setConfig({ latencyMs: 300 });
      const answers = await Promise.all(Array.from({ length: 8 }, () => hit()));
      if (!answers.every((a) => a.status === 200)) throw new Error(JSON.stringify(answers.map((a) => a.status)));
      const { stats } = answers.at(-1);
      if (stats.queued < 1) throw new Error(`nothing queued: ${JSON.stringify(stats)}`);
      quiet();
      // The isolate still works afterwards.
      if ((await hit()).status !== 200) throw new Error('the isolate is jammed');
    },
  );
  await check(
    'workerd: the throttle and the breaker across invocations: every invocation answers, no warning',
    async () => {
      await mock.setConfig({ latencyMs: 50, limit: 3, windowMs: 400 });
      const paced = await Promise.all(Array.from({ length: 6 }, () => hit('sk-paced')));
      if (!paced.every((a) => a.status === 200)) throw new Error(JSON.stringify(paced.map((a) => a.status)));
      await mock.setConfig({ latencyMs: 50, limit: Infinity, quota: true });
      const tripped = await Promise.all(Array.from({ length: 6 }, () => hit('sk-broke')));
      if (!tripped.every((a) => a.status === 429)) throw new Error(JSON.stringify(tripped.map((a) => a.status)));
      if (!tripped.some((a) => a.breaker === 'open')) throw new Error('the breaker never answered');
      quiet();
    },
  );
  await check(
    'workerd: one invocation stores its answer in caches.default (waitUntil), a later one is answered from it, no warning',
    async () => {
      cacheBackend.reset();
      const call = async (step) => {
        const res = await fetch(`http://127.0.0.1:${port}/cache`);
        if (res.status !== 200) throw new Error(`${step}: invocation answered ${res.status}: ${await res.text()}`);
        return res.json();
      };
      const stored = await call('store');
      if (stored.status !== 200 || stored.cache !== null) throw new Error(`store: ${JSON.stringify(stored)}`);
      // The first invocation returned at once; its waitUntil finished the copy.
      for (let i = 0; i < 50 && cacheBackend.seen.put === 0; i++) await new Promise((r) => setTimeout(r, 20));
      await mock.setConfig({ quota: true });
      const hit = await call('hit');
      if (hit.status !== 200 || hit.cache !== 'hit' || hit.body !== stored.body) {
        throw new Error(`hit: ${JSON.stringify(hit)} after ${JSON.stringify(stored)}`);
      }
      if (cacheBackend.seen.put !== 1 || cacheBackend.seen.hit !== 1) {
        throw new Error(`the backend saw ${JSON.stringify(cacheBackend.seen)}`);
      }
      if (hit.stats.cacheHits !== 1) throw new Error(JSON.stringify(hit.stats));
      quiet();
    },
  );
  await check(
    "workerd: an invocation out of quota while another's store is still in flight never waits for it; no warning",
    async () => {
      cacheBackend.reset();
      // A's caches.default put lands 0.8 s after A answered: were B to wait for it (a lookup waits up to
      // 1 s), B would be answered from it.
      cacheBackend.putDelayMs = 800;
      const call = async (step) => {
        const res = await fetch(`http://127.0.0.1:${port}/cache?key=sk-cached-in-flight`);
        if (res.status !== 200) throw new Error(`${step}: invocation answered ${res.status}: ${await res.text()}`);
        return res.json();
      };
      const stored = await call('store');
      if (stored.status !== 200 || stored.cache !== null) throw new Error(`store: ${JSON.stringify(stored)}`);
      await mock.setConfig({ quota: true });
      // B's lookup skips A's store in flight (made with A's waitUntil): the failure as it was.
      const other = await call('other');
      if (other.status !== 429 || other.cache !== null || cacheBackend.seen.put !== 0) {
        throw new Error(`other: ${JSON.stringify(other)}, backend ${JSON.stringify(cacheBackend.seen)}`);
      }
      for (let i = 0; i < 100 && cacheBackend.seen.put === 0; i++) await new Promise((r) => setTimeout(r, 20));
      const hit = await call('hit');
      if (hit.cache !== 'hit' || hit.body !== stored.body) throw new Error(`hit: ${JSON.stringify(hit)}`);
      quiet();
    },
  );
  for (const queue of ['off', 'on']) {
    await check(
      `workerd: 1,000 concurrent calls from one invocation through one module-scope instance, queue ${queue}${queue === 'on' ? ' (maxConcurrency 8)' : ''}: all settle, no listener left, no warning`,
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/load?n=1000&queue=${queue}`);
        if (res.status !== 200) throw new Error(`the invocation answered ${res.status}: ${await res.text()}`);
        const r = await res.json();
        console.log(
          `# queue ${queue}: ${r.settled} settled in ${r.ms} ms (${r.queued} queued), ${JSON.stringify(r.statuses)}`,
        );
        if (r.settled !== 1000 || r.statuses[200] !== 1000) throw new Error(JSON.stringify(r));
        if (r.listeners.added < r.calls || r.listeners.removed !== r.listeners.added) {
          throw new Error(`abort listeners on the long-lived signal: ${JSON.stringify(r.listeners)}`);
        }
        if (queue === 'on' && r.queued < 900) throw new Error(`only ${r.queued} calls queued`);
        if ((await mock.stats()).requests !== 1000) throw new Error('the mock did not see 1,000 requests');
        quiet();
      },
    );
    await check(
      `workerd: 1,000 concurrent invocations, one call each through one module-scope instance, queue ${queue}: all answer, no warning`,
      async () => {
        const answers = await Promise.all(
          Array.from({ length: 1000 }, async () => {
            const res = await fetch(`http://127.0.0.1:${port}/load?n=1&queue=${queue}`);
            return res.status === 200 ? res.json() : { statuses: {}, error: `${res.status}: ${await res.text()}` };
          }),
        );
        const failed = answers.filter((a) => a.statuses[200] !== 1);
        if (failed.length) throw new Error(`${failed.length} invocations failed, e.g. ${JSON.stringify(failed[0])}`);
        // Once all have answered, every call has removed its listener.
        const { listeners, calls } = await (await fetch(`http://127.0.0.1:${port}/load?n=0&queue=${queue}`)).json();
        if (listeners.removed !== listeners.added) throw new Error(`abort listeners: ${JSON.stringify(listeners)}`);
        console.log(`# queue ${queue}: 1000 invocations answered; instance calls ${calls}`);
        quiet();
      },
    );
  }
  return results;
}

console.log(`# runtime: ${result.runtime}, wasm from the packed ratewise tarball (workerd condition)`);
for (const r of result.results) {
  console.log(r.ok ? `ok - ${r.name}` : `not ok - ${r.name}\n  ${r.error.split('\n').join('\n  ')}`);
}
const passed = result.results.filter((r) => r.ok).length;
const failed = result.results.length - passed;
console.log(`workerd: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
