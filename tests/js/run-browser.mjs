// Chromium tier: a page imports the packed package through an import map,
// as a plain <script type="module"> user would, and runs the shared suite
// against the mock API (served from the same origin).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock } from '../mock/server.mjs';
import { runPage } from './chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const mock = await startMock({
  static: join(here, 'browser'),
  mounts: { '/pkg/': join(here, 'node_modules', 'ratewise'), '/tests/': here },
});
let run;
try {
  run = await runPage(`${mock.url}/index.html`);
} finally {
  await mock.close();
}
const { result, version } = run;
console.log(
  `# runtime: Chromium ${version} (headless), wasm from the packed ratewise tarball (browser condition, import map)`,
);
for (const r of result.results) {
  console.log(r.ok ? `ok - ${r.name}` : `not ok - ${r.name}\n  ${r.error.split('\n').join('\n  ')}`);
}
console.log(`chromium: ${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 && result.passed > 0 ? 0 : 1);
