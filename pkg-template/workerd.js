// Cloudflare Workers (workerd): bundlers such as wrangler turn a .wasm import
// into a compiled WebAssembly.Module, which is instantiated synchronously.
import wasm from './ratewise_bg.wasm';
import { initSync } from './ratewise.js';

initSync({ module: wasm });

export { classify, createFetch } from './ratewise.js';
export * from './errors.js';
export { RatewiseCoordinator } from './coordinator.js';
export { redisCoordinator } from './redis.js';
