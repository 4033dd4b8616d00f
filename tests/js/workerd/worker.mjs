// Runs the shared suite inside Cloudflare's workerd. Bundled the way wrangler
// bundles a Worker (conditions workerd/worker/browser, .wasm as a module).
import * as ratewise from 'ratewise';
import { runSuite } from '../suite.mjs';

export default {
  async fetch(request, env) {
    const only = new URL(request.url).searchParams.get('only') ?? undefined;
    const result = await runSuite({ ratewise, mockUrl: env.MOCK_URL, only });
    return Response.json({ runtime: `workerd (navigator.userAgent: ${navigator.userAgent})`, ...result });
  },
};
