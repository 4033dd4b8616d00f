// The isolate's side of a coordinator: one per limit key, named by the key's
// hash (never the credentials). A Durable Object namespace is asked through
// namespace.get(idFromName(...)).fetch(POST message); a coordinator with its
// own `send(key, message)` (redisCoordinator) answers the message itself.
// Every promise made here is awaited or handled, and the timer is this
// call's own.

const URL_ = 'https://ratewise.coordinator/';

async function viaObject(namespace, key, message) {
  const stub = namespace.get(namespace.idFromName(`ratewise:${key}`));
  const res = await stub.fetch(URL_, { method: 'POST', body: JSON.stringify(message) });
  if (!res.ok) throw new Error(`the coordinator answered HTTP ${res.status}`);
  return res.json();
}

/** Sends `message` to the coordinator of `key`; resolves to its answer within `timeoutMs`. */
export async function coordinatorSend(namespace, key, message, timeoutMs) {
  const sent =
    typeof namespace.send === 'function'
      ? Promise.resolve().then(() => namespace.send(key, message))
      : viaObject(namespace, key, message);
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  sent.catch(() => {}); // a late failure after the timeout is not unhandled
  try {
    return await Promise.race([sent, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends each `[key, message]` of `pairs` in turn, in the background (kept alive by `waitUntil` when
 * given): a spend budget's settles and releases, after the call has returned. `told(0, alerts)` gets
 * the alerts the coordinator answers (when `alerts`), `told(1, message)` a failure's message once per
 * incident (`incident.down` says whether one is under way): the wasm side fires `onBudget` and
 * `onCoordinatorError` with them (src/wasm/outputs.rs). Nothing here rejects.
 */
export function coordinatorPost(namespace, pairs, timeoutMs, told, alerts, waitUntil, incident) {
  const work = (async () => {
    for (const [key, message] of pairs) {
      let answer;
      try {
        answer = await coordinatorSend(namespace, key, message, timeoutMs);
        incident.down = false;
      } catch (e) {
        if (incident.down) continue;
        incident.down = true;
        try {
          told(1, String(e?.message ?? 'failed'));
        } catch {}
        continue;
      }
      if (!alerts || !Array.isArray(answer?.alerts)) continue;
      try {
        told(0, answer.alerts);
      } catch {}
    }
  })();
  if (typeof waitUntil === 'function') {
    try {
      waitUntil(work);
    } catch {}
  }
}
