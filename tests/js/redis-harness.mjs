// The Redis tier's fixtures: a real redis-server (Debian's, installed by
// scripts/setup.sh) on 127.0.0.1 at a free port with no persistence, a small
// endpoint speaking Upstash's REST protocol in front of it (tests only), the
// three clients connected to it, and child processes that share one limit.
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis as Upstash } from '@upstash/redis';
import IORedis from 'ioredis';
import { createClient } from 'redis';

const here = dirname(fileURLToPath(import.meta.url));

/** A port nothing listens on now (the OS's pick). */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts redis-server on a free port; `kill()` and `start()` take it down and up on the same port. */
export async function startRedis() {
  let proc;
  let port;
  const start = async () => {
    proc = spawn(
      'redis-server',
      // DEBUG SLEEP plays a slow server.
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        ...['--logfile', '', '--enable-debug-command', 'local'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const started = proc;
    let log = '';
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${log}`)), 10_000);
      started.stdout.on('data', (chunk) => {
        log += chunk;
        if (/Ready to accept connections/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}):\n${log}`));
      });
    });
    started.removeAllListeners('exit');
  };
  for (let tries = 0; ; tries++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (e) {
      if (tries >= 4) throw e; // another process took the port meanwhile: another one
    }
  }
  const kill = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };
  return { port, url: `redis://127.0.0.1:${port}`, start, kill, stop: kill };
}

/** Sends one command with redis-cli-free means: a short-lived node-redis connection. */
export async function redisCommand(port, args) {
  const client = createClient({ url: `redis://127.0.0.1:${port}` });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.sendCommand(args.map(String));
  } finally {
    client.destroy();
  }
}

/**
 * An HTTP endpoint speaking Upstash's REST protocol (POST a JSON command array,
 * answer `{ result }` or `{ error }`; base64 strings when asked; /pipeline for an array of
 * commands, as the client's auto-pipelining sends) in front of
 * the redis-server at `port`. For tests only.
 */
export async function startUpstashRest(port, token = 'test-token') {
  const redis = createClient({ url: `redis://127.0.0.1:${port}`, disableOfflineQueue: true });
  redis.on('error', () => {});
  await redis.connect();
  const encode = (v) =>
    typeof v === 'string' ? Buffer.from(v).toString('base64') : Array.isArray(v) ? v.map(encode) : v;
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: 'Unauthorized' });
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString());
      if (!Array.isArray(body)) throw new Error('not an array');
    } catch {
      return send(400, { error: 'ERR a JSON array of a command and its arguments' });
    }
    const base64 = req.headers['upstash-encoding'] === 'base64';
    const run = async (command) => {
      try {
        const result = await redis.sendCommand(command.map(String));
        return { result: base64 ? encode(result) : result };
      } catch (e) {
        return { error: String(e?.message ?? e) };
      }
    };
    if (req.url.endsWith('/pipeline')) {
      // A pipeline: an array of commands, answered one entry each.
      if (!body.every(Array.isArray)) return send(400, { error: 'ERR a JSON array of commands' });
      const answers = [];
      for (const command of body) answers.push(await run(command));
      return send(200, answers);
    }
    const answer = await run(body);
    send(answer.error ? 400 : 200, answer);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    token,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      redis.destroy();
    },
  };
}

/**
 * A connected client of `kind` ('node-redis' | 'ioredis' | 'upstash'); `close()` ends it.
 * `rest` is the Upstash endpoint, for 'upstash'.
 */
export async function connect(kind, port, rest, options = {}) {
  if (kind === 'node-redis') {
    const url = `redis://127.0.0.1:${port}`;
    const client = createClient({ url, socket: { reconnectStrategy: () => 100 }, ...options });
    client.on('error', () => {}); // node-redis exits the process on an unheard error event
    // It keeps trying a server that is down: wait a moment at most.
    await Promise.race([client.connect().catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
    return { client, close: () => client.destroy() };
  }
  if (kind === 'ioredis') {
    const client = new IORedis({ port, host: '127.0.0.1', retryStrategy: () => 100, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    await new Promise((resolve) => {
      client.once('ready', resolve);
      setTimeout(resolve, 500);
    });
    return { client, close: () => client.disconnect() };
  }
  if (kind === 'upstash') {
    const client = new Upstash({ url: rest.url, token: rest.token, retry: false, enableTelemetry: false });
    return { client, close: () => {} };
  }
  throw new Error(`no client ${kind}`);
}

const child = join(here, 'redis-child.mjs');

/**
 * Runs `n` Node processes (tests/js/redis-child.mjs), each with `job` (see
 * there), and resolves to what each reported.
 */
export function runChildren(n, job, timeoutMs = 60_000) {
  return Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise((resolve, reject) => {
          execFile(
            process.execPath,
            [child, JSON.stringify({ ...job, index: i })],
            { cwd: here, timeout: timeoutMs },
            (error, stdout, stderr) => {
              if (error) return reject(new Error(`child ${i}: ${error.message}\n${stderr}`));
              try {
                resolve(JSON.parse(stdout.trim().split('\n').pop()));
              } catch {
                reject(new Error(`child ${i} said:\n${stdout}\n${stderr}`));
              }
            },
          );
        }),
    ),
  );
}
