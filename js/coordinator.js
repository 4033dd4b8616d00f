// The isolate's side of the Durable Object coordinator: one object per limit
// key, named by the key's hash (never the credentials). Every promise made
// here is awaited or handled, and the timer is this call's own.

const URL_ = 'https://ratewise.coordinator/';

/** Posts `message` to the coordinator of `key`; resolves to its JSON answer within `timeoutMs`. */
export async function coordinatorSend(namespace, key, message, timeoutMs) {
  const stub = namespace.get(namespace.idFromName(`ratewise:${key}`));
  const sent = Promise.resolve(stub.fetch(URL_, { method: 'POST', body: JSON.stringify(message) }));
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  sent.catch(() => {}); // a late failure after the timeout is not unhandled
  try {
    const res = await Promise.race([sent, late]);
    if (!res.ok) throw new Error(`the coordinator answered HTTP ${res.status}`);
    return await res.json();
  } finally {
    clearTimeout(timer);
  }
}
