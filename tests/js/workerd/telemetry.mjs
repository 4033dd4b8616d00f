// A Worker that traces its calls with the real OpenTelemetry SDK, bundled with it as a user's
// Worker would be (tests/js/telemetry-workerd.test.mjs): ?mock=URL&mode=explicit|global.
import { createFetch } from 'ratewise';
// The SDK bundled for browsers (its `browser` field) by tests/js/telemetry-workerd.test.mjs, as a
// Worker's bundler would: the harness bundles Workers for the neutral platform.
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  trace,
} from '../../../.cache/otel-workerd.mjs';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
// Module scope, as users write it: the isolate's invocations share each instance.
const explicit = createFetch({ telemetry: { tracer: provider.getTracer('worker') }, baseDelayMs: 1 });
const global = createFetch({ telemetry: true, baseDelayMs: 1 });

export default {
  async fetch(request) {
    const params = new URL(request.url).searchParams;
    if (!params.has('mock')) return new Response('ok');
    const llm = params.get('mode') === 'global' ? global : explicit;
    exporter.reset();
    const res = await llm(`${params.get('mock')}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-workerd-telemetry' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.text();
    // The call span ends when the body's usage is known: a microtask after the caller has it.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const spans = exporter.getFinishedSpans().map((s) => ({
      name: s.name,
      child: Boolean(s.parentSpanContext),
      status: s.attributes['http.response.status_code'],
      error: s.attributes['error.type'],
      attempts: s.attributes['ratewise.attempts'],
      tokens: s.attributes['gen_ai.usage.output_tokens'],
      events: s.events.map((e) => e.name),
    }));
    return Response.json({ status: res.status, spans });
  },
};
