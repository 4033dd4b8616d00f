// Cloudflare Workers (workerd): bundlers such as wrangler turn a .wasm import
// into a compiled WebAssembly.Module, which is instantiated synchronously.
import wasm from './ratewise_bg.wasm';
import { initSync } from './ratewise.js';

initSync({ module: wasm });

export { classify, createFetch } from './ratewise.js';
export * from './errors.js';
// The coordinators: their wasm module loads on first use only.
export { RatewiseCoordinator, redisCoordinator } from './coordinator-workerd.js';
