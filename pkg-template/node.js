// Node (>= 20) and Bun: the wasm is read from disk and compiled synchronously,
// so `import { classify } from 'ratewise'` needs no init() call.
import { readFileSync } from 'node:fs';
import { initSync } from './ratewise.js';

initSync({ module: readFileSync(new URL('./ratewise_bg.wasm', import.meta.url)) });

export { classify, createFetch } from './ratewise.js';
export * from './errors.js';
// The coordinators: their wasm module loads on first use only.
export { RatewiseCoordinator, redisCoordinator } from './coordinator-node.js';
