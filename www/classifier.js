// The classifier panel: a gallery of real provider responses, editable, classified by the
// package's classify() on every keystroke.
import { classify } from 'ratewise';
import { $, el } from './dom.js';
import { fmtInt, humanMs } from './format.js';
import { SAMPLES } from './samples.js';

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
      return `The provider is overloaded, not you. Retry with backoff${wait ? `, after ${wait}.` : '.'}`;
    case 'server_error':
      return `A server or gateway error, usually brief. Retry with backoff${wait ? `, after ${wait}.` : '.'}`;
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
  for (const m of text.matchAll(re)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const href = m[1] || `https://github.com/${m[2]}/issues/${m[3]}`;
    out.push(el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, m[0]));
    last = m.index + m[0].length;
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
  for (const b of document.querySelectorAll('.quick-pick'))
    b.setAttribute('aria-pressed', String(b.dataset.sample === s.id));
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
  ].filter(([k]) => limits?.[k]);
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
            : el(
                'span',
                { class: `meter${w.remaining === 0 ? ' empty' : ''}`, 'aria-hidden': 'true' },
                el('span', { style: `width:${(pct * 100).toFixed(1)}%` }),
              );
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
    return showClassifyError(
      `classify() returned ${c === null ? 'null' : typeof c}, not a Classification. Rebuild the package with ./scripts/build.sh.`,
    );
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

export function initClassifier() {
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
