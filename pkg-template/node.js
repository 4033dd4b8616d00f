// Node (>= 20) and Bun: the wasm is read from disk and compiled synchronously,
// so `import { classify } from 'ratewise'` needs no init() call.
import { readFileSync } from 'node:fs';
import { initSync } from './ratewise.js';

initSync({ module: readFileSync(new URL('./ratewise_bg.wasm', import.meta.url)) });

export { classify, createFetch } from './ratewise.js';
export * from './errors.js';
export { RatewiseCoordinator } from './coordinator.js';
export { redisCoordinator } from './redis.js';
