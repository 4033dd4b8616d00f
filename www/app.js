// ratewise demo page: a live classifier and a side-by-side retry simulation
// against the mock LLM API that serves this page (tests/mock/server.mjs).
import { classify, createFetch, isQuotaExhaustedError } from 'ratewise';
import { SAMPLES } from './samples.js';

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// Small formatting helpers
// ---------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'style') node.style.cssText = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** "20 s", "18.6 s", "6 ms", "9 min 38 s", "26 h" (with no-break spaces). */
function humanMs(ms) {
  return humanMsText(ms).replace(/ /g, '\u00a0');
}

function humanMsText(ms) {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 10) return `${+s.toFixed(2)} s`;
  if (s < 60) return `${+s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) {
    const rest = Math.round(s - m * 60);
    return rest ? `${m} min ${rest} s` : `${m} min`;
  }
  const h = s / 3600;
  return h < 48 ? `${+h.toFixed(1)} h` : `${+(h / 24).toFixed(1)} days`;
}

const fmtInt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
const fmtSeconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

// ---------------------------------------------------------------------------
// Classifier panel
// ---------------------------------------------------------------------------

const ACTION_TEXT = {
  retry: 'Transient: waiting heals it, so retry.',
  alert: 'Waiting will not help: tell a human.',
  fail: 'The request itself is wrong: retrying sends the same failure.',
  none: 'Success: nothing to do.',
};

/** One line a developer can act on, per kind. */
function explain(c) {
  const wait = c.retryAfterMs !== null ? humanMs(c.retryAfterMs) : null;
  switch (c.kind) {
    case 'ok':
      return c.limits
        ? 'Success. The rate-limit headers still say how much room is left in each window.'
        : 'Success. Nothing to retry.';
    case 'rate_limit':
      return wait
        ? `A real rate limit: it heals by itself. Retry in ${wait}, as the server asks.`
        : 'A real rate limit: it heals by itself. Retry with exponential backoff.';
    case 'quota_exhausted':
      return wait
        ? `The account is out of credit or quota. Alert a human and stop retrying: the ${wait} hint will not refill it.`
        : 'The account is out of credit or quota. Waiting will not help: alert a human and stop retrying.';
    case 'overloaded':
      return 'The provider is overloaded, not you. Retry with backoff' + (wait ? `, after ${wait}.` : '.');
    case 'server_error':
      return 'A server or gateway error, usually brief. Retry with backoff' + (wait ? `, after ${wait}.` : '.');
    case 'timeout':
      return 'The request timed out upstream. Retry with backoff.';
    case 'network':
      return 'No response reached you. Retry with backoff.';
    case 'auth':
      return 'The API key is wrong, missing or revoked. Fix the key: retrying cannot help.';
    case 'permission':
      return 'This key, project or region may not use this resource. Fix access: do not retry.';
    case 'not_found':
      return 'The model or endpoint does not exist for this key. Fix the request.';
    case 'bad_request':
      return 'The request is malformed. Fix it: the same request fails the same way.';
    case 'context_length':
      return "The prompt does not fit the model's context window. Shorten it.";
    case 'request_too_large':
      return 'This one request is bigger than the whole per-minute limit, so it can never succeed as sent. Make it smaller.';
    case 'content_filter':
      return "The provider's safety filter blocked the content. Change the input.";
    default:
      return ACTION_TEXT[c.action] || 'Not recognised.';
  }
}

/** "name: value" lines -> [[name, value]], plus the lines that could not be read. */
function parseHeaders(text) {
  const pairs = [];
  const bad = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const at = line.indexOf(':');
    if (at <= 0) {
      bad.push(i + 1);
      return;
    }
    pairs.push([line.slice(0, at).trim(), line.slice(at + 1).trim()]);
  });
  return { pairs, bad };
}

function headersToText(headers) {
  if (!headers) return '';
  return Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
}

/** "owner/repo#12 (https://…)" -> text and links, built as DOM nodes. */
function linkify(text) {
  const out = [];
  const re = /(https?:\/\/[^\s)]+)|([\w.-]+\/[\w.-]+)#(\d+)/g;
  let last = 0;
  for (let m; (m = re.exec(text)); ) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const href = m[1] || `https://github.com/${m[2]}/issues/${m[3]}`;
    out.push(el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, m[0]));
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

const editor = {
  select: $('sample'),
  status: $('status'),
  url: $('url'),
  headers: $('headers'),
  body: $('body'),
};
let currentSample = null;

const QUICK = [
  ['openai-rate-limit', 'rate limit'],
  ['openai-insufficient-quota', 'insufficient_quota'],
  ['gemini-per-minute', 'Gemini per-minute'],
  ['gemini-per-day', 'Gemini per-day'],
];

function buildQuickPicks() {
  $('quick').replaceChildren(
    el('span', { class: 'quick-label' }, 'Compare:'),
    ...QUICK.map(([id, label]) => {
      const b = el('button', { type: 'button', class: 'quick-pick', 'data-sample': id }, label);
      b.addEventListener('click', () => loadSample(id));
      return b;
    }),
  );
}

function buildGallery() {
  const groups = new Map();
  for (const s of SAMPLES) {
    if (!groups.has(s.group)) groups.set(s.group, el('optgroup', { label: s.group }));
    groups.get(s.group).append(el('option', { value: s.id }, s.label));
  }
  editor.select.append(...groups.values());
}

function loadSample(id) {
  const s = SAMPLES.find((x) => x.id === id) || SAMPLES[0];
  currentSample = s;
  editor.select.value = s.id;
  editor.status.value = String(s.input.status);
  editor.url.value = s.input.url || '';
  editor.headers.value = headersToText(s.input.headers);
  editor.headers.rows = Math.min(8, Math.max(3, editor.headers.value.split('\n').length));
  editor.body.value = typeof s.input.body === 'string' ? s.input.body : JSON.stringify(s.input.body ?? '', null, 2);
  $('source-short').replaceChildren(...linkify(s.source));
  $('source-note').textContent = s.note || '';
  $('source-box').classList.toggle('no-note', !s.note);
  for (const b of document.querySelectorAll('.quick-pick')) b.setAttribute('aria-pressed', String(b.dataset.sample === s.id));
  if (location.hash !== `#${s.id}` && document.documentElement.dataset.ready) {
    history.replaceState(null, '', `#${s.id}`);
  }
  updateClassification();
}

function isEdited() {
  const s = currentSample;
  if (!s) return false;
  return (
    editor.status.value !== String(s.input.status) ||
    editor.url.value !== (s.input.url || '') ||
    editor.headers.value !== headersToText(s.input.headers) ||
    editor.body.value !== s.input.body
  );
}

function setText(id, text, empty = '—') {
  const node = $(id);
  const value = text === null || text === undefined || text === '' ? empty : String(text);
  node.textContent = value;
  node.classList.toggle('empty', value === empty);
}

function renderLimits(limits) {
  const box = $('out-limits');
  const rows = [
    ['requests', 'Requests'],
    ['tokens', 'Tokens'],
    ['inputTokens', 'Input tokens'],
    ['outputTokens', 'Output tokens'],
  ].filter(([k]) => limits && limits[k]);
  if (!rows.length) {
    box.replaceChildren(el('p', { class: 'muted small' }, 'None in these headers.'));
    return;
  }
  const table = el(
    'table',
    { class: 'limits' },
    el('thead', {}, el('tr', {}, el('th', {}, 'Window'), el('th', {}, 'Remaining'), el('th', {}, 'Resets in'))),
    el(
      'tbody',
      {},
      rows.map(([k, label]) => {
        const w = limits[k];
        const pct = w.limit ? Math.max(0, Math.min(1, (w.remaining ?? 0) / w.limit)) : null;
        const meter =
          pct === null
            ? null
            : el('span', { class: 'meter' + (w.remaining === 0 ? ' empty' : ''), 'aria-hidden': 'true' },
                el('span', { style: `width:${(pct * 100).toFixed(1)}%` }));
        return el(
          'tr',
          { 'data-window': k },
          el('th', { scope: 'row' }, label),
          el('td', {}, meter, `${fmtInt(w.remaining)} / ${fmtInt(w.limit)}`),
          el('td', {}, w.resetMs === null ? '—' : w.resetMs === 0 ? 'now' : humanMs(w.resetMs)),
        );
      }),
    ),
  );
  box.replaceChildren(table);
}

function showClassifyError(message) {
  const badge = $('out-action');
  badge.textContent = 'input error';
  badge.dataset.action = 'error';
  setText('out-kind', '—');
  $('out-provider').hidden = true;
  $('out-explain').textContent = message;
  for (const id of ['out-wait', 'out-status', 'out-code', 'out-type', 'out-reason']) setText(id, null);
  $('out-message-row').hidden = true;
  $('out-limits').replaceChildren();
  $('out-json').textContent = '';
  $('result').dataset.state = 'error';
}

function updateClassification() {
  $('edited').hidden = !isEdited();
  const { pairs, bad } = parseHeaders(editor.headers.value);
  const warn = $('headers-warning');
  warn.hidden = bad.length === 0;
  warn.textContent = bad.length
    ? `Line${bad.length > 1 ? 's' : ''} ${bad.join(', ')} ignored: expected "name: value".`
    : '';

  const statusText = editor.status.value.trim();
  if (statusText === '') return showClassifyError('Enter an HTTP status (0 means no response).');
  const input = { status: Number(statusText), headers: pairs, body: editor.body.value };
  if (editor.url.value.trim()) input.url = editor.url.value.trim();

  let c;
  try {
    c = classify(input);
  } catch (e) {
    return showClassifyError(`classify() threw ${e.name}: ${e.message}`);
  }
  if (!c || typeof c !== 'object' || typeof c.kind !== 'string') {
    return showClassifyError(`classify() returned ${c === null ? 'null' : typeof c}, not a Classification. Rebuild the package with ./scripts/build.sh.`);
  }
  $('result').dataset.state = 'ok';
  const badge = $('out-action');
  badge.textContent = c.action;
  badge.dataset.action = c.action;
  badge.title = ACTION_TEXT[c.action] || '';
  setText('out-kind', c.kind);
  $('out-kind').dataset.kind = c.kind;
  const provider = $('out-provider');
  provider.hidden = false;
  provider.textContent = c.provider;
  provider.classList.toggle('unknown', c.provider === 'unknown');
  $('out-explain').textContent = explain(c);

  const wait = $('out-wait');
  wait.dataset.ms = c.retryAfterMs === null ? '' : String(c.retryAfterMs);
  if (c.retryAfterMs === null) {
    wait.replaceChildren(el('span', { class: 'empty' }, 'no hint'));
  } else {
    wait.replaceChildren(
      el('span', { class: 'big' }, humanMs(c.retryAfterMs)),
      ' ',
      el('span', { class: 'raw' }, `${c.retryAfterMs} ms`),
    );
  }
  wait.classList.toggle('misleading', c.action === 'alert' && c.retryAfterMs !== null);
  setText('out-status', c.status);
  setText('out-code', c.code);
  setText('out-type', c.type);
  setText('out-reason', c.reason);
  $('out-message-row').hidden = !c.message;
  $('out-message').textContent = c.message || '';
  renderLimits(c.limits);
  $('out-json').textContent = JSON.stringify(c, null, 2);
}

function initClassifier() {
  buildGallery();
  buildQuickPicks();
  editor.select.addEventListener('change', () => loadSample(editor.select.value));
  for (const field of [editor.status, editor.url, editor.headers, editor.body]) {
    field.addEventListener('input', updateClassification);
  }
  $('restore').addEventListener('click', () => loadSample(currentSample.id));
  const fromHash = SAMPLES.find((s) => `#${s.id}` === location.hash);
  loadSample(fromHash ? fromHash.id : 'openai-insufficient-quota');
}

// ---------------------------------------------------------------------------
// Feature detection: createFetch throws TypeError "unknown option" for keys it
// does not know yet, so each newer option is tried on its own.
// ---------------------------------------------------------------------------

const OPTIONAL = {
  maxConcurrency: { probe: 2, label: 'maxConcurrency', what: 'library-side concurrency limit' },
  maxQueue: { probe: 10, label: 'maxQueue', what: 'bounded queue' },
  throttle: { probe: true, label: 'throttle', what: 'slows down before the limit, from x-ratelimit headers' },
  quotaCooldownMs: { probe: 1000, label: 'quotaCooldownMs', what: 'quota circuit breaker' },
};

function optionSupported(name, value) {
  try {
    createFetch({ [name]: value });
    return true;
  } catch (e) {
    if (e instanceof TypeError && /unknown option/.test(e.message)) return false;
    // Known option, but the probe value was refused: still supported.
    return true;
  }
}

const features = {};
function detectFeatures() {
  for (const [name, f] of Object.entries(OPTIONAL)) features[name] = optionSupported(name, f.probe);
  features.breaker = typeof createFetch({}).breaker === 'function';
  const box = $('features');
  const all = [
    ['classify()', true, 'classify() the failure from status, headers and body'],
    ['retries + wait hints', true, 'backoff, retry-after, x-ratelimit-reset, RetryInfo'],
    ['onQuotaExhausted', true, 'alert hook'],
    ...Object.entries(OPTIONAL).map(([name, f]) => [f.label, features[name], f.what]),
    ['breaker()', features.breaker, 'fetch.breaker() / fetch.resetBreaker()'],
  ];
  const chip = ([name, on, title]) =>
    el('span', { class: `chip ${on ? 'on' : 'off'}`, 'data-feature': name, 'data-supported': String(on), title },
      el('i', { 'aria-hidden': 'true' }), name);
  const missing = all.filter(([, on]) => !on);
  const parts = [el('span', { class: 'features-label' }, 'This build has:'), ...all.filter(([, on]) => on).map(chip)];
  if (missing.length) {
    parts.push(el('span', { class: 'features-missing' }, 'Not in this build yet (the run works without them): ',
      missing.map(([name, , title], i) => [i ? ', ' : '', el('code', { title, 'data-feature': name, 'data-supported': 'false' }, name)])));
  }
  box.replaceChildren(...parts);
}

/**
 * Builds the ratewise options for a run: the base options, plus each newer
 * option that this build accepts (checked one by one so a half-landed
 * feature cannot break the run).
 */
function ratewiseOptions(params, hooks) {
  const base = {
    maxRetries: params.retries,
    onEvent: hooks.onEvent,
    onQuotaExhausted: hooks.onQuotaExhausted,
    fetch: hooks.fetch,
  };
  const wanted = {};
  if (features.maxConcurrency) wanted.maxConcurrency = params.concurrency;
  if (features.maxConcurrency && features.maxQueue) wanted.maxQueue = Math.max(params.requests, 1);
  if (features.throttle) wanted.throttle = params.throttle;
  if (features.quotaCooldownMs) wanted.quotaCooldownMs = 60_000;
  const used = {};
  for (const [k, v] of Object.entries(wanted)) {
    try {
      createFetch({ ...base, ...used, [k]: v });
      used[k] = v;
    } catch {
      // Leave the option out; the run still works without it.
    }
  }
  return { options: { ...base, ...used }, extra: used };
}

function ratewiseCode(params, extra) {
  const lines = [
    "import { createFetch } from 'ratewise';",
    '',
    'const fetch = createFetch({',
    `  maxRetries: ${params.retries},`,
    ...Object.entries(extra).map(([k, v]) => `  ${k}: ${typeof v === 'number' ? v.toLocaleString('en-US').replace(/,/g, '_') : v},`),
    '  onEvent,           // after every attempt: draws this timeline',
    '  onQuotaExhausted,  // once per call that hits an empty account',
    '  fetch: countingFetch, // globalThis.fetch that records each network call',
    '});',
    '',
    extra.maxConcurrency
      ? `// all ${params.requests} calls start at once; maxConcurrency queues them`
      : `// ${params.requests} calls, ${params.concurrency} at a time (a worker pool in the page)`,
    "await fetch('/v1/chat/completions?lane=N', { method: 'POST', body });",
  ];
  return lines.join('\n');
}

const BASELINE_CODE = `// What a status-only client does (openai-node's makeRequest / retryRequest):
for (let retriesLeft = maxRetries; ; retriesLeft--) {
  const res = await fetch(url, init);
  const hint = res.headers.get('x-should-retry'); // 'true' | 'false' | null
  const retryable = hint ? hint === 'true'
    : [408, 409, 429].includes(res.status) || res.status >= 500;
  if (res.ok || !retryable || retriesLeft === 0) return res;
  // retry-after-ms, else retry-after (seconds or date),
  // else 0.5 s * 2^n * (1 - 0.25 * random), at most 8 s
  await sleep(retryDelay(res.headers, retriesLeft));
  // the body is never read: a 429 is a 429
}`;

// ---------------------------------------------------------------------------
// Simulation
// ---------------------------------------------------------------------------

const CONTENDERS = ['ratewise', 'baseline'];
const sim = {
  running: false,
  runs: { ratewise: null, baseline: null },
  t0: 0,
  frame: 0,
};

function readParams() {
  const num = (id, min, max, dflt) => {
    const v = Math.round(Number($(id).value));
    const clamped = Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : dflt;
    $(id).value = String(clamped);
    return clamped;
  };
  return {
    requests: num('sim-requests', 1, 200, 20),
    concurrency: num('sim-concurrency', 1, 50, 5),
    limit: num('sim-limit', 1, 1000, 5),
    windowMs: num('sim-window', 100, 60000, 1000),
    retries: num('sim-retries', 0, 10, 2),
    latencyMs: num('sim-latency', 0, 5000, 40),
    quota: $('sim-quota').checked,
    throttle: $('sim-throttle').checked,
  };
}

async function mockControl(path, body) {
  const res = await fetch(`/__mock/${path}`, body === undefined
    ? {}
    : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    throw new Error(`mock ${path} answered ${res.status} ${text}`.trim());
  }
  return res.json();
}

async function prepareMock(params) {
  // Open the connections first (control calls are not counted as LLM
  // requests), so neither contender pays for connection setup in its timeline.
  await Promise.all(Array.from({ length: Math.min(params.concurrency, 6) }, () => mockControl('config')));
  await mockControl('reset', {});
  await mockControl('config', {
    limit: params.limit,
    windowMs: params.windowMs,
    quota: params.quota,
    latencyMs: params.latencyMs,
    retryAfterStyle: 'seconds',
  });
}

/** Runs task(i) for i in 0..n-1, at most `limit` at a time. */
async function pool(n, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, limit) }, worker));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now() - sim.t0;

let runCounter = 0;
function newRun(contender, params) {
  runCounter += 1;
  return {
    id: `${contender}-${runCounter}`,
    contender,
    params,
    start: now(),
    end: null,
    lanes: Array.from({ length: params.requests }, (_, i) => ({
      i,
      start: null,
      firstSend: null,
      end: null,
      attempts: [],
      outcome: null, // 'ok' | 'failed' | 'alert'
      blocked: false, // stopped by ratewise with no network call
      detail: '',
    })),
    clientCalls: 0,
    alerts: 0,
    shortCircuits: 0,
    server: null,
    stats: null,
    breaker: null,
    extra: {},
  };
}

function chatInit(i) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-demo-key' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Say hello (request ${i + 1})` }] }),
  };
}

const laneOf = (url) => Number(new URL(String(url), location.href).searchParams.get('lane'));

/** (a) The batch through ratewise. */
async function runRatewise(params) {
  const run = newRun('ratewise', params);
  sim.runs.ratewise = run;

  // The fetch ratewise wraps: records every network call, per lane.
  const countingFetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    const lane = run.lanes[laneOf(url)];
    const attempt = { start: now(), end: null, status: null, kind: null, delayMs: null, decision: null };
    lane.attempts.push(attempt);
    lane.firstSend ??= attempt.start;
    run.clientCalls += 1;
    const p = fetch(input, init);
    p.then(
      (res) => { attempt.end = now(); attempt.status = res.status; },
      (err) => { attempt.end = now(); attempt.status = 0; attempt.error = String(err?.message || err); },
    );
    return p;
  };
  const onEvent = (e) => {
    const lane = run.lanes[laneOf(e.url)];
    if (!lane) return;
    const attempt = lane.attempts[e.attempt - 1];
    if (!attempt) {
      lane.blocked = true;
      lane.lastEvent = e;
      return;
    }
    attempt.kind = e.kind;
    attempt.action = e.classification?.action;
    attempt.decision = e.decision;
    attempt.delayMs = e.delayMs;
    attempt.stop = e.stop;
    lane.lastEvent = e;
  };
  const onQuotaExhausted = (info) => {
    const lane = run.lanes[laneOf(info.url)];
    // breakerOpen: the open quota breaker answered without a network call;
    // only a real quota response from the server is worth paging someone.
    if (info.breakerOpen === true) {
      run.shortCircuits += 1;
      return;
    }
    run.alerts += 1;
    if (lane) lane.alertedAt = now();
  };

  const { options, extra } = ratewiseOptions(params, { onEvent, onQuotaExhausted, fetch: countingFetch });
  run.extra = extra;
  $('code-ratewise').textContent = ratewiseCode(params, extra);
  const rwFetch = createFetch(options);

  const one = async (i) => {
    const lane = run.lanes[i];
    lane.start = now();
    try {
      const res = await rwFetch(`/v1/chat/completions?lane=${i}`, chatInit(i));
      await res.text();
      const kind = lane.lastEvent?.kind;
      lane.status = res.status;
      lane.outcome = res.ok ? 'ok' : kind === 'quota_exhausted' ? 'alert' : 'failed';
      lane.detail = res.ok ? '200 OK' : `${res.status} ${kind || ''}`.trim();
    } catch (e) {
      lane.outcome = isQuotaExhaustedError(e) || e?.kind === 'quota_exhausted' ? 'alert' : 'failed';
      lane.detail = `${e?.name || 'Error'}: ${e?.message || e}`;
    }
    if (lane.attempts.length === 0) lane.blocked = true;
    lane.end = now();
  };

  if (extra.maxConcurrency) {
    await Promise.all(run.lanes.map((_, i) => one(i)));
  } else {
    await pool(params.requests, params.concurrency, one);
  }
  run.end = now();
  run.stats = rwFetch.stats();
  if (typeof rwFetch.breaker === 'function') {
    try {
      run.breaker = rwFetch.breaker();
    } catch {
      run.breaker = null;
    }
  }
  return run;
}

/** openai-node's delay: retry-after-ms, retry-after (s or HTTP date), else 0.5 s * 2^n with up to 25 % jitter, max 8 s. */
function statusOnlyDelay(headers, retriesRemaining, maxRetries) {
  let ms;
  const msHeader = headers.get('retry-after-ms');
  if (msHeader && !Number.isNaN(parseFloat(msHeader))) ms = parseFloat(msHeader);
  const sHeader = headers.get('retry-after');
  if (sHeader && !ms) {
    const s = parseFloat(sHeader);
    ms = Number.isNaN(s) ? Date.parse(sHeader) - Date.now() : s * 1000;
  }
  if (ms === undefined || Number.isNaN(ms)) {
    const n = maxRetries - retriesRemaining;
    ms = Math.min(0.5 * 2 ** n, 8) * (1 - Math.random() * 0.25) * 1000;
  }
  return Math.max(0, ms);
}

function statusOnlyRetryable(res) {
  const header = res.headers.get('x-should-retry');
  if (header === 'true') return true;
  if (header === 'false') return false;
  return res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500;
}

/** (b) The batch through a status-only retry loop. */
async function runBaseline(params) {
  const run = newRun('baseline', params);
  sim.runs.baseline = run;
  $('code-baseline').textContent = BASELINE_CODE.replace('maxRetries', String(params.retries));

  const one = async (i) => {
    const lane = run.lanes[i];
    lane.start = now();
    const url = `/v1/chat/completions?lane=${i}`;
    try {
      for (let left = params.retries; ; left--) {
        const attempt = { start: now(), end: null, status: null, delayMs: null, decision: null };
        lane.attempts.push(attempt);
        lane.firstSend ??= attempt.start;
        run.clientCalls += 1;
        const res = await fetch(url, chatInit(i));
        attempt.end = now();
        attempt.status = res.status;
        attempt.kind = res.ok ? 'ok' : `HTTP ${res.status}`;
        if (!res.ok && left > 0 && statusOnlyRetryable(res)) {
          attempt.decision = 'retry';
          attempt.delayMs = statusOnlyDelay(res.headers, left, params.retries);
          await res.body?.cancel();
          await sleep(attempt.delayMs);
          continue;
        }
        attempt.decision = 'stop';
        await res.text();
        lane.status = res.status;
        lane.outcome = res.ok ? 'ok' : 'failed';
        lane.detail = res.ok ? '200 OK' : `${res.status}: gave up`;
        break;
      }
    } catch (e) {
      lane.outcome = 'failed';
      lane.detail = String(e?.message || e);
    }
    lane.end = now();
  };
  await pool(params.requests, params.concurrency, one);
  run.end = now();
  return run;
}

// ---------------------------------------------------------------------------
// Timeline rendering
// ---------------------------------------------------------------------------

function niceStep(total, maxTicks = 8) {
  const steps = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 15000, 30000, 60000];
  return steps.find((s) => total / s <= maxTicks) || 120000;
}

/** The shared time scale of both timelines, ms, rounded up to a whole tick. */
function scaleMs() {
  let t = 1000;
  for (const c of CONTENDERS) {
    const r = sim.runs[c];
    if (!r) continue;
    t = Math.max(t, (r.end ?? now()) - r.start);
  }
  const step = niceStep(t);
  return Math.ceil((t * 1.04) / step) * step;
}

function attemptClass(contender, a) {
  if (a.end === null) return 'pending';
  if (a.status >= 200 && a.status < 300) return 'ok';
  if (contender === 'ratewise') {
    if (a.kind === 'quota_exhausted' || a.action === 'alert') return 'quota';
    if (a.kind === 'rate_limit' || (a.kind === null && a.status === 429)) return 'r429';
    return 'err';
  }
  return a.status === 429 ? 'r429' : 'err';
}

function attemptTitle(contender, a, n) {
  const parts = [`attempt ${n}`];
  if (a.end === null) parts.push('in flight');
  else {
    parts.push(a.status ? `HTTP ${a.status}` : 'no response');
    if (contender === 'ratewise' && a.kind) parts.push(a.kind);
    parts.push(`${Math.round(a.end - a.start)} ms`);
  }
  if (a.decision === 'retry' && a.delayMs !== null) parts.push(`then wait ${Math.round(a.delayMs)} ms`);
  if (a.decision === 'stop' && a.stop) parts.push(`stop: ${a.stop}`);
  return parts.join(' · ');
}

// Marks are positioned by CSS custom properties: --a/--b are ms since the
// run started, --T (the scale) and --now live on containers. Moving time
// forward or rescaling is one style change, and a lane is rebuilt only when
// its own data changes, so drawing stays cheap while requests are timed.
const at = (run, t) => (t - run.start).toFixed(1);
const span = (cls, run, a, b, title) =>
  el('span', { class: cls, style: `--a:${at(run, a)};--b:${b === null ? 'var(--now)' : at(run, b)}`, title });

function laneSignature(lane) {
  return [
    lane.start !== null,
    lane.firstSend !== null,
    lane.end !== null,
    lane.outcome,
    ...lane.attempts.map((a) => `${a.end !== null}${a.kind}${a.decision}`),
  ].join('|');
}

function laneMarks(contender, run, lane) {
  const marks = [];
  if (lane.start === null) return marks;
  const queuedUntil = lane.firstSend ?? lane.end;
  if (queuedUntil === null || queuedUntil - lane.start > 1) {
    const waited = queuedUntil === null ? 'queued' : `queued ${Math.round(queuedUntil - lane.start)} ms`;
    marks.push(span('seg queue', run, lane.start, queuedUntil, waited));
  }
  lane.attempts.forEach((a, n) => {
    const next = lane.attempts[n + 1];
    if (a.end !== null && (next || (a.decision === 'retry' && lane.end === null))) {
      const title = next ? `waited ${Math.round(next.start - a.end)} ms before attempt ${n + 2}` : 'waiting to retry';
      marks.push(span('seg wait', run, a.end, next ? next.start : null, title));
    }
  });
  lane.attempts.forEach((a, n) => {
    const mark = span(`mark ${attemptClass(contender, a)}`, run, a.start, a.end, attemptTitle(contender, a, n + 1));
    mark.dataset.status = a.status ?? '';
    marks.push(mark);
  });
  if (lane.end !== null && lane.outcome !== 'ok') {
    const cls = lane.outcome === 'alert' ? 'alert' : 'fail';
    const title = lane.blocked
      ? `stopped before any network call: ${lane.detail}`
      : `${lane.outcome === 'alert' ? 'alerted' : 'gave up'}: ${lane.detail}`;
    marks.push(span(`end ${cls}${lane.blocked ? ' blocked' : ''}`, run, lane.end, lane.end, title));
  }
  return marks;
}

function updateLane(contender, run, lane, node) {
  const calls = lane.attempts.length;
  node.className = `lane${lane.outcome ? ` is-${lane.outcome}` : ''}`;
  node.dataset.outcome = lane.outcome ?? 'pending';
  node.dataset.calls = String(calls);
  node.children[1].replaceChildren(...laneMarks(contender, run, lane));
  const count = node.children[2];
  count.textContent = lane.start === null ? '' : `${calls}×`;
  count.classList.toggle('zero', calls === 0 && lane.end !== null);
  count.title = `${calls} network call${calls === 1 ? '' : 's'}`;
}

function drawAxis(contender, run, T) {
  const axis = $(`axis-${contender}`);
  const key = `${T}|${run?.end ?? ''}|${axis.clientWidth}`;
  if (axis.dataset.key === key) return;
  axis.dataset.key = key;
  if (!run) {
    axis.replaceChildren();
    return;
  }
  // About one label per 64 px, so the axis stays readable on a phone.
  const maxTicks = Math.max(2, Math.floor((axis.clientWidth || 400) / 64));
  const step = niceStep(T, maxTicks);
  const ticks = [];
  for (let t = 0; t <= T + 1; t += step) {
    ticks.push(el('span', { class: 'tick', style: `left:${((t / T) * 100).toFixed(3)}%` }, t === 0 ? '0' : humanMs(t)));
  }
  const finish = run.end === null
    ? null
    : el('span', { class: 'finish', style: `--a:${at(run, run.end)}` }, `done in ${fmtSeconds(run.end - run.start)}`);
  axis.replaceChildren(...[el('span', { class: 'axis-track' }, ticks), finish].filter(Boolean));
}

function drawTimeline(contender, T) {
  const run = sim.runs[contender];
  const box = $(`lanes-${contender}`);
  if (!run) {
    $(`finish-${contender}`).hidden = true;
    const empty = sim.running ? 'waiting' : 'none';
    if (box.dataset.run !== empty) {
      box.dataset.run = empty;
      box.replaceChildren(el('p', { class: 'lanes-empty' }, sim.running ? 'Runs when ratewise is done…' : 'No run yet. Press Run.'));
    }
    drawAxis(contender, null, T);
    return;
  }
  if (box.dataset.run !== run.id) {
    box.dataset.run = run.id;
    run.nodes = run.lanes.map((lane) =>
      el('div', { class: 'lane', 'data-testid': 'lane', 'data-contender': contender, 'data-request': lane.i + 1 },
        el('span', { class: 'lane-label' }, `#${lane.i + 1}`),
        el('span', { class: 'track' }),
        el('span', { class: 'lane-calls' })));
    run.signatures = run.lanes.map(() => null);
    box.replaceChildren(...run.nodes);
  }
  run.lanes.forEach((lane, i) => {
    const sig = laneSignature(lane);
    if (sig === run.signatures[i]) return;
    run.signatures[i] = sig;
    updateLane(contender, run, lane, run.nodes[i]);
  });
  const nowMs = (run.end ?? now()) - run.start;
  box.style.setProperty('--now', nowMs.toFixed(1));
  const finish = $(`finish-${contender}`);
  finish.hidden = run.end === null;
  finish.style.setProperty('--a', nowMs.toFixed(1));
  drawAxis(contender, run, T);
}

function renderTimelines() {
  const T = scaleMs();
  $('timelines').style.setProperty('--T', String(T));
  for (const c of CONTENDERS) drawTimeline(c, T);
}

/** Redraws about 20 times a second while a run is going. */
function animate() {
  cancelAnimationFrame(sim.frame);
  let last = 0;
  const tick = (t) => {
    if (t - last >= 50) {
      last = t;
      renderTimelines();
    }
    if (sim.running) sim.frame = requestAnimationFrame(tick);
  };
  sim.frame = requestAnimationFrame(tick);
}

// ---------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------

function summarize(run) {
  if (!run) return null;
  const lanes = run.lanes;
  const done = run.end !== null;
  const retries = lanes.reduce((n, l) => n + Math.max(0, l.attempts.length - 1), 0);
  return {
    wall: done ? run.end - run.start : null,
    calls: run.server ? run.server.requests : null,
    r429: run.server ? run.server.byStatus?.['429'] ?? 0 : null,
    retries: done ? retries : null,
    succeeded: done ? lanes.filter((l) => l.outcome === 'ok').length : null,
    failures: done ? lanes.filter((l) => l.outcome && l.outcome !== 'ok').length : null,
    alerts: run.contender === 'ratewise' ? (done ? run.alerts : null) : 'n/a',
    shortcircuits: run.contender === 'ratewise' ? (done ? lanes.filter((l) => l.blocked && l.outcome === 'alert').length : null) : 'n/a',
    blocked: lanes.filter((l) => l.blocked).length,
    clientCalls: run.clientCalls,
  };
}

const LOWER_IS_BETTER = ['wall', 'calls', 'r429', 'retries', 'failures'];
const ROWS = {
  wall: 'wall',
  calls: 'calls',
  r429: '429s',
  retries: 'retries',
  succeeded: 'succeeded',
  failures: 'failures',
  alerts: 'alerts',
  shortcircuits: 'shortcircuits',
};

function renderSummary() {
  const s = { ratewise: summarize(sim.runs.ratewise), baseline: summarize(sim.runs.baseline) };
  for (const c of CONTENDERS) {
    for (const [key, testid] of Object.entries(ROWS)) {
      const cell = document.querySelector(`[data-testid="summary-${c}-${testid}"]`);
      const v = s[c]?.[key];
      cell.classList.remove('better', 'worse');
      cell.replaceChildren();
      if (v === null || v === undefined) {
        cell.textContent = '–';
        continue;
      }
      if (key === 'wall') cell.textContent = fmtSeconds(v);
      else if (typeof v === 'number') cell.textContent = fmtInt(v);
      else cell.textContent = v;
      cell.dataset.value = typeof v === 'number' ? String(Math.round(v)) : v;
      if (key === 'calls') {
        cell.dataset.clientCalls = String(s[c].clientCalls);
        const own = sim.runs[c].stats?.networkCalls;
        cell.title = `the mock counted ${v}; the page saw ${s[c].clientCalls} fetch calls` +
          (own === undefined ? '' : `; ratewise stats().networkCalls says ${own}`);
      }
    }
  }
  if (s.ratewise?.wall != null && s.baseline?.wall != null) {
    for (const key of LOWER_IS_BETTER) {
      const a = s.ratewise[key];
      const b = s.baseline[key];
      if (typeof a !== 'number' || typeof b !== 'number' || a === b) continue;
      if (key === 'wall' && Math.abs(a - b) < 100) continue;
      const better = a < b ? 'ratewise' : 'baseline';
      const worse = better === 'ratewise' ? 'baseline' : 'ratewise';
      document.querySelector(`[data-testid="summary-${better}-${ROWS[key]}"]`).classList.add('better');
      document.querySelector(`[data-testid="summary-${worse}-${ROWS[key]}"]`).classList.add('worse');
    }
    const a = s.ratewise.succeeded;
    const b = s.baseline.succeeded;
    if (a !== b) {
      document.querySelector(`[data-testid="summary-${a > b ? 'ratewise' : 'baseline'}-succeeded"]`).classList.add('better');
    }
  }
  renderVerdict(s);
}

function renderVerdict(s) {
  const box = $('sim-verdict');
  const rw = s.ratewise;
  const base = s.baseline;
  if (!rw || !base || rw.calls === null || base.calls === null) {
    box.hidden = true;
    return;
  }
  const params = sim.runs.ratewise.params;
  const plural = (n, w) => `${fmtInt(n)} ${w}${n === 1 ? '' : 's'}`;
  let text;
  if (params.quota) {
    const firstAlert = sim.runs.ratewise.lanes
      .map((l) => l.alertedAt)
      .filter((t) => t !== undefined)
      .sort((x, y) => x - y)[0];
    const when = firstAlert !== undefined ? ` ${humanMs(firstAlert - sim.runs.ratewise.start)} in` : '';
    text =
      `Empty account: ratewise raised the alert${when}, after the first answer, and made ${plural(rw.calls, 'network call')}` +
      (rw.blocked ? ` (${rw.blocked} calls stopped by the breaker without touching the network)` : ' (one per request, none retried)') +
      `. The status-only loop cannot tell a quota from a rate limit: it made ${plural(base.calls, 'network call')} in ${fmtSeconds(base.wall)}, and no one was told.`;
    const open = sim.runs.ratewise.breaker;
    if (Array.isArray(open) && open.length) {
      const next = Math.max(0, (open[0].retryAtMs ?? Date.now()) - Date.now());
      text += ` fetch.breaker() lists ${plural(open.length, 'key')} as ${open[0].state ?? 'open'}; the next probe may go in ${humanMs(next)}.`;
    }
  } else {
    let paced = '';
    if (sim.runs.ratewise.extra.throttle && rw.r429 < base.r429) {
      paced = ' Its throttle paced the calls from the x-ratelimit headers instead of learning the limit from 429s';
      paced += rw.wall > base.wall * 1.1
        ? ': fewer 429s, but slower against this fixed-window mock, which refills all at once (switch the throttle off to compare).'
        : '.';
    }
    text =
      `Rate limit of ${params.limit} per ${humanMs(params.windowMs)}: ratewise finished in ${fmtSeconds(rw.wall)} with ${plural(rw.calls, 'network call')} ` +
      `and ${plural(rw.r429, '429')}; the status-only loop took ${fmtSeconds(base.wall)}, ${plural(base.calls, 'call')} and ${plural(base.r429, '429')}` +
      (base.failures ? `, and gave up on ${plural(base.failures, 'request')}.` : '.') +
      (rw.failures ? ` ratewise gave up on ${plural(rw.failures, 'request')}.` : '') +
      paced;
  }
  box.textContent = text;
  box.hidden = false;
  box.dataset.mode = params.quota ? 'quota' : 'rate';
}

// ---------------------------------------------------------------------------
// Run button
// ---------------------------------------------------------------------------

function setStatus(state, text) {
  const node = $('sim-status');
  node.dataset.state = state;
  node.textContent = text;
}

async function runSimulation() {
  if (sim.running) return;
  const params = readParams();
  sim.running = true;
  const button = $('run');
  button.disabled = true;
  button.querySelector('span').textContent = 'Running…';
  document.querySelectorAll('#sim-form input').forEach((i) => (i.disabled = true));
  sim.runs = { ratewise: null, baseline: null };
  await sim.warm;
  sim.t0 = performance.now();
  renderSummary();
  animate();
  try {
    setStatus('running', `1/2 · ratewise: ${params.requests} requests, ${params.concurrency} at a time…`);
    await prepareMock(params);
    const rw = await runRatewise(params);
    rw.server = await mockControl('stats');

    setStatus('running', `2/2 · status-only loop: ${params.requests} requests, ${params.concurrency} at a time…`);
    await prepareMock(params);
    const base = await runBaseline(params);
    base.server = await mockControl('stats');
    await mockControl('reset', {});

    setStatus(
      'done',
      `Done. Mock: ${params.limit} per ${humanMs(params.windowMs)}, ${params.latencyMs} ms latency${params.quota ? ', quota exhausted' : ''}. ` +
        `Hover a mark for its status and wait.`,
    );
  } catch (e) {
    console.warn('simulation failed', e);
    setStatus('error', `The run failed: ${e.message}. Is this page served by tests/mock/server.mjs?`);
  } finally {
    sim.running = false;
    button.disabled = false;
    button.querySelector('span').textContent = 'Run again';
    document.querySelectorAll('#sim-form input').forEach((i) => (i.disabled = false));
    $('sim-throttle').disabled = !features.throttle;
    renderTimelines();
    renderSummary();
  }
}

/**
 * Runs ratewise's call path a few times against a stub fetch (no network),
 * so one-off start-up costs (JIT, first closures) do not land in the first
 * timed run and make the comparison unfair.
 */
async function warmUp() {
  const answers = [
    () => new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } }),
    () => new Response('{"error":{"message":"Rate limit reached. Please try again in 1ms.","type":"requests","code":"rate_limit_exceeded"}}', { status: 429, headers: { 'retry-after-ms': '0' } }),
    () => new Response('{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}', { status: 429 }),
  ];
  try {
    for (let round = 0; round < 4; round++) {
      for (const answer of answers) {
        const f = createFetch({ maxRetries: 0, fetch: async () => answer(), onEvent() {}, onQuotaExhausted() {} });
        const res = await f('https://warmup.invalid/v1/chat/completions', { method: 'POST', body: '{}' });
        await res.text();
      }
    }
  } catch {
    // Only a warm-up: a failure here changes nothing.
  }
}

function initSimulation() {
  detectFeatures();
  $('code-baseline').textContent = BASELINE_CODE;
  $('code-ratewise').textContent = ratewiseCode(readParams(), ratewiseOptions(readParams(), {}).extra);
  $('run').addEventListener('click', runSimulation);
  $('sim-form').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target instanceof HTMLInputElement && e.target.type !== 'checkbox') runSimulation();
  });
  $('throttle-toggle').hidden = !features.throttle;
  $('sim-form').classList.toggle('has-throttle', features.throttle);
  sim.warm = warmUp();
  window.addEventListener('resize', () => {
    if (!sim.running) renderTimelines();
  });
  renderTimelines();
}

initClassifier();
initSimulation();
window.__demo = sim; // the last runs, for poking at from the devtools console
document.documentElement.dataset.ready = '1';
