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
 * Bundles `entry` into `.cache/<name>/` and serves it with workerd.
 * `bindings` become text bindings (`env.NAME`). Resolves once it answers;
 * returns its URL, its log so far, and `stop()`.
 */
export async function startWorkerd({ name, entry, bindings = {} }) {
  const out = join(root, '.cache', name);
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    external: ['*.wasm'],
    nodePaths: [join(here, 'node_modules')],
    outfile: join(out, 'worker.js'),
    logLevel: 'warning',
  });
  copyFileSync(join(here, 'node_modules', 'ratewise', 'ratewise_bg.wasm'), join(out, 'ratewise_bg.wasm'));
  const port = await freePort();
  const texts = Object.entries(bindings)
    .map(([k, v]) => `(name = ${JSON.stringify(k)}, text = ${JSON.stringify(String(v))})`)
    .join(', ');
  writeFileSync(
    join(out, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "ratewise_bg.wasm", wasm = embed "ratewise_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [${texts}],
  globalOutbound = "internet",
);
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
  const url = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await fetch(url, { method: 'HEAD' });
      break;
    } catch (e) {
      if (child.exitCode !== null) throw new Error(`workerd exited with code ${child.exitCode}:\n${log}`);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`workerd did not answer on port ${port}: ${e.message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, log: () => log, stop };
}
