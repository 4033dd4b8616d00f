// Deno and Bun tiers: starts the mock API here, runs tests/js/standalone.mjs
// in the real `deno` or `bun` binary (both installed from the npm registry),
// and reports what the suite saw there.
//
//   node tests/js/run-runtime.mjs deno|bun
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startMock } from '../mock/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = (name) => join(here, '..', '..', 'node_modules', '.bin', name);
const runtimes = {
  // Deno reads tests/js/package.json and resolves `ratewise` from node_modules.
  deno: {
    command: bin('deno'),
    args: ['run', '--allow-net', '--allow-read', '--allow-env', '--v8-flags=--expose-gc'],
    version: ['--version'],
  },
  bun: { command: bin('bun'), args: ['run'], version: ['--version'] },
};
const name = process.argv[2];
const runtime = runtimes[name];
if (!runtime) {
  console.error(`usage: node tests/js/run-runtime.mjs ${Object.keys(runtimes).join('|')}`);
  process.exit(2);
}

const run = promisify(execFile);
const version = (await run(runtime.command, runtime.version)).stdout.split('\n')[0].trim();
const mock = await startMock();
let result;
try {
  const { stdout } = await run(runtime.command, [...runtime.args, join(here, 'standalone.mjs'), mock.url], {
    cwd: here,
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  result = JSON.parse(stdout.trim().split('\n').pop());
} finally {
  await mock.close();
}
console.log(
  `# runtime: ${name} ${version}, wasm from the packed ratewise tarball (resolved to ratewise/${result.entry})`,
);
for (const r of result.results) {
  console.log(r.ok ? `ok - ${r.name}` : `not ok - ${r.name}\n  ${r.error.split('\n').join('\n  ')}`);
}
console.log(`${name}: ${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 && result.passed > 0 ? 0 : 1);
