// redisCoordinator: shares ratewise's quota breaker and request leases across
// processes through Redis, outside Cloudflare (Node, Deno, Bun; Upstash over
// HTTP anywhere).
//
//   createFetch({ coordinator: redisCoordinator(client, { prefix: 'ratewise:' }) })
//
// `client` is the caller's node-redis (4/5), ioredis or @upstash/redis client,
// told apart by its shape. Redis only holds each limit key's state (one string
// value per key, named by the key's hash: no credential reaches Redis) and
// makes each update atomic. The decisions are the Rust core's, the same the
// Durable Object coordinator makes: coordinatorApply (in the coordinator's
// wasm module, loaded on the first send: coordinator-wasm.js) runs one message on the
// value read, and the script below stores the result only if the value is
// still the one read (a compare-and-set); else the step runs again on the
// newer value it returns, a bounded number of times. Every value has a TTL.
// Round trips per decision: one when the value last seen here (or, for a key
// not seen yet, no value) is still current; two when another process
// changed it (the failed compare answers with the value: no separate read),
// unless the step on that newer value changes nothing (a lease answered with a
// wait): then one, since the answer stands on the value just read. A step that
// writes nothing (a lookup; a lease answered with a wait, carrying no report and
// promising no turn of a bucket's refill, where only time let grants leave the
// books) reads once and answers on what it read.
import { coordinatorWasm } from './coordinator-wasm.js';

// KEYS[1]: the key. ARGV: 'get' | 'set', the value read, the value to store, its TTL in ms.
// Answers 1 when stored, else '=' and the value held ('' for none, '!' for a value
// of another type): the '=' keeps clients from decoding it as JSON.
const SCRIPT = `local v = redis.pcall('GET', KEYS[1])
if type(v) == 'table' then v = '!' elseif not v then v = '' end
if ARGV[1] == 'get' or v ~= ARGV[2] then return '=' .. v end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 1`;

/** How many times a step runs when other processes keep changing the value. */
const TRIES = 8;
/** How many keys' last-seen values a coordinator remembers, and the longest it keeps (a value with a
 * long error body in it is read again when needed). */
const REMEMBERED = 256;
const REMEMBERED_CHARS = 16 * 1024;

let digest;
/** The script's SHA-1, for EVALSHA (computed once, with Web Crypto). */
function scriptSha() {
  digest ??= crypto.subtle
    .digest('SHA-1', new TextEncoder().encode(SCRIPT))
    .then((buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join(''));
  return digest;
}

const notConnected = () => new Error('redis is not connected');

/** A client's three operations: whether it can answer now, EVALSHA and EVAL. */
function adapt(client) {
  if (client && typeof client.call === 'function' && typeof client.status === 'string') {
    // ioredis: offline commands would queue; a client that is not ready fails at once.
    return {
      ready: () => client.status === 'ready' || client.status === 'wait',
      evalsha: (sha, key, args) => client.call('EVALSHA', sha, 1, key, ...args),
      eval: (key, args) => client.call('EVAL', SCRIPT, 1, key, ...args),
    };
  }
  if (client && typeof client.sendCommand === 'function') {
    // node-redis 4/5.
    return {
      ready: () => client.isReady !== false,
      evalsha: (sha, key, args) => client.sendCommand(['EVALSHA', sha, '1', key, ...args]),
      eval: (key, args) => client.sendCommand(['EVAL', SCRIPT, '1', key, ...args]),
    };
  }
  if (client && typeof client.evalsha === 'function' && typeof client.eval === 'function') {
    // @upstash/redis: one HTTP request a command.
    return {
      ready: () => true,
      evalsha: (sha, key, args) => client.evalsha(sha, [key], args),
      eval: (key, args) => client.eval(SCRIPT, [key], args),
    };
  }
  throw new TypeError('redisCoordinator: `client` must be a node-redis, ioredis or @upstash/redis client');
}

/**
 * A coordinator for createFetch({ coordinator }) and forInvocation({ coordinator })
 * that shares limits through Redis.
 */
export function redisCoordinator(client, options = {}) {
  const redis = adapt(client);
  // The coordinator's wasm starts loading now, so the first send does not wait for it (a failure
  // here is the first send's to report).
  Promise.resolve()
    .then(coordinatorWasm)
    .catch(() => {});
  const prefix = options?.prefix ?? 'ratewise:';
  if (typeof prefix !== 'string' || prefix.length > 256) {
    throw new TypeError('redisCoordinator: `prefix` must be a string of at most 256 characters');
  }
  const seen = new Map(); // key -> the value last read or written there
  const remember = (key, value) => {
    seen.delete(key);
    if (value.length > REMEMBERED_CHARS) return;
    seen.set(key, value);
    if (seen.size > REMEMBERED) seen.delete(seen.keys().next().value);
  };

  async function run(key, args) {
    const sha = await scriptSha();
    try {
      return await redis.evalsha(sha, key, args);
    } catch (e) {
      if (!/NOSCRIPT/i.test(String(e?.message ?? e))) throw e;
      return redis.eval(key, args); // loads it for the next EVALSHA
    }
  }

  /** What the script answered about the value held: '' for none. */
  const held = (reply) => {
    if (typeof reply === 'string' && reply.startsWith('=')) return reply.slice(1);
    throw new Error('redis answered the script with something else');
  };

  return {
    async send(hash, message) {
      if (!redis.ready()) throw notConnected();
      const { coordinatorApply } = await coordinatorWasm();
      // A spend budget's books have a key of their own (named by the scope's hash and the budget's
      // name), with a TTL past the budget's window: a month's books outlive a month.
      const key = prefix + hash + (message?.op === 'budget' ? `:budget:${message.budget?.name}` : '');
      let stored = seen.get(key);
      // A value not seen yet is guessed absent: a step that writes then costs one round trip
      // (the compare-and-set stores it, or fails and answers with the value held), not a read
      // first. A lookup reads: it never writes.
      // Whether `stored` is what Redis held a round trip ago, not a value remembered from earlier.
      let fresh = false;
      if (message?.op === 'lookup') [stored, fresh] = [held(await run(key, ['get', '', '', '0'])), true];
      else if (stored === undefined) stored = '';
      for (let i = 0; i < TRIES; i++) {
        const [value, answer, ttlMs, write] = coordinatorApply(stored || undefined, message, Date.now());
        if (!write && !fresh) {
          // A step that writes nothing (a lease answered with a wait) has no compare-and-set to
          // check the value it ran on: read the value held, then step again on it.
          [stored, fresh] = [held(await run(key, ['get', '', '', '0'])), true];
          continue;
        }
        // A step that changes nothing on the value just read needs no write: its answer stands on it
        // (a lease answered with a wait costs one round trip, a read or a lost compare-and-set).
        if (!write || (fresh && value === stored)) {
          remember(key, stored);
          return answer;
        }
        const reply = await run(key, ['set', stored, value, String(ttlMs)]);
        if (reply === 1 || reply === '1') {
          remember(key, value);
          return answer;
        }
        [stored, fresh] = [held(reply), true];
      }
      seen.delete(key);
      throw new Error(`redis: the value changed under ${TRIES} tries in a row`);
    },
  };
}
