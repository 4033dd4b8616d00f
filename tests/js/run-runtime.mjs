// Deno and Bun tiers: starts the mock API here, runs tests/js/standalone.mjs
// in the real `deno` or `bun` binary (both installed from the npm registry),
// and reports what the suite saw there.
//
//   node tests/js/run-runtime.mjs deno|bun
import { startMock } from '../mock/server.mjs';
import { report, runScript, runtimeFromArgs, version } from './runtime-runner.mjs';

const name = runtimeFromArgs('run-runtime.mjs');
const flags = name === 'deno' ? ['--v8-flags=--expose-gc'] : [];
const seen = await version(name);
const mock = await startMock();
let result;
try {
  result = await runScript(name, 'standalone.mjs', mock.url, flags);
} finally {
  await mock.close();
}
report(
  `# runtime: ${name} ${seen}, wasm from the packed ratewise tarball (resolved to ratewise/${result.entry})`,
  name,
  result,
);
