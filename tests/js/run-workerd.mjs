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
copyFileSync(join(here, 'node_modules', 'ratewise', 'ratewise_bg.wasm'), join(out, 'ratewise_bg.wasm'));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const mock = await startMock();
const port = await freePort();
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
  bindings = [(name = "MOCK_URL", text = "${mock.url}")],
  globalOutbound = "internet",
);
`,
);

// bin/workerd is either the native binary or a launcher script: run it as is.
const workerdBin = join(dirname(require.resolve('workerd/package.json')), 'bin', 'workerd');
const child = spawn(workerdBin, ['serve', join(out, 'config.capnp')], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
const stop = async () => {
  child.kill('SIGTERM');
  await mock.close();
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
} finally {
  await stop();
}

console.log(`# runtime: ${result.runtime}, wasm from the packed ratewise tarball (workerd condition)`);
for (const r of result.results) {
  console.log(r.ok ? `ok - ${r.name}` : `not ok - ${r.name}\n  ${r.error.split('\n').join('\n  ')}`);
}
console.log(`workerd: ${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 && result.passed > 0 ? 0 : 1);
