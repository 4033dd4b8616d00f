// Bundled by Vite (browser condition; the .wasm becomes a hashed asset).
// Checks that the bundled package classifies and fetches from the page.
import { classify, createFetch, isQuotaExhaustedError } from 'ratewise';

const checks = [];
const check = (name, ok) => checks.push({ name, ok: Boolean(ok) });

const quota = classify({
  status: 429,
  body: '{"error":{"type":"insufficient_quota","code":"insufficient_quota","message":"x"}}',
});
check('classify: insufficient_quota is quota_exhausted', quota.kind === 'quota_exhausted' && quota.action === 'alert');
const rate = classify({
  status: 429,
  headers: { 'retry-after': '3' },
  body: '{"error":{"code":"rate_limit_exceeded"}}',
});
check('classify: rate_limit_exceeded waits the hint', rate.kind === 'rate_limit' && rate.retryAfterMs === 3000);

const post = (path, body) => fetch(path, { method: 'POST', body: JSON.stringify(body) });
await post('/__mock/reset', {});
await post('/__mock/script', { steps: [{ name: 'rate_limit', retryAfterMs: 20 }] });
const llm = createFetch({ throwOnError: true });
const ok = await llm('/v1/chat/completions', { method: 'POST', body: '{"model":"m"}' });
check('createFetch: a rate limit, then 200', ok.status === 200);
await post('/__mock/script', { steps: ['insufficient_quota'] });
const failed = await llm('/v1/chat/completions', { method: 'POST', body: '{"model":"m"}' }).catch((e) => e);
check('createFetch: quota rejects with QuotaExhaustedError', isQuotaExhaustedError(failed));
const wasm = performance.getEntriesByType('resource').find((r) => r.name.endsWith('.wasm'));
check('the .wasm was loaded as a bundled asset', wasm && /assets\//.test(wasm.name));

window.__result = {
  passed: checks.filter((c) => c.ok).length,
  failed: checks.filter((c) => !c.ok).length,
  results: checks,
};
