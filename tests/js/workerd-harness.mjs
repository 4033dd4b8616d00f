// Runs Workers in the real `workerd` binary from npm, on 127.0.0.1, bundled
// the way wrangler bundles them (conditions workerd/worker/browser, the
// packed ratewise's .wasm as a module). Used by the workerd tiers.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(join(root, 'package.json'));

/** A free TCP port on 127.0.0.1. */
export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** The warnings a Worker must never cause (cross-invocation promises). */
export const CROSS_REQUEST_WARNINGS = ['hung', 'different request context', 'never generate a response'];

/**
 * Bundles each worker's `entry` into `.cache/<name>/` and serves them all
 * with one workerd, each as its own service (its own isolate) on its own
 * port. A worker's `bindings` become text bindings (`env.NAME`);
 * `durableObjects: ['Class']` defines namespaces (in-memory storage) and
 * `namespaces: { NAME: { className, service } }` binds one defined by any
 * worker. With `storage` (a directory), Durable Objects keep their storage
 * on disk there instead, so a second workerd started on it sees what the
 * first one stored. Resolves once every worker answers; returns their URLs
 * by name, workerd's log so far, and `stop()`.
 */
export async function startWorkers({ name, workers, storage, pkg }) {
  const out = join(root, '.cache', name);
  mkdirSync(out, { recursive: true });
  // `pkg`: another build's package folder (a benchmark's baseline) instead of the packed one.
  const from = pkg ?? join(here, 'node_modules', 'ratewise');
  for (const wasm of ['ratewise_bg.wasm', 'ratewise_coordinator_bg.wasm']) {
    copyFileSync(join(from, wasm), join(out, wasm));
  }
  const ports = {};
  const services = [];
  const sockets = [];
  const consts = [];
  for (const [i, w] of workers.entries()) {
    await build({
      entryPoints: [w.entry],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser'],
      external: ['*.wasm'],
      nodePaths: [join(here, 'node_modules')],
      ...(pkg && { alias: { ratewise: join(pkg, 'workerd.js') } }),
      outfile: join(out, `${w.name}.js`),
      logLevel: 'warning',
    });
    ports[w.name] = await freePort();
    const bindings = [
      ...Object.entries(w.bindings ?? {}).map(
        ([k, v]) => `(name = ${JSON.stringify(k)}, text = ${JSON.stringify(String(v))})`,
      ),
      ...Object.entries(w.namespaces ?? {}).map(
        ([k, { className, service }]) =>
          `(name = ${JSON.stringify(k)}, durableObjectNamespace = (className = ${JSON.stringify(className)}, serviceName = ${JSON.stringify(service)}))`,
      ),
    ];
    const objects = (w.durableObjects ?? []).map(
      (c) => `(className = ${JSON.stringify(c)}, uniqueKey = ${JSON.stringify(`${w.name}-${c}`)})`,
    );
    services.push(`(name = ${JSON.stringify(w.name)}, worker = .worker${i})`);
    sockets.push(`(name = "s_${w.name}", address = "127.0.0.1:${ports[w.name]}", http = (), service = "${w.name}")`);
    consts.push(`const worker${i} :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "${w.name}.js"),
    (name = "ratewise_bg.wasm", wasm = embed "ratewise_bg.wasm"),
    (name = "ratewise_coordinator_bg.wasm", wasm = embed "ratewise_coordinator_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [${bindings.join(', ')}],
  ${objects.length ? `durableObjectNamespaces = [${objects.join(', ')}],\n  durableObjectStorage = ${storage ? '(localDisk = "do-disk")' : '(inMemory = void)'},` : ''}
  globalOutbound = "internet",
);`);
  }
  writeFileSync(
    join(out, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    ${services.join(',\n    ')},
    (name = "internet", network = (allow = ["public", "private", "local"])),${storage ? `\n    (name = "do-disk", disk = (path = ${JSON.stringify(storage)}, writable = true)),` : ''}
  ],
  sockets = [${sockets.join(', ')}],
);
${consts.join('\n')}
`,
  );
  // bin/workerd is either the native binary or a launcher script: run it as is.
  const bin = join(dirname(require.resolve('workerd/package.json')), 'bin', 'workerd');
  const child = spawn(bin, ['serve', join(out, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk) => {
      log += chunk;
    });
  }
  const urls = Object.fromEntries(Object.entries(ports).map(([n, p]) => [n, `http://127.0.0.1:${p}`]));
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  const deadline = Date.now() + 20_000;
  for (const url of Object.values(urls)) {
    for (;;) {
      try {
        await fetch(url, { method: 'HEAD' });
        break;
      } catch (e) {
        if (child.exitCode !== null) throw new Error(`workerd exited with code ${child.exitCode}:\n${log}`);
        if (Date.now() > deadline) {
          await stop();
          throw new Error(`workerd did not answer on ${url}: ${e.message}\n${log}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  return { urls, log: () => log, stop };
}

/** One Worker: `startWorkers` with a single service; its URL is `url`. */
export async function startWorkerd({ name, entry, bindings = {}, pkg }) {
  const started = await startWorkers({ name, workers: [{ name: 'main', entry, bindings }], pkg });
  return { ...started, url: started.urls.main };
}
