// The storage behind workerd's Cache API in tests, as Miniflare provides it:
// workerd's own `caches.default` code runs in the Worker and sends each
// operation to the `cacheApiOutbound` service (this server, on 127.0.0.1).
// `put` arrives as a PUT whose body is the serialised HTTP response, `match`
// as a GET answered with `cf-cache-status: HIT` and the stored response (or
// MISS), `delete` as a PURGE. Counts what it saw, so a test can tell that the
// Worker really used caches.default.
import http from 'node:http';

/** Parses a serialised HTTP/1.1 response: `{ status, headers, body }`. */
function parse(buffer) {
  const end = buffer.indexOf('\r\n\r\n');
  const head = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(head[0].split(' ')[1]);
  const headers = head.slice(1).map((line) => {
    const at = line.indexOf(':');
    return [line.slice(0, at).trim(), line.slice(at + 1).trim()];
  });
  let body = buffer.subarray(end + 4);
  if (headers.some(([k, v]) => k.toLowerCase() === 'transfer-encoding' && v.toLowerCase() === 'chunked')) {
    const parts = [];
    let at = 0;
    for (;;) {
      const eol = body.indexOf('\r\n', at);
      const size = Number.parseInt(body.subarray(at, eol).toString('latin1'), 16);
      if (!size) break;
      parts.push(body.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  const kept = headers.filter(([k]) => !['transfer-encoding', 'content-length'].includes(k.toLowerCase()));
  return { status, headers: kept, body };
}

/** Starts the backend; `{ address, seen: { put, hit, miss, purge }, putDelayMs, reset(), close() }`. */
export async function startCacheBackend() {
  const entries = new Map();
  const seen = { put: 0, hit: 0, miss: 0, purge: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const key = `${req.headers['cf-cache-namespaces'] ?? ''} ${req.url}`;
      if (req.method === 'PUT') {
        // A slow store (backend.putDelayMs): the put lands, and is answered, that much later.
        setTimeout(() => {
          entries.set(key, parse(Buffer.concat(chunks)));
          seen.put++;
          res.writeHead(204).end();
        }, backend.putDelayMs);
      } else if (req.method === 'PURGE') {
        seen.purge++;
        res.writeHead(entries.delete(key) ? 200 : 404).end();
      } else {
        const entry = entries.get(key);
        if (!entry) {
          seen.miss++;
          res.writeHead(504, { 'cf-cache-status': 'MISS' }).end();
          return;
        }
        seen.hit++;
        res.writeHead(entry.status, [...entry.headers.flat(), 'cf-cache-status', 'HIT']);
        res.end(entry.body);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const backend = {
    address: `127.0.0.1:${server.address().port}`,
    seen,
    putDelayMs: 0,
    reset() {
      entries.clear();
      for (const k of Object.keys(seen)) seen[k] = 0;
      backend.putDelayMs = 0;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return backend;
}
