// Browsers, bundlers (Vite, webpack) and Deno: the wasm is fetched next to
// this file and instantiated with top-level await, so no init() call is needed.
import init from './ratewise.js';

await init({ module_or_path: new URL('./ratewise_bg.wasm', import.meta.url) });

export { classify, createFetch } from './ratewise.js';
export * from './errors.js';
// The coordinators: their wasm module loads on first use only.
export { RatewiseCoordinator, redisCoordinator } from './coordinator-web.js';
