// Node tier: which wasm module each entry loads. The coordinators' books (the
// Durable Object's and Redis's) are their own module,
// ratewise_coordinator_bg.wasm: the module every import loads
// (ratewise_bg.wasm) must not carry them, and importing the package must not
// fetch or instantiate the coordinator's. It loads on the first use of
// RatewiseCoordinator or redisCoordinator, from the main entry or from
// `ratewise/coordinator`.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, 'node_modules', 'ratewise');
const exportsOf = (file) =>
  WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(join(pkg, file)))).map((e) => e.name);
const STEPS = ['coordinatorApply', 'coordinatorBudget', 'coordinatorLease', 'coordinatorStep'];

test('the default .wasm exports no coordinator step; the coordinator .wasm exports them, and no classify', () => {
  const main = exportsOf('ratewise_bg.wasm');
  assert.ok(main.includes('classify') && main.includes('createFetch'));
  for (const step of STEPS) assert.ok(!main.includes(step), `ratewise_bg.wasm exports ${step}`);
  const coordinator = exportsOf('ratewise_coordinator_bg.wasm');
  for (const step of STEPS) assert.ok(coordinator.includes(step), `ratewise_coordinator_bg.wasm lacks ${step}`);
  assert.ok(!coordinator.includes('classify') && !coordinator.includes('createFetch'));
});

test('the package ships the coordinator module and its entry', () => {
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  assert.ok(manifest.files.includes('ratewise_coordinator_bg.wasm'));
  assert.deepEqual(Object.keys(manifest.exports['./coordinator']).sort(), [
    'browser',
    'bun',
    'default',
    'deno',
    'node',
    'types',
    'workerd',
  ]);
});

test('the manifest declares both optional peers once each (a repeated key silently drops the first)', () => {
  const text = readFileSync(join(pkg, 'package.json'), 'utf8');
  for (const key of ['peerDependencies', 'peerDependenciesMeta']) {
    assert.equal(text.split(`"${key}"`).length - 1, 1, `"${key}" appears once in package.json`);
  }
  const manifest = JSON.parse(text);
  assert.deepEqual(Object.keys(manifest.peerDependencies).sort(), ['@opentelemetry/api', '@pydantic/genai-prices']);
  for (const peer of Object.keys(manifest.peerDependencies)) {
    assert.equal(manifest.peerDependenciesMeta[peer]?.optional, true, `${peer} is an optional peer`);
  }
});

/**
 * Runs `body` in a fresh Node process after `import(entry)`, with every wasm
 * instance and every fetch recorded: `seen()` answers which modules were
 * instantiated (ratewise's two, told apart by their exports) and which files
 * were fetched.
 * The web entry's fetches of file: URLs are answered from disk.
 */
async function run(entry, body) {
  const script = `
    import { readFileSync } from 'node:fs';
    import { fileURLToPath } from 'node:url';
    const instances = [];
    const fetched = [];
    const note = (instance) => {
      const names = Object.keys(instance.exports);
      // Others are Node's own (undici's HTTP parser).
      if (names.includes('classify')) instances.push('main');
      if (names.includes('coordinatorApply')) instances.push('coordinator');
    };
    const Instance = WebAssembly.Instance;
    WebAssembly.Instance = function (module, imports) {
      const instance = new Instance(module, imports);
      note(instance);
      return instance;
    };
    for (const name of ['instantiate', 'instantiateStreaming']) {
      const original = WebAssembly[name];
      WebAssembly[name] = async (...args) => {
        const result = await original.apply(WebAssembly, args);
        note(result.instance ?? result);
        return result;
      };
    }
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (url, init) => {
      const href = String(url instanceof Request ? url.url : url);
      if (!href.startsWith('file:')) return realFetch(url, init);
      fetched.push(href.slice(href.lastIndexOf('/') + 1));
      return new Response(readFileSync(fileURLToPath(href)), { headers: { 'content-type': 'application/wasm' } });
    };
    const seen = () => ({ instances: [...instances], fetched: [...fetched] });
    const ratewise = await import(${JSON.stringify(entry)});
    const out = {};
    ${body}
    console.log(JSON.stringify(out));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: here });
  return JSON.parse(stdout);
}

// A node-redis-shaped client holding nothing: every script answers "no value".
const REDIS = `{ isReady: true, sendCommand: async () => '=' }`;
const LOOKUP = `{ op: 'lookup', key: '0123456789abcdef' }`;

for (const [name, entry] of [
  ['the Node entry', join(pkg, 'node.js')],
  ['the web entry (browsers, bundlers, Deno)', join(pkg, 'browser.js')],
]) {
  test(`${name}: importing the package, classify and a createFetch call never load the coordinator module; redisCoordinator does`, async () => {
    const out = await run(
      entry,
      `
      ratewise.classify({ status: 429, body: '{"error":{"code":"insufficient_quota"}}' });
      await ratewise.createFetch()('data:,ok');
      await new Promise((r) => setTimeout(r, 100));
      out.before = seen();
      out.answer = await ratewise.redisCoordinator(${REDIS}).send('0123456789abcdef', ${LOOKUP});
      out.after = seen();
      `,
    );
    assert.deepEqual(out.before.instances, ['main']);
    assert.ok(!out.before.fetched.some((f) => f.includes('coordinator')), JSON.stringify(out.before));
    assert.deepEqual(out.answer, { trip: null });
    assert.deepEqual(out.after.instances, ['main', 'coordinator']);
  });
}

test('the Node entry compiles and instantiates nothing at import; the first classify() does, once', async () => {
  const out = await run(
    join(pkg, 'node.js'),
    `
    out.before = seen();
    const lazy = ratewise.classify;
    out.first = ratewise.classify({ status: 429 }).kind;
    out.rebound = ratewise.classify !== lazy;
    // A reference taken before the first call keeps the wrapper: it must not read the .wasm again.
    const fs = (await import('node:fs')).default;
    const { syncBuiltinESMExports } = await import('node:module');
    const read = fs.readFileSync;
    out.reads = 0;
    fs.readFileSync = (file, ...rest) => {
      if (String(file).endsWith('ratewise_bg.wasm')) out.reads++;
      return read(file, ...rest);
    };
    syncBuiltinESMExports();
    out.again = lazy({ status: 503 }).kind;
    lazy({ status: 500 });
    out.after = seen();
    `,
  );
  assert.deepEqual(out.before.instances, []);
  assert.equal(out.first, 'rate_limit');
  assert.equal(out.rebound, true);
  assert.equal(out.again, 'overloaded');
  assert.equal(out.reads, 0, 'a call through the wrapper after the first reads ratewise_bg.wasm again');
  assert.deepEqual(out.after.instances, ['main']);
});

test("ratewise/coordinator alone loads only the coordinator module, on the Durable Object's first message", async () => {
  const out = await run(
    join(pkg, 'coordinator-node.js'),
    `
    const ctx = { storage: { get: async () => undefined, put: async () => {} }, blockConcurrencyWhile: (f) => f() };
    const object = new ratewise.RatewiseCoordinator(ctx);
    out.before = seen();
    const res = await object.fetch(new Request('http://do/', { method: 'POST', body: JSON.stringify(${LOOKUP}) }));
    out.answer = await res.json();
    out.after = seen();
    `,
  );
  assert.deepEqual(out.before.instances, []);
  assert.deepEqual(out.answer, { trip: null });
  assert.deepEqual(out.after.instances, ['coordinator']);
});

test('the exported functions keep their names (the glue is minified without --keep-names)', async () => {
  const ratewise = await import('ratewise');
  for (const name of ['classify', 'createFetch', 'redisCoordinator']) assert.equal(ratewise[name].name, name);
  const glue = await import(new URL('./ratewise.js', import.meta.resolve('ratewise')).href);
  assert.equal(glue.initSync.name, 'initSync');
});

test('importing the Node entries imports no node: builtin (a static node:fs import costs every cold import ~1.3 ms)', async () => {
  // A resolve hook (run off-thread by Node) reports every specifier the process imports.
  const hook = `export async function initialize({ port }) { globalThis.port = port; }
    export async function resolve(specifier, context, next) { globalThis.port.postMessage(specifier); return next(specifier, context); }`;
  const script = `
    import { register } from 'node:module';
    const { port1, port2 } = new MessageChannel();
    const seen = [];
    port1.on('message', (s) => seen.push(s));
    port1.unref();
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}), { data: { port: port2 }, transferList: [port2] });
    const settle = () => new Promise((r) => setTimeout(r, 50));
    const ratewise = await import(${JSON.stringify(join(pkg, 'node.js'))});
    await import(${JSON.stringify(join(pkg, 'coordinator-node.js'))});
    await settle();
    const atImport = seen.filter((s) => s.startsWith('node:'));
    const kind = ratewise.classify({ status: 429, body: '{"error":{"code":"insufficient_quota"}}' }).kind;
    console.log(JSON.stringify({ atImport, kind, all: seen.length }));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: here });
  const out = JSON.parse(stdout);
  assert.ok(out.all >= 2, `the hook saw the imports: ${stdout}`);
  assert.deepEqual(out.atImport, []);
  assert.equal(out.kind, 'quota_exhausted');
});
