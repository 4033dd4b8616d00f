// Node (>= 20.16) and Bun: the wasm is read from disk and compiled synchronously on the first call of
// classify() or createFetch(), not when this is imported, so `import { classify } from 'ratewise'`
// needs no init() call and an import that never calls them never compiles the module. The first
// call then rebinds both exports to the glue's own functions: later calls go straight to wasm. A
// reference taken before that (`const { classify } = await import('ratewise')`) keeps the wrapper,
// which then costs one check of `compiled`, never a second read of the file.
// node:fs comes from process.getBuiltinModule at that first call: a static `import ... from 'node:fs'`
// costs every cold import about 1.3 ms (Node builds the builtin's ES module facade), a fifth of the
// whole import (bench/startup.mjs).
import { classify as classifyNow, createFetch as createFetchNow, initSync } from './ratewise.js';

let compiled = false;
/** Instantiates the module (once; a failure is thrown again on the next call). */
function ready() {
  if (compiled) return;
  const fs = globalThis.process?.getBuiltinModule?.('node:fs');
  if (!fs) throw new Error('ratewise: this entry needs Node >= 20.16 or Bun (process.getBuiltinModule)');
  initSync({ module: fs.readFileSync(new URL('./ratewise_bg.wasm', import.meta.url)) });
  compiled = true;
  classify = classifyNow;
  createFetch = createFetchNow;
}

export let classify = (input) => {
  ready();
  return classifyNow(input);
};
export let createFetch = (options) => {
  ready();
  return createFetchNow(options);
};
export * from './errors.js';
// The coordinators: their wasm module loads on first use only.
export { RatewiseCoordinator, redisCoordinator } from './coordinator-node.js';
