// `ratewise/coordinator` in Cloudflare Workers (workerd): the Durable Object
// class and redisCoordinator (with @upstash/redis). Bundlers such as wrangler
// turn the .wasm import into a compiled WebAssembly.Module; it is
// instantiated synchronously on first use, so no invocation awaits a promise
// that another one made.
import wasm from './ratewise_coordinator_bg.wasm';
import { provideCoordinatorWasm } from './coordinator-wasm.js';
import * as glue from './ratewise_coordinator.js';

provideCoordinatorWasm(() => {
  glue.initSync({ module: wasm });
  return glue;
});

export { RatewiseCoordinator } from './coordinator.js';
export { redisCoordinator } from './redis.js';
