/**
 * tests/mock/server.mjs — a mock LLM API for ratewise's tests, benchmarks and demo page.
 *
 * A real HTTP server (node:http, no npm dependencies, binds 127.0.0.1 only) that speaks
 * just enough of three provider APIs to exercise failure classification and retries:
 *
 *   POST /v1/chat/completions                     OpenAI chat completions (JSON or SSE stream)
 *   POST /v1/messages                             Anthropic Messages
 *   POST /v1beta/models/<model>:generateContent   Gemini generateContent
 *
 * Every canned error body and header copies what the providers really send; each one
 * carries a comment naming where the exact text was observed or documented.
 *
 * This file is the entry point (startMock() and the CLI). The rest, one job per file:
 *   fixtures.mjs  the providers' bodies and headers (pure builders)
 *   state.mjs     config, the fixed window, quota keys, the failure script, stats
 *   http.mjs      CORS, routing, the LLM endpoints, the control API, static files
 *
 * Behaviour of an LLM request, in order:
 *   1. the next entry of the FIFO failure script, if any (see SCRIPTS in fixtures.mjs; a raw entry
 *      `{ status, headers, body }` is sent as given, and `{ status, headers, chunks: [...] }` as an
 *      event stream, one chunk every `streamGapMs`);
 *   2. quota-exhausted mode (`quota`, `quotaKeys`);
 *   3. the rate limits (`limit` requests per `windowMs`, and `tokenLimit` tokens per
 *      `tokenWindowMs` when set), of one `shape`;
 *   4. otherwise a 200 after `latencyMs`.
 *
 * Rate limits, by `shape`:
 *   fixed    a window OPENS at the first LLM request that finds no open window (after start,
 *            after reset(), or once the previous window has expired) and lasts `windowMs`;
 *   aligned  a fixed window aligned to the clock (it starts at multiples of `windowMs`);
 *   sliding  at most `limit` in any `windowMs` (a log of what was admitted);
 *   sliding-next  the same, but its reset says when the OLDEST entry leaves (the next slot frees);
 *   bucket   a token bucket of `limit`, refilled continuously at `limit` per `windowMs`.
 * `rateLimitHeaders`: 'always' (default), 'on429' (the rate-limit headers on 429s only) or 'none'
 * (a 429 with retry-after only). `latencyJitter` j: each 200 takes latencyMs × (1 ± j), drawn from
 * a generator seeded with `seed`.
 * Only requests answered 200 consume a limit; scripted, quota and 429 responses do not. A
 * request is charged its prompt characters / 4 plus its max_tokens against `tokenLimit`.
 * x-ratelimit-reset-* is the time until the limit is back to its initial state. Changing any
 * limit setting starts the limits afresh.
 *
 * Control API (JSON): POST /__mock/config, POST /__mock/script, POST /__mock/reset,
 * GET /__mock/stats, GET /__mock/config, GET /__mock/script. Same operations in-process
 * through the object returned by startMock().
 *
 * Also serves static files (`static`, `mounts`) and answers CORS for everything.
 * CLI: node tests/mock/server.mjs [--port N] [--limit N] [--window-ms N] [--shape S]
 *      [--token-limit N] [--token-window-ms N] [--quota]
 *      [--static DIR] [--mount /pkg/=DIR] [--latency-ms N] [--stream-gap-ms N]
 *      [--retry-after-style seconds|ms|none] [--no-expose-headers] [--quiet]
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HOST, handleRequest, sendJson } from './http.mjs';
import { createState, publicConfig, resetState, setConfig, setScript, statsSnapshot } from './state.mjs';

export { openaiDuration, SCRIPT_NAMES } from './fixtures.mjs';
export { hashKey } from './state.mjs';

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * Starts the mock LLM API on 127.0.0.1.
 *
 * @param {object} [options]
 * @param {number} [options.port=0] TCP port; 0 picks a free one.
 * @param {number|null} [options.limit=null] LLM requests served 200 per window; null/Infinity = unlimited.
 * @param {number} [options.windowMs=1000] Window length; a window opens at the first request after the previous one expired.
 * @param {'fixed'|'sliding'|'bucket'} [options.shape='fixed'] How the limits refill.
 * @param {number|null} [options.tokenLimit=null] Tokens per tokenWindowMs; null = not enforced (a nominal 150000 is reported).
 * @param {number|null} [options.tokenWindowMs=null] The tokens limit's window; null = windowMs.
 * @param {boolean} [options.quota=false] Quota-exhausted mode for every key.
 * @param {string[]} [options.quotaKeys=[]] If non-empty, only these keys are quota-exhausted (overrides `quota`).
 * @param {number} [options.latencyMs=0] Delay before each 200.
 * @param {number} [options.streamGapMs=50] Gap between SSE chunks of a streamed chat completion.
 * @param {'seconds'|'ms'|'none'} [options.retryAfterStyle='seconds'] retry-after headers on window 429s.
 * @param {boolean} [options.exposeHeaders=true] List rate-limit headers in Access-Control-Expose-Headers.
 * @param {number|null} [options.preflightMaxAge=null] Access-Control-Max-Age for preflights (omitted when null).
 * @param {string} [options.static] Directory served at "/".
 * @param {Record<string,string>} [options.mounts] URL prefix -> directory, e.g. { '/pkg/': '/abs/pkg' }.
 * @param {boolean} [options.quiet=true] When false, logs one line per LLM request to stderr.
 * @returns {Promise<{url: string, port: number, state: object, close(): Promise<void>,
 *   setConfig(patch: object): object, script(steps: Array<string|object>): {pending: number},
 *   reset(): void, stats(): object, readonly config: object}>}
 */
export async function startMock(options = {}) {
  const state = createState(options);
  const server = http.createServer((req, res) => {
    handleRequest(state, req, res).catch((err) => {
      process.stderr.write(`[mock] internal error: ${err.stack || err}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: 'mock internal error' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(state.config.port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address();

  let closing = null;
  const close = () => {
    closing ??= new Promise((resolve) => {
      state.closed = true;
      for (const timer of state.timers) clearTimeout(timer);
      state.timers.clear();
      for (const res of state.hung) res.destroy();
      state.hung.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url: `http://${HOST}:${port}`,
    port,
    state,
    close,
    setConfig: (patch) => setConfig(state, patch),
    script: (steps) => setScript(state, steps),
    reset: () => resetState(state),
    stats: () => statsSnapshot(state),
    get config() {
      return publicConfig(state.config);
    },
  };
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { quiet: false };
  const mounts = {};
  const toInt = (flag, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} expects a non-negative integer, got "${v}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let inline;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      inline = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port':
        opts.port = toInt(flag, value());
        break;
      case '--limit':
        opts.limit = toInt(flag, value());
        break;
      case '--window-ms':
        opts.windowMs = toInt(flag, value());
        break;
      case '--shape':
        opts.shape = value();
        break;
      case '--token-limit':
        opts.tokenLimit = toInt(flag, value());
        break;
      case '--token-window-ms':
        opts.tokenWindowMs = toInt(flag, value());
        break;
      case '--latency-ms':
        opts.latencyMs = toInt(flag, value());
        break;
      case '--stream-gap-ms':
        opts.streamGapMs = toInt(flag, value());
        break;
      case '--retry-after-style':
        opts.retryAfterStyle = value();
        break;
      case '--quota':
        opts.quota = true;
        break;
      case '--no-expose-headers':
        opts.exposeHeaders = false;
        break;
      case '--quiet':
        opts.quiet = true;
        break;
      case '--static':
        opts.static = path.resolve(value());
        break;
      case '--mount': {
        const spec = value();
        const sep = spec.indexOf('=');
        if (sep <= 0) throw new Error(`--mount expects /prefix/=DIR, got "${spec}"`);
        mounts[spec.slice(0, sep)] = path.resolve(spec.slice(sep + 1));
        break;
      }
      default:
        throw new Error(`unknown argument "${argv[i]}"`);
    }
  }
  if (Object.keys(mounts).length) opts.mounts = mounts;
  return opts;
}

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const mock = await startMock(options);
  process.stdout.write(`mock LLM API listening on ${mock.url}\n`);
  const shutdown = () => mock.close().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

function isMainModule() {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMainModule()) main();
