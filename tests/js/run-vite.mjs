// Bundler tier: builds tests/js/vite with Vite (the package's browser
// condition, its .wasm emitted as a hashed asset), serves the output from the
// mock API's origin and runs it in Debian's Chromium.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { startMock } from '../mock/server.mjs';
import { runPage } from './chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', '..', '.cache', 'vite-dist');
await build({ root: join(here, 'vite'), logLevel: 'warn', build: { outDir, emptyOutDir: true, target: 'es2022' } });
const mock = await startMock({ static: outDir });
let run;
try {
  run = await runPage(`${mock.url}/index.html`, { timeout: 30_000 });
} finally {
  await mock.close();
}
const { result, version } = run;
console.log(`# runtime: Chromium ${version} (headless), the package bundled by Vite`);
for (const r of result.results) console.log(`${r.ok ? 'ok' : 'not ok'} - ${r.name}`);
console.log(`vite: ${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 && result.passed > 0 ? 0 : 1);
