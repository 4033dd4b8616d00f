// `ratewise/coordinator` in browsers, bundlers (Vite, webpack) and Deno: the
// Durable Object class and redisCoordinator. The coordinator's wasm is fetched
// next to this file on first use, not when this is imported: a page that
// never makes a coordinator never downloads it.
import { provideCoordinatorWasm } from './coordinator-wasm.js';

provideCoordinatorWasm(async () => {
  const glue = await import('./ratewise_coordinator.js');
  await glue.default({ module_or_path: new URL('./ratewise_coordinator_bg.wasm', import.meta.url) });
  return glue;
});

export { RatewiseCoordinator } from './coordinator.js';
export { redisCoordinator } from './redis.js';
