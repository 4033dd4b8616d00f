// The Redis coordinator in whatever runtime executes this file (Deno, Bun), importing the
// installed package by name, with the clients named on the command line. Prints one JSON line.
//
//   deno run … tests/js/redis-standalone.mjs '{"mockUrl":…,"port":…,"rest":{…},"clients":["upstash"]}'
import * as ratewise from 'ratewise';
import { connect } from './redis-harness.mjs';

const job = JSON.parse((globalThis.Deno?.args ?? globalThis.process?.argv.slice(2) ?? [])[0]);
const control = (path, body) =>
  fetch(`${job.mockUrl}/__mock/${path}`, body ? { method: 'POST', body: JSON.stringify(body) } : {}).then((r) =>
    r.json(),
  );
const chat = (key) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
});
const check = (ok, what) => {
  if (!ok) throw new Error(what);
};

const results = [];
for (const kind of job.clients) {
  const name = `${kind}: a lease, then a quota seen by one instance is answered by another from the breaker`;
  const connections = [await connect(kind, job.port, job.rest), await connect(kind, job.port, job.rest)];
  try {
    await control('reset', {});
    const errors = [];
    const [a, b] = connections.map((c) =>
      ratewise.createFetch({
        coordinator: ratewise.redisCoordinator(c.client, { prefix: `rt-${kind}:` }),
        onCoordinatorError: (e) => errors.push(e.message),
      }),
    );
    const key = `sk-runtime-${kind}`;
    const first = await a(`${job.mockUrl}/v1/chat/completions`, chat(key));
    check(first.status === 200, `first call: ${first.status}`);
    await control('config', { quota: true });
    check((await a(`${job.mockUrl}/v1/chat/completions`, chat(key))).status === 429, 'the quota');
    const res = await b(`${job.mockUrl}/v1/chat/completions`, chat(key));
    check(
      res.headers.get('x-ratewise-breaker') === 'open',
      `b's answer: ${res.status} ${res.headers.get('x-ratewise-breaker')}`,
    );
    check((await control('stats')).requests === 2, 'b sent nothing');
    check(errors.length === 0, `errors: ${errors}`);
    await control('config', { quota: false });
    results.push({ name, ok: true });
  } catch (e) {
    results.push({ name, ok: false, error: String(e?.stack ?? e) });
  } finally {
    for (const c of connections) await c.close();
  }
}
const passed = results.filter((r) => r.ok).length;
const entry = import.meta.resolve('ratewise').split('/').pop();
console.log(JSON.stringify({ results, passed, failed: results.length - passed, entry }));
// Clients may keep sockets alive a moment; this file is done.
globalThis.Deno?.exit(0) ?? globalThis.process?.exit(0);
