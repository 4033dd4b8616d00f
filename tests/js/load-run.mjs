// The load that tests/js/load.test.mjs runs in a child process (node --expose-gc):
//
//   node --expose-gc tests/js/load-run.mjs URL [N] [ROUNDS]
//
// Two module-scope instances, the queue off (maxConcurrency Infinity) and on (8), each with a
// long-lived createFetch `signal` and a long-lived `init.signal` shared by every call and a
// deadline (so every call links the signals and sets a timer). The throttle stays on (the server
// sends no rate-limit headers, so it never waits). One warm-up batch of N concurrent
// calls per instance grows every pool to its peak; then ROUNDS load batches per instance. Each
// batch counts how its calls settled. After GC, the JS heap and the wasm memory and externref
// table are measured after the warm-up and after the load. Prints one JSON line of results,
// then `settled <epoch ms>`, and ends by itself: no process.exit, so the parent sees how long the
// process takes to exit once nothing is left to do.
//
// Each measure point follows a queue-on batch, long enough for the idle keep-alive sockets of the
// queue-off batch before it to have closed, so both see fetch's pool in the same state. Each call
// gets a fresh `init` and headers object, as an application's calls do.
import { getEventListeners, setMaxListeners } from 'node:events';
import { createFetch } from 'ratewise';

const [url, n = '10000', r = '1'] = process.argv.slice(2);
const N = Number(n);
const ROUNDS = Number(r);
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

// The package's own wasm exports: initSync returns the instance node.js made (on the first call: createFetch()).
const { initSync } = await import(new URL('./ratewise.js', import.meta.resolve('ratewise')).href);
createFetch();
const wasm = initSync();

/** Counts the abort listeners added to and removed from `signal`. */
function counted(signal) {
  const count = { added: 0, removed: 0 };
  const { addEventListener: add, removeEventListener: remove } = signal;
  signal.addEventListener = function (type, ...rest) {
    if (type === 'abort') count.added++;
    return add.call(this, type, ...rest);
  };
  signal.removeEventListener = function (type, ...rest) {
    if (type === 'abort') count.removed++;
    return remove.call(this, type, ...rest);
  };
  return count;
}

const instanceController = new AbortController();
const callController = new AbortController();
// N calls in flight each listen to both signals at once: that is legitimate, not a leak.
setMaxListeners(0, instanceController.signal, callController.signal);
const listeners = { instance: counted(instanceController.signal), call: counted(callController.signal) };

const modes = [
  ['queue off', Infinity],
  ['queue on (maxConcurrency 8)', 8],
].map(([name, maxConcurrency]) => ({
  name,
  fetch: createFetch({ maxConcurrency, signal: instanceController.signal, deadlineMs: 120_000 }),
}));

const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] });

async function batch(mode) {
  const started = performance.now();
  const calls = [];
  for (let i = 0; i < N; i++) {
    calls.push(
      mode
        .fetch(url, {
          method: 'POST',
          headers: { authorization: 'Bearer sk-load', 'content-type': 'application/json' },
          body: BODY,
          signal: callController.signal,
        })
        .then(async (res) => {
          await res.arrayBuffer();
          return res.status;
        }),
    );
  }
  const settled = await Promise.allSettled(calls);
  const statuses = {};
  let rejected = 0;
  for (const s of settled) {
    if (s.status === 'fulfilled') statuses[s.value] = (statuses[s.value] ?? 0) + 1;
    else rejected++;
  }
  const reasons = [...new Set(settled.filter((s) => s.status === 'rejected').map((s) => String(s.reason)))];
  return {
    mode: mode.name,
    calls: N,
    settled: settled.length,
    statuses,
    rejected,
    reasons: reasons.slice(0, 3),
    ms: Math.round(performance.now() - started),
  };
}

/** Collects garbage until the heap stops shrinking (FinalizationRegistry callbacks run between). */
async function measure() {
  await new Promise((resolve) => setTimeout(resolve, 100));
  let heap = Infinity;
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const now = process.memoryUsage().heapUsed;
    if (now >= heap) break;
    heap = now;
  }
  const table = wasm.__wbindgen_externrefs;
  let liveExternrefs = 0;
  for (let i = 0; i < table.length; i++) if (table.get(i) != null) liveExternrefs++;
  return {
    heapUsed: process.memoryUsage().heapUsed,
    wasmMemory: wasm.memory.buffer.byteLength,
    externrefTable: table.length,
    liveExternrefs,
  };
}

const batches = [];
for (const mode of modes) batches.push({ warmUp: true, ...(await batch(mode)) });
const before = await measure();
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of modes) batches.push(await batch(mode));
}
const atSettle = process.getActiveResourcesInfo();
const after = await measure();

const result = {
  batches,
  before,
  after,
  stats: modes.map((m) => ({ mode: m.name, ...m.fetch.stats() })),
  listeners: {
    instance: { ...listeners.instance, left: getEventListeners(instanceController.signal, 'abort').length },
    call: { ...listeners.call, left: getEventListeners(callController.signal, 'abort').length },
  },
  resources: { atSettle, afterGc: process.getActiveResourcesInfo() },
};
console.log(JSON.stringify(result));
console.log(`settled ${Date.now()}`);
