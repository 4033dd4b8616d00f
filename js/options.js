// createFetch() and forInvocation() options, read and checked (internal, not exported by the
// package). Own properties only: a value inherited from a polluted Object.prototype (a `fetch` that
// would receive every request's credentials) is never an option. A wrong key, type or value throws a
// TypeError or RangeError naming the field; a getter or Proxy trap that throws makes a TypeError naming
// the field, with what it threw as `cause`. The core (src/wasm/options.rs) gets one flat array of
// checked values, `undefined` where an option was not given, and applies its own defaults. The
// options that other glue checks (`cache`, `telemetry`) or that the core checks (`signal`,
// `coordinator`, `usage`) are read here and handed on as given; `budgets` and a `prices` table are
// copied into plain arrays and objects of their own fields, whose values the core checks.

import { isArray, isObject, typeName } from './convert.js';

// classify::duration::MAX_DELAY_MS and classify::body::MAX_BODY_BYTES (tests/contract.rs checks them).
const MAX_MS = 2147483647;
const MAX_BODY = 65536;
const BIG = 1e9;
/** The most requests `throttle.coldStart` may send before the first answer. */
const MAX_COLD_START = 1000;

// The keys of each options object (tests/contract.rs checks them against index.d.ts).
const KNOWN = [
  'maxRetries',
  'baseDelayMs',
  'maxDelayMs',
  'jitter',
  'maxRetryAfterMs',
  'deadlineMs',
  'signal',
  'throwOnError',
  'onQuotaExhausted',
  'onRetry',
  'onEvent',
  'fetch',
  'maxErrorBodyBytes',
  'maxConcurrency',
  'maxQueue',
  'throttle',
  'retryBudget',
  'quotaCooldownMs',
  'routes',
  'failoverOn',
  'outageBreaker',
  'onBreakerOpen',
  'onBreakerClose',
  'coordinator',
  'onCoordinatorError',
  'peekStream',
  'onStreamError',
  'cache',
  'lanes',
  'telemetry',
  'usage',
  'prices',
  'onUsage',
  'budgets',
  'onBudget',
];
const ROUTE_KEYS = ['apiKey', 'baseURL', 'model', 'azure', 'headers'];
const AZURE_KEYS = ['endpoint', 'resource', 'deployment', 'apiVersion', 'apiKey'];
const OUTAGE_KEYS = ['failures', 'cooldownMs'];
const BUDGET_KEYS = ['capacity', 'retryCost', 'refund'];
const THROTTLE_KEYS = ['coldStart'];
const LANES_KEYS = ['bulk'];
const BULK_LANE_KEYS = ['route'];
const INVOCATION_KEYS = ['subrequests', 'coordinator', 'waitUntil'];
const SPEND_KEYS = ['name', 'limitUsd', 'limitTokens', 'window', 'alertAt', 'tag', 'onExhausted'];
const SPEND_MOVE_KEYS = ['route', 'from'];
// limits::routes::FAILOVER_KINDS, in order: `failoverOn` reaches the core as a mask of these.
const FAILOVER = ['quota_exhausted', 'rate_limit', 'overloaded', 'server_error', 'timeout', 'network'];
const JITTER = ['full', 'equal', 'decorrelated', 'none'];

const ownProperty = Object.getOwnPropertyDescriptor;
const quoted = (list) => `'${list.join("', '")}'`;

/** The TypeError for `what`, whose getter (or Proxy trap) threw `cause`. */
function unreadable(what, cause) {
  let message;
  try {
    if (cause !== null && (typeof cause === 'object' || typeof cause === 'function')) message = cause.message;
  } catch {}
  return new TypeError(`${what} could not be read: ${typeof message === 'string' ? message : typeName(cause)}`, {
    cause,
  });
}

/** An options object of `caller`, whose fields are named `${path}${key}` in errors. */
class Reader {
  constructor(caller, value, path, known) {
    if (!isObject(value)) {
      throw new TypeError(
        `${caller}: ${path ? `\`${path.slice(0, -1)}\`` : 'options'} must be an object, got ${typeName(value)}`,
      );
    }
    this.caller = caller;
    this.value = value;
    this.path = path;
    for (const key of known ? this.keys() : []) {
      if (!known.includes(key)) {
        throw new TypeError(`${caller}: unknown option \`${path}${key}\` (known: ${known.join(', ')})`);
      }
    }
  }

  keys() {
    try {
      return Object.keys(this.value);
    } catch (cause) {
      throw unreadable(`${this.caller}: the keys of ${this.path ? `\`${this.path.slice(0, -1)}\`` : 'options'}`, cause);
    }
  }

  name(key) {
    return `${this.caller}: \`${this.path}${key}\``;
  }

  /** `value[key]` if the object owns it, else undefined. */
  get(key) {
    try {
      return ownProperty(this.value, key) === undefined ? undefined : this.value[key];
    } catch (cause) {
      throw unreadable(this.name(key), cause);
    }
  }

  wrong(key, want, value) {
    return new TypeError(`${this.name(key)} must be ${want}, got ${typeName(value)}`);
  }

  /** A number from 0 to `max` (a whole one if `integer`). */
  number(key, integer, max) {
    const n = this.get(key);
    if (n === undefined) return n;
    if (typeof n !== 'number') throw this.wrong(key, 'a number', n);
    if (!(n >= 0 && n <= max) || (integer && !Number.isInteger(n))) {
      throw new RangeError(
        `${this.name(key)} must be ${integer ? 'an integer' : 'a number'} from 0 to ${max}, got ${n}`,
      );
    }
    return n;
  }

  /** Milliseconds a timer can wait, rounded up. */
  millis(key) {
    const n = this.number(key, false, MAX_MS);
    return n === undefined ? n : Math.ceil(n);
  }

  /** A count that may be `Infinity` (no limit), at least `min`. */
  count(key, min) {
    const n = this.get(key);
    if (n === undefined) return n;
    if (typeof n !== 'number') throw this.wrong(key, 'a number', n);
    if (n === Number.POSITIVE_INFINITY || (Number.isInteger(n) && n >= min && n <= BIG)) return n;
    throw new RangeError(`${this.name(key)} must be an integer from ${min} up, or Infinity, got ${n}`);
  }

  typed(key, type, want) {
    const v = this.get(key);
    if (v !== undefined && typeof v !== type) throw this.wrong(key, want, v);
    return v;
  }

  function(key) {
    return this.typed(key, 'function', 'a function');
  }

  boolean(key) {
    return this.typed(key, 'boolean', 'a boolean');
  }

  string(key) {
    const s = this.get(key);
    if (s !== undefined && (typeof s !== 'string' || s === '')) throw this.wrong(key, 'a non-empty string', s);
    return s;
  }

  /** A string that must be given. */
  required(key) {
    const s = this.string(key);
    if (s === undefined) throw this.wrong(key, 'a non-empty string', s);
    return s;
  }

  /** An http(s) URL with a host and neither query nor fragment. */
  base(key) {
    const s = this.string(key);
    if (s === undefined) return s;
    const rest = s.startsWith('https://') ? s.slice(8) : s.startsWith('http://') ? s.slice(7) : '';
    if (rest === '' || '/?#'.includes(rest[0]) || s.includes('?') || s.includes('#')) {
      throw new TypeError(`${this.name(key)} must be an http(s) URL with a host and no query or fragment`);
    }
    return s;
  }
}

/** An options object of createFetch, checked against `known`. */
const nested = (value, path, known) => new Reader('createFetch', value, path, known);

/**
 * An option that is `true`, `false` or an object of `known` keys: `[on, reader]`, `on` undefined when
 * not given, `reader` only for an object.
 */
function switchable(o, key, known) {
  const value = o.get(key);
  if (value === undefined || typeof value === 'boolean') return [value];
  if (!isObject(value)) throw o.wrong(key, 'a boolean or an object', value);
  return [true, nested(value, `${key}.`, known)];
}

/**
 * `routes[i]` as `[apiKey, baseURL, model, azure endpoint, deployment, apiVersion, azure apiKey,
 * headers]`, headers as `[name, value or null, …]` (names trimmed and lower-cased).
 */
function route(item, i) {
  const at = `routes[${i}].`;
  const r = nested(item, at, ROUTE_KEYS);
  const out = [r.string('apiKey'), r.base('baseURL'), r.string('model')];
  const value = r.get('azure');
  if (value === undefined) {
    out.push(undefined, undefined, undefined, undefined);
  } else {
    const path = `${at}azure.`;
    const a = nested(value, path, AZURE_KEYS);
    let endpoint = a.base('endpoint');
    const resource = a.string('resource');
    if ((endpoint === undefined) === (resource === undefined)) {
      throw new TypeError(
        `createFetch: \`${at}azure\` needs one of \`${path}resource\` (the name in https://{resource}.openai.azure.com) or \`${path}endpoint\``,
      );
    }
    if (resource !== undefined) {
      if (!/^[A-Za-z0-9-]*$/.test(resource)) {
        throw new TypeError(
          `createFetch: \`${path}resource\` must be an Azure resource name (letters, digits and hyphens), as in https://{resource}.openai.azure.com`,
        );
      }
      endpoint = `https://${resource}.openai.azure.com`;
    }
    endpoint = endpoint.replace(/\/+$/, '');
    if (endpoint.endsWith('/openai')) endpoint = endpoint.slice(0, -7);
    out.push(endpoint, a.required('deployment'), a.required('apiVersion'), a.required('apiKey'));
  }
  out.push(headers(r));
  if (value !== undefined) {
    const other = ['apiKey', 'baseURL', 'model'].find((_, j) => out[j] !== undefined);
    if (other) {
      throw new TypeError(
        `createFetch: \`${at}${other}\` cannot be combined with \`${at}azure\`, which sets the URL, the key and (by its deployment) the model`,
      );
    }
  }
  return out;
}

/**
 * `routes[i].headers`: `{ name: value }` sets a header on the route, `{ name: null }` removes it. The
 * platform checks names and values when the request is built.
 */
function headers(r) {
  const value = r.get('headers');
  const out = [];
  if (value === undefined) return out;
  const h = new Reader(r.caller, value, `${r.path}headers.`);
  for (const key of h.keys()) {
    let v;
    try {
      v = value[key];
    } catch (cause) {
      throw unreadable(h.name(key), cause);
    }
    if (v !== null && typeof v !== 'string') throw h.wrong(key, 'a string, or null to remove the header', v);
    const name = key.trim();
    if (name === '') throw new TypeError(`${r.caller}: \`${r.path}headers\` has an empty header name`);
    out.push(
      name.replace(/[A-Z]+/g, (s) => s.toLowerCase()),
      v,
    );
  }
  return out;
}

function routes(o) {
  const value = o.get('routes');
  if (value === undefined) return [];
  if (!isArray(value)) throw o.wrong('routes', 'an array', value);
  // The array may be a Proxy, or have getters.
  const item = (key) => {
    try {
      return value[key];
    } catch (cause) {
      throw unreadable(`createFetch: \`routes${key === 'length' ? '.length' : `[${key}]`}\``, cause);
    }
  };
  const length = item('length');
  const out = [];
  for (let i = 0; i < (typeof length === 'number' ? Math.min(length, MAX_MS) : 0); i++) out.push(route(item(i), i));
  return out;
}

/** `failoverOn` as a mask of FAILOVER indices. */
function failoverOn(o) {
  const given = o.get('failoverOn');
  if (given === undefined) return given;
  if (!isArray(given)) throw o.wrong('failoverOn', 'an array of kinds', given);
  const items = list(given, 'failoverOn');
  let mask = 0;
  for (let i = 0; i < items.length; i++) {
    const name = items[i];
    if (typeof name !== 'string') {
      throw new TypeError(`createFetch: \`failoverOn[${i}]\` must be a string, got ${typeName(name)}`);
    }
    const bit = FAILOVER.indexOf(name);
    if (bit < 0)
      throw new RangeError(`createFetch: \`failoverOn[${i}]\` must be one of ${quoted(FAILOVER)}, got '${name}'`);
    mask |= 1 << bit;
  }
  return mask;
}

/** `lanes: { bulk: { route } }`: the route a bulk call starts on under pressure, one of `routes`. */
function bulkRoute(o, routes) {
  const value = o.get('lanes');
  if (value === undefined) return value;
  const bulk = nested(value, 'lanes.', LANES_KEYS).get('bulk');
  if (bulk === undefined) return bulk;
  const b = nested(bulk, 'lanes.bulk.', BULK_LANE_KEYS);
  const n = b.count('route', 1);
  if (n === undefined) throw b.wrong('route', 'a route index', n);
  if (n > routes) {
    throw new RangeError('createFetch: `lanes.bulk.route` must be the index of one of `routes` (1 is the first)');
  }
  return n;
}

/**
 * Reads and checks `createFetch(options)`, in the order the fields are listed here, and returns them
 * in that order after the routes (see `route`) and `jitter` (src/wasm/options.rs reads them so):
 * numbers, booleans and strings checked, hooks functions, `undefined` for what was not given.
 */
export function readOptions(given) {
  const o = new Reader('createFetch', given ?? {}, '', KNOWN);
  const [throttle, t] = switchable(o, 'throttle', THROTTLE_KEYS);
  const coldStart = t?.number('coldStart', true, MAX_COLD_START);
  const base = o.millis('baseDelayMs');
  const max = o.millis('maxDelayMs');
  const list = routes(o);
  const maxRetries = o.number('maxRetries', true, 1000);
  const jitter = o.typed('jitter', 'string', 'a string');
  if (jitter !== undefined && !JITTER.includes(jitter)) {
    throw new RangeError(`createFetch: \`jitter\` must be 'full', 'equal', 'decorrelated' or 'none', got '${jitter}'`);
  }
  const head = [
    maxRetries,
    base,
    max,
    o.millis('maxRetryAfterMs'),
    o.millis('deadlineMs'),
    o.get('signal'),
    o.boolean('throwOnError'),
    o.function('onQuotaExhausted'),
    o.function('onRetry'),
    o.function('onEvent'),
    o.function('fetch'),
    o.number('maxErrorBodyBytes', true, MAX_BODY),
    o.count('maxConcurrency', 1),
    o.count('maxQueue', 0),
  ];
  // `retryBudget`: `true` (the default), `false`, or `{ capacity, retryCost, refund }`.
  let budget = o.get('retryBudget');
  if (typeof budget !== 'boolean' && budget !== undefined) {
    const b = nested(budget, 'retryBudget.', BUDGET_KEYS);
    budget = [b.number('capacity', true, BIG), b.number('retryCost', true, BIG), b.number('refund', true, BIG)];
  }
  const cooldown = o.millis('quotaCooldownMs');
  const mask = failoverOn(o);
  const [outage, ob] = switchable(o, 'outageBreaker', OUTAGE_KEYS);
  const failures = ob?.count('failures', 1);
  const outageCooldown = ob?.millis('cooldownMs');
  return [
    list,
    jitter,
    ...head,
    throttle,
    coldStart,
    budget,
    cooldown,
    mask,
    outage,
    failures,
    outageCooldown,
    bulkRoute(o, list.length),
    o.function('onBreakerOpen'),
    o.function('onBreakerClose'),
    o.get('coordinator'),
    o.function('onCoordinatorError'),
    o.boolean('peekStream'),
    o.function('onStreamError'),
    o.get('cache'),
    o.get('telemetry'),
    o.get('usage'),
    prices(o),
    o.function('onUsage'),
    budgets(o),
    o.function('onBudget'),
  ];
}

/** `value` as an array copied, or itself when it is none (the core says what it must be). */
function list(value, name) {
  if (!isArray(value)) return value;
  try {
    return Array.from(value);
  } catch (cause) {
    throw unreadable(`createFetch: \`${name}\``, cause);
  }
}

/**
 * `budgets`: each budget's own fields (a wrong key throws), copied with its `alertAt` and `onExhausted`,
 * so the core reads plain values only; what the values must be is the core's check (src/wasm/spend.rs).
 */
function budgets(o) {
  const given = list(o.get('budgets'), 'budgets');
  if (!isArray(given)) return given;
  return given.map((item, i) => {
    if (!isObject(item)) return item;
    const b = nested(item, `budgets[${i}].`, SPEND_KEYS);
    // No prototype: the core reads fields with Reflect.get, which would find a polluted
    // Object.prototype's `alertAt` or `limitTokens` on a plain object that lacks its own.
    const out = Object.create(null);
    for (const key of SPEND_KEYS) {
      const v = key === 'alertAt' ? list(b.get(key), `budgets[${i}].alertAt`) : b.get(key);
      if (v !== undefined) out[key] = v;
    }
    if (isObject(out.onExhausted)) {
      const move = nested(out.onExhausted, `budgets[${i}].onExhausted.`, SPEND_MOVE_KEYS);
      out.onExhausted = { route: move.get('route'), from: move.get('from') };
    }
    return out;
  });
}

/**
 * `prices`: a table `{ [model]: { input, output, ... } }` copied, own fields only, into objects without a
 * prototype (a model may be named `__proto__`); a function or anything else as given (the core checks).
 */
function prices(o) {
  const given = o.get('prices');
  if (!isObject(given)) return given;
  const table = nested(given, 'prices.');
  const out = Object.create(null);
  for (const model of table.keys()) {
    const price = table.get(model);
    if (!isObject(price)) {
      out[model] = price;
      continue;
    }
    const fields = new Reader('createFetch', price, `prices["${model}"].`);
    out[model] = Object.create(null);
    for (const key of fields.keys()) out[model][key] = fields.get(key);
  }
  return out;
}

/** Reads and checks `forInvocation(options)`: `[subrequests, coordinator, waitUntil]`. */
export function readInvocation(given) {
  const o = new Reader('forInvocation', given === undefined ? {} : given, '', INVOCATION_KEYS);
  return [o.number('subrequests', true, BIG), o.get('coordinator'), o.function('waitUntil')];
}
