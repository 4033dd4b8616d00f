// Signal glue for createFetch (internal): one AbortSignal that fires when any
// caller signal aborts or the deadline passes, and a promise that rejects
// with its reason, so a pending sleep can be cut short.

export function linkSignals(signals, deadlineMs) {
  const controller = new AbortController();
  const abort = (reason) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  for (const s of signals) {
    if (s == null) continue;
    if (s.aborted) abort(s.reason);
    else s.addEventListener('abort', () => abort(s.reason), { once: true });
  }
  let timer;
  if (deadlineMs != null && !controller.signal.aborted) {
    timer = setTimeout(
      () => abort(new DOMException(`ratewise: deadline of ${deadlineMs} ms exceeded`, 'TimeoutError')),
      deadlineMs,
    );
  }
  const aborted = new Promise((_, reject) => {
    if (controller.signal.aborted) reject(controller.signal.reason);
    else controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
  });
  aborted.catch(() => {});
  return { signal: controller.signal, aborted, finish: () => clearTimeout(timer) };
}
