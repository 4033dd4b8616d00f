// Shared-suite tests for the second hardening pass (issue 19), security group:
// run in Node, workerd, Chromium, Deno and Bun through suite.mjs.
// Helpers (check, equal) are hoisted function exports of suite.mjs.
import { check, equal } from './suite.mjs';

// Every option name, nested ones included (src/wasm/options.rs, js/cache.js).
const OPTION_NAMES = [
  ...['maxRetries', 'baseDelayMs', 'maxDelayMs', 'jitter', 'maxRetryAfterMs', 'deadlineMs', 'signal'],
  ...['throwOnError', 'onQuotaExhausted', 'onRetry', 'onEvent', 'fetch', 'maxErrorBodyBytes', 'maxConcurrency'],
  ...['maxQueue', 'throttle', 'retryBudget', 'quotaCooldownMs', 'routes', 'failoverOn', 'outageBreaker'],
  ...['onBreakerOpen', 'onBreakerClose', 'coordinator', 'onCoordinatorError', 'peekStream', 'onStreamError'],
  ...['cache', 'lanes', 'apiKey', 'baseURL', 'model', 'azure', 'failures', 'cooldownMs', 'capacity'],
  ...['retryCost', 'refund', 'coldStart', 'bulk', 'route', 'subrequests', 'waitUntil', 'store', 'ttlMs'],
  ...['key', 'streams', 'anyRequest', 'shareAcrossKeys', 'maxEntries', 'maxBytes'],
];
// The RequestInit members a fetch reads, and ratewise's own.
const INIT_NAMES = ['method', 'headers', 'body', 'signal', 'lane', 'duplex', 'cache', 'redirect', 'credentials'];

/** Runs `fn` with `values` planted on Object.prototype, removing them whatever happens. */
async function polluted(values, fn) {
  const planted = Object.keys(values).filter((k) => !Object.hasOwn(Object.prototype, k));
  for (const k of planted) {
    Object.defineProperty(Object.prototype, k, {
      value: values[k],
      writable: true,
      configurable: true,
      enumerable: true,
    });
  }
  try {
    return await fn();
  } finally {
    for (const k of planted) delete Object.prototype[k];
  }
}

// Made before anything is planted: a platform's own Response constructor may read a planted `headers`.
/** Every string an error shows: message, stack and name along its cause chain. */
function shown(e, depth = 0) {
  if (e === undefined || e === null || depth > 5) return '';
  if (typeof e !== 'object') return String(e);
  return [e.name, e.message, e.stack, shown(e.cause, depth + 1)].join('\n');
}

/** What `promise` rejects with, or undefined. */
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
}

// Keys of several providers' shapes, and a basic-auth password.
const SECRETS = [
  'sk-proj-ABCDEFGHIJKLMNOPQRSTUV12',
  'sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUV12',
  'AIzaSyABCDEFGHIJKLMNOPQRSTUVWXYZ0123456',
  'gsk_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345',
];
const PASSWORD = 'hunter2hunter2';

const ok = () => new Response('{"ok":true}', { status: 200 });

export const tests = [
  [
    'a polluted Object.prototype never supplies an option: a planted fetch or hook never runs, never sees the key',
    async ({ ratewise, mock }) => {
      const stolen = [];
      const planted = function planted(...args) {
        stolen.push(args);
        return Promise.reject(new Error('planted'));
      };
      const sent = [];
      const answers = [ok(), ok()];
      const stub = async (_input, init) => {
        sent.push(init);
        return answers.shift();
      };
      const values = Object.fromEntries(OPTION_NAMES.map((k) => [k, planted]));
      const statuses = await polluted(values, async () => {
        const fetch = ratewise.createFetch({
          fetch: stub,
          routes: [{ apiKey: 'sk-route-key-0000' }],
          outageBreaker: {},
          retryBudget: {},
          throttle: {},
          lanes: { bulk: { route: 1 } },
          cache: { ttlMs: 1000 },
        });
        const inInvocation = fetch.forInvocation({});
        const init = { method: 'POST', headers: { authorization: 'Bearer sk-proj-TENANTKEY0001' }, body: '{}' };
        const a = await fetch(`${mock.url}/v1/chat/completions`, { ...init });
        const b = await inInvocation(`${mock.url}/v1/chat/completions`, { ...init });
        return [a.status, b.status];
      });
      equal(statuses, [200, 200], 'both calls answered by the own fetch');
      equal(sent.length, 2, 'the own fetch got both requests');
      equal(stolen.length, 0, 'the planted functions never ran');
    },
  ],

  [
    'a polluted Object.prototype never supplies an init field: fetch gets the init the caller owns',
    async ({ ratewise, mock }) => {
      const sent = [];
      const answer = ok();
      const fetch = ratewise.createFetch({
        // What the fetch reads, read while the values are planted.
        fetch: async (_input, init) => {
          sent.push(Object.fromEntries(INIT_NAMES.map((k) => [k, init[k]])));
          return answer;
        },
      });
      const values = Object.fromEntries(INIT_NAMES.map((k) => [k, 'planted-init-value']));
      const res = await polluted(values, () => fetch(`${mock.url}/v1/chat/completions`, { __proto__: null }));
      equal(res.status, 200, 'answered');
      for (const k of INIT_NAMES) check(sent[0][k] !== 'planted-init-value', `init.${k} is not the planted value`);
      check(sent[0].signal === undefined || typeof sent[0].signal.aborted === 'boolean', 'the signal is a signal');
    },
  ],

  [
    'an option getter that throws is a TypeError naming the field, with what it threw as cause (cache too)',
    async ({ ratewise }) => {
      const boom = new Error('getter boom');
      const cases = [
        [
          {
            get maxRetries() {
              throw boom;
            },
          },
          /`maxRetries` could not be read/,
        ],
        [
          {
            cache: {
              get ttlMs() {
                throw boom;
              },
            },
          },
          /`cache.ttlMs` could not be read/,
        ],
        [
          {
            get cache() {
              throw boom;
            },
          },
          /`cache` could not be read/,
        ],
        [
          {
            routes: [
              {
                get apiKey() {
                  throw boom;
                },
              },
            ],
          },
          /`routes\[0\]\.apiKey` could not be read/,
        ],
        [
          {
            failoverOn: new Proxy(['rate_limit'], {
              get: (target, key) => {
                if (key === '0') throw boom;
                return target[key];
              },
            }),
          },
          /`failoverOn` could not be read/,
        ],
        [
          {
            routes: [
              {
                headers: {
                  get 'x-a'() {
                    throw boom;
                  },
                },
              },
            ],
          },
          /`routes\[0\]\.headers\.x-a` could not be read/,
        ],
      ];
      for (const [options, pattern] of cases) {
        let error;
        try {
          ratewise.createFetch(options);
        } catch (e) {
          error = e;
        }
        check(error instanceof TypeError, `${pattern}: a TypeError, got ${error?.name}: ${error?.message}`);
        check(pattern.test(error.message), `${error.message} matches ${pattern}`);
        check(error.cause === boom, `${pattern}: the thrown value is the cause`);
      }
      const fetch = ratewise.createFetch({ fetch: async () => ok() });
      let error;
      try {
        await fetch('https://api.openai.com/v1/models', {
          get headers() {
            throw boom;
          },
        });
      } catch (e) {
        error = e;
      }
      check(error instanceof TypeError && /`init.headers` could not be read/.test(error.message), `init: ${error}`);
      check(error.cause === boom, 'init: the thrown value is the cause');
    },
  ],

  [
    'no secret in what a call rejects with: platform errors quoting a URL password or an Authorization value are masked, their class kept',
    async ({ ratewise, mock }) => {
      const fetch = ratewise.createFetch({ maxRetries: 0 });
      const host = new URL(mock.url).host;
      // A URL with user:password@ (most platforms refuse it, quoting the URL).
      const e1 = await rejection(fetch(`http://user:${PASSWORD}@${host}/v1/chat/completions`));
      if (e1 !== undefined) {
        check(!shown(e1).includes(PASSWORD), `the password is not shown: ${shown(e1)}`);
        check(e1 instanceof Error, 'still an Error');
      }
      for (const secret of SECRETS) {
        // An Authorization value with CR/LF: the Headers constructor throws, quoting it.
        const e2 = await rejection(
          fetch(mock.chat, { method: 'POST', headers: { authorization: `Bearer ${secret}\r\nx-evil: 1` }, body: '{}' }),
        );
        check(e2 instanceof TypeError, `a TypeError for ${secret.slice(0, 6)}: ${e2}`);
        check(!shown(e2).includes(secret), `the key is not shown: ${shown(e2)}`);
        // A transport that fails quoting the key, as a rejection and as a RatewiseError's cause.
        const failing = (options) =>
          ratewise.createFetch({
            maxRetries: 1,
            baseDelayMs: 1,
            ...options,
            fetch: async () => {
              const inner = new TypeError(
                `socket hang up sending Bearer ${secret} to https://u:${PASSWORD}@api.example`,
              );
              throw new TypeError('fetch failed', { cause: inner });
            },
          });
        const e3 = await rejection(failing({})('https://api.openai.com/v1/chat/completions'));
        check(e3 instanceof TypeError && e3.message === 'fetch failed', `the platform's error, its class kept: ${e3}`);
        check(e3.cause instanceof TypeError, 'its cause is still a TypeError');
        check(!shown(e3).includes(secret) && !shown(e3).includes(PASSWORD), `nothing secret: ${shown(e3)}`);
        const e4 = await rejection(failing({ throwOnError: true })('https://api.openai.com/v1/chat/completions'));
        check(ratewise.isNetworkError(e4), `a NetworkError: ${e4}`);
        check(e4 instanceof ratewise.RatewiseError, 'instanceof RatewiseError');
        check(!shown(e4).includes(secret) && !shown(e4).includes(PASSWORD), `nothing secret: ${shown(e4)}`);
      }
      // An error with nothing to mask is the caller's own object.
      const reason = new Error('stop now');
      const controller = new AbortController();
      const hanging = (_input, init) =>
        new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason)));
      const pending = ratewise.createFetch({ fetch: hanging })(mock.chat, {
        signal: controller.signal,
      });
      controller.abort(reason);
      check((await rejection(pending)) === reason, 'the abort reason itself');
    },
  ],
];
