// The contenders of bench/overhead.mjs's telemetry table: raw fetch, and ratewise with
// `telemetry` off, with a no-op tracer and meter, and with the real SDK recording.
import { metrics, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';

class Reader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

/**
 * `{ contenders, reset }`: `reset` drops the spans recorded so far (memory stays flat). With `stub`
 * (a fetch answering from memory), the contenders call it instead of the network: ratewise's own cost.
 */
export async function telemetryContenders(createFetch, stub) {
  const exporter = new InMemorySpanExporter();
  const sdk = {
    tracer: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('bench'),
    meter: new MeterProvider({ readers: [new Reader()] }).getMeter('bench'),
  };
  // Nothing registered globally: the api hands out its no-op tracer and meter.
  const noop = { tracer: trace.getTracer('bench'), meter: metrics.getMeter('bench') };
  const base = stub ? { fetch: stub } : {};
  const off = createFetch(base);
  const withNoop = createFetch({ ...base, telemetry: noop });
  const withSdk = createFetch({ ...base, telemetry: sdk });
  return {
    contenders: {
      'raw fetch': stub ?? ((u, i) => fetch(u, i)),
      'ratewise, telemetry off': (u, i) => off(u, i),
      'ratewise, no-op tracer and meter': (u, i) => withNoop(u, i),
      'ratewise, real SDK (in-memory exporter, metrics reader)': (u, i) => withSdk(u, i),
    },
    reset: () => exporter.reset(),
  };
}
