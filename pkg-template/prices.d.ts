import type { Provider, Usage } from './index.js';

/**
 * The cost of an answer in USD from `@pydantic/genai-prices` (an optional peer dependency), or
 * `undefined` when it has no price for the model. Pass it as `createFetch({ prices: genaiPrices })`.
 */
export declare function genaiPrices(answer: {
  model: string | null;
  provider: Provider;
  usage: Usage;
}): number | undefined;
