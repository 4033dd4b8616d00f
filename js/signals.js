// Signal glue for createFetch (internal): one AbortSignal that fires when any
// caller signal aborts or the deadline passes, and a promise that rejects
// with its reason, so a pending sleep can be cut short. With one caller
// signal and no deadline, fetch gets that signal itself (so aborting it later
// still cancels the body); with none, no signal is made at all.
//
// `finish` removes every listener it added, so a long-lived signal shared by
// many calls does not collect one per call; clears the deadline timer; and
// settles `aborted` (it resolves, with nothing): wasm-bindgen frees what
// waits on a promise only when the promise settles, so an `aborted` left
// pending would keep the call's sleep future in wasm memory for good. It
// never throws. A signal-like object whose parts throw makes linkSignals
// throw, and the call fails with that error.

/** The error a call's deadline aborts it with. */
export function deadlineError(deadlineMs) {
  return new DOMException(`ratewise: deadline of ${deadlineMs} ms exceeded`, 'TimeoutError');
}

/** What linkSignals gives when nothing can abort the call (no signal, no deadline): one object for all. */
export const UNLINKED = Object.freeze({ signal: undefined, aborted: undefined, finish() {} });

export function linkSignals(signals, deadlineMs) {
  const given = signals.filter((s) => s != null);
  if (given.length === 0 && deadlineMs == null) return UNLINKED;
  const controller = new AbortController();
  const abort = (reason) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const listening = [];
  const unlisten = () => {
    for (const [s, listener] of listening) {
      try {
        s.removeEventListener('abort', listener);
      } catch {
        // A signal-like object that cannot let go: nothing more to do.
      }
    }
    listening.length = 0;
  };
  try {
    for (const s of given) {
      if (s.aborted) {
        abort(s.reason);
        continue;
      }
      const listener = () => abort(s.reason);
      s.addEventListener('abort', listener, { once: true, __proto__: null });
      listening.push([s, listener]);
    }
  } catch (e) {
    // A signal-like object whose parts throw: the call fails with its error.
    unlisten();
    throw e;
  }
  let timer;
  if (deadlineMs != null && !controller.signal.aborted) {
    timer = setTimeout(() => abort(deadlineError(deadlineMs)), deadlineMs);
  }
  let settle;
  const aborted = new Promise((resolve, reject) => {
    settle = resolve;
    if (controller.signal.aborted) reject(controller.signal.reason);
    else
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), {
        once: true,
        __proto__: null,
      });
  });
  aborted.catch(() => {});
  const finish = () => {
    clearTimeout(timer);
    unlisten();
    settle();
  };
  const signal = given.length === 1 && deadlineMs == null ? given[0] : controller.signal;
  return { signal, aborted, finish };
}
