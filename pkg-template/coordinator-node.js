// `ratewise/coordinator` in Node (>= 20) and Bun: the Durable Object class and
// redisCoordinator. The coordinator's wasm is read from disk and compiled on
// first use, not when this is imported.
import { readFileSync } from 'node:fs';
import { provideCoordinatorWasm } from './coordinator-wasm.js';

provideCoordinatorWasm(async () => {
  const glue = await import('./ratewise_coordinator.js');
  glue.initSync({ module: readFileSync(new URL('./ratewise_coordinator_bg.wasm', import.meta.url)) });
  return glue;
});

export { RatewiseCoordinator } from './coordinator.js';
export { redisCoordinator } from './redis.js';
