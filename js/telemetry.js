// createFetch({ telemetry }): the option checked at once, and the OpenTelemetry code
// (telemetry.js at the package's root) loaded lazily, the first time an instance has
// telemetry on. Without `telemetry`, nothing here runs and nothing more is loaded.

const KEYS = ['tracer', 'meter', 'legacyMetrics', 'bodyWaitMs'];
const isFn = (v) => typeof v === 'function';
/** Whether `value` has each of `methods`; a getter or Proxy trap that throws is a TypeError naming `field`. */
function has(value, methods, field) {
  try {
    return methods.every((m) => isFn(value?.[m]));
  } catch (cause) {
    throw new TypeError(`createFetch: \`telemetry.${field}\` could not be read`, { cause });
  }
}

/**
 * Checks createFetch's `telemetry` (true, or `{ tracer, meter, legacyMetrics, bodyWaitMs }`), throwing a
 * TypeError naming the field; `null` for false. @internal: used by the wasm module.
 */
export function makeTelemetry(value) {
  if (value === false) return null;
  // No prototype: `o.tracer` must not find a polluted Object.prototype's.
  let o = Object.create(null);
  let stray;
  try {
    if (value !== true && (value === null || typeof value !== 'object' || Array.isArray(value))) o = undefined;
    // Own fields only, each read once; a getter or a Proxy trap that throws is the cause.
    else if (value !== true) {
      for (const key of Object.keys(value)) {
        if (!KEYS.includes(key)) stray ??= key;
        else o[key] = value[key];
      }
    }
  } catch (cause) {
    throw new TypeError('createFetch: `telemetry` could not be read', { cause });
  }
  if (o === undefined) {
    throw new TypeError(
      'createFetch: `telemetry` must be true or an object { tracer, meter, legacyMetrics, bodyWaitMs }',
    );
  }
  if (stray !== undefined) {
    throw new TypeError(`createFetch: unknown option \`telemetry.${stray}\` (known: ${KEYS.join(', ')})`);
  }
  if (o.tracer !== undefined && !has(o.tracer, ['startSpan'], 'tracer')) {
    throw new TypeError('createFetch: `telemetry.tracer` must be an OpenTelemetry Tracer (with startSpan)');
  }
  if (o.meter !== undefined && !has(o.meter, ['createHistogram', 'createCounter'], 'meter')) {
    throw new TypeError('createFetch: `telemetry.meter` must be an OpenTelemetry Meter');
  }
  if (o.legacyMetrics !== undefined && typeof o.legacyMetrics !== 'boolean') {
    throw new TypeError('createFetch: `telemetry.legacyMetrics` must be a boolean');
  }
  const wait = o.bodyWaitMs;
  if (wait !== undefined && !(typeof wait === 'number' && wait >= 0 && wait <= 2147483647)) {
    throw new RangeError('createFetch: `telemetry.bodyWaitMs` must be a number of ms from 0 to 2147483647');
  }
  return new Lazy({ tracer: o.tracer, meter: o.meter, legacyMetrics: o.legacyMetrics, bodyWaitMs: wait });
}

/** The telemetry until its code is loaded: calls made meanwhile wait for it (once). */
class Lazy {
  constructor(options) {
    this.impl = undefined;
    this.fetches = [];
    // From pkg/snippets/ratewise-<hash>/js/ to pkg/telemetry.js; a literal, so bundlers follow it.
    this.loading = import('../../../telemetry.js')
      .then((m) => m.start(options))
      .then(
        (impl) => {
          this.impl = impl;
          for (const f of this.fetches) impl.watch(f);
        },
        () => {}, // not loadable: calls go untraced
      )
      .finally(() => {
        this.loading = null;
      });
  }

  /** Keeps a fetch for the breakers gauge. */
  watch(fetch) {
    if (this.impl) this.impl.watch(fetch);
    else this.fetches.push(fetch);
  }

  /** The `(input, init) => Promise` over wasm's `call`, traced once the code is loaded. */
  wrap(call) {
    const go = (input, init, parent) =>
      this.impl
        ? this.impl.run(call, input, init, parent)
        : new Promise((resolve, reject) => call(input, init, resolve, reject));
    return (input, init) => {
      if (!this.loading) return go(input, init);
      // The caller's active context (its parent span) is read now, while it is active, from the
      // registry @opentelemetry/api keeps on globalThis (its global context manager).
      const parent = globalThis[Symbol.for('opentelemetry.js.api.1')]?.context?.active?.();
      return this.loading.then(() => go(input, init, parent));
    };
  }
}
