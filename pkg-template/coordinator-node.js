// `ratewise/coordinator` in Node (>= 20.16) and Bun: the Durable Object class and
// redisCoordinator. The coordinator's wasm is read from disk and compiled on
// first use, not when this is imported (nor node:fs: a static import of it costs
// every cold import of the package about 1.3 ms).
import { provideCoordinatorWasm } from './coordinator-wasm.js';

provideCoordinatorWasm(async () => {
  const [glue, { readFileSync }] = await Promise.all([import('./ratewise_coordinator.js'), import('node:fs')]);
  glue.initSync({ module: readFileSync(new URL('./ratewise_coordinator_bg.wasm', import.meta.url)) });
  return glue;
});

export { RatewiseCoordinator } from './coordinator.js';
export { redisCoordinator } from './redis.js';
