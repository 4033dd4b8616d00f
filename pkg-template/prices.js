// ratewise/prices: a price function for createFetch({ prices }) built on @pydantic/genai-prices, an
// optional peer dependency (`npm install @pydantic/genai-prices`). Its data (about 600 KB, checked
// weekly against the providers' pricing pages) loads only when this entry is imported: never with
// 'ratewise' itself, and never in the .wasm.
import { calcPrice } from '@pydantic/genai-prices';

// ratewise's provider names where genai-prices names them otherwise.
const PROVIDER_IDS = { gemini: 'google', vertex: 'google', bedrock: 'aws', xai: 'x-ai' };

/**
 * The cost of an answer in USD, or undefined when genai-prices has no price for its model. Pass it
 * as `createFetch({ prices: genaiPrices })`.
 */
export function genaiPrices({ model, provider, usage }) {
  if (typeof model !== 'string' || model === '') return undefined;
  const tokens = {
    input_tokens: usage.inputTokens,
    cache_read_tokens: usage.cachedInputTokens,
    cache_write_tokens: usage.cacheWriteTokens,
    output_tokens: usage.outputTokens,
  };
  const providerId = provider && provider !== 'unknown' ? (PROVIDER_IDS[provider] ?? provider) : undefined;
  try {
    // A model served through a proxy or an unknown host: by the model's name alone.
    const found = (providerId && calcPrice(tokens, model, { providerId })) || calcPrice(tokens, model);
    return found ? found.total_price : undefined;
  } catch {
    return undefined;
  }
}
