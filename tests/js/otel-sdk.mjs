// The real OpenTelemetry SDK for the Node telemetry tests: a fresh tracer provider with sdk-trace-base's
// in-memory exporter, a processor that keeps the spans still open, and sdk-metrics with a reader the test
// collects from. One place for telemetry.test.mjs, telemetry-usage.test.mjs and telemetry-budgets.test.mjs.
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';

class Reader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

/**
 * A tracer and meter of a fresh SDK, and what they recorded: every finished span, the call spans (no
 * parent), the spans started and not yet ended (`open`, none may stay), and the metric points, as
 * `{ name: [[attributes, value], ...] }` or, given a name, that metric's points.
 */
export function sdk() {
  const exporter = new InMemorySpanExporter();
  const open = new Set();
  const counter = {
    onStart: (span) => open.add(span),
    onEnd: (span) => open.delete(span),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const tracers = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), counter] });
  const reader = new Reader();
  const meters = new MeterProvider({ readers: [reader] });
  const tracer = tracers.getTracer('test');
  const meter = meters.getMeter('test');
  const points = async (name) => {
    const { resourceMetrics } = await reader.collect();
    const out = {};
    for (const m of resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)) {
      out[m.descriptor.name] = m.dataPoints.map((d) => [d.attributes, d.value]);
    }
    return name === undefined ? out : out[name];
  };
  return {
    tracer,
    meter,
    telemetry: { tracer, meter },
    tracers,
    meters,
    open,
    points,
    spans: () => exporter.getFinishedSpans(),
    calls: () => exporter.getFinishedSpans().filter((s) => !s.parentSpanContext),
    reset: () => exporter.reset(),
  };
}
