// `ratewise/coordinator`: the coordinators alone, without classify() and
// createFetch() (their wasm module loads on first use only).
export { RatewiseCoordinator, redisCoordinator } from './index.js';
export type { Coordinator, CoordinatorNamespace, RedisClient, RedisCoordinatorOptions } from './index.js';
