// Draws the simulation: one timeline per contender (a lane per request, a mark per attempt), its
// time axis, and the summary table and verdict under them. Reads the runs that simulation.js fills.
import { $, el } from './dom.js';
import { fmtInt, fmtSeconds, humanMs } from './format.js';
import {
  CONTENDERS,
  attemptClass,
  attemptTitle,
  compareSummaries,
  laneSignature,
  niceStep,
  scaleMs,
  summarize,
  verdict,
} from './simulation.js';

// Marks are positioned by CSS custom properties: --a/--b are ms since the
// run started, --T (the scale) and --now live on containers. Moving time
// forward or rescaling is one style change, and a lane is rebuilt only when
// its own data changes, so drawing stays cheap while requests are timed.
const at = (run, t) => (t - run.start).toFixed(1);
const span = (cls, run, a, b, title) =>
  el('span', { class: cls, style: `--a:${at(run, a)};--b:${b === null ? 'var(--now)' : at(run, b)}`, title });

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
    const via = a.route > 0 ? ' via-route' : '';
    const mark = span(
      `mark ${attemptClass(contender, a)}${via}`,
      run,
      a.start,
      a.end,
      attemptTitle(contender, a, n + 1),
    );
    mark.dataset.status = a.status ?? '';
    mark.dataset.route = a.route ?? '';
    marks.push(mark);
  });
  if (lane.end !== null && lane.outcome !== 'ok') {
    const cls = lane.outcome === 'alert' || lane.outcome === 'budget' ? 'alert' : 'fail';
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
  node.dataset.route = lane.route ?? '';
  node.children[1].replaceChildren(...laneMarks(contender, run, lane));
  const count = node.children[2];
  const via = lane.route > 0 ? `r${lane.route}` : '';
  count.textContent = lane.start === null ? '' : `${calls}×${via}`;
  count.classList.toggle('zero', calls === 0 && lane.end !== null);
  count.title = `${calls} network call${calls === 1 ? '' : 's'}${via ? `; answered by route ${lane.route}, the backup key` : ''}`;
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
  const finish =
    run.end === null
      ? null
      : el('span', { class: 'finish', style: `--a:${at(run, run.end)}` }, `done in ${fmtSeconds(run.end - run.start)}`);
  axis.replaceChildren(...[el('span', { class: 'axis-track' }, ticks), finish].filter(Boolean));
}

function drawTimeline(sim, contender, T, nowMs) {
  const run = sim.runs[contender];
  const box = $(`lanes-${contender}`);
  if (!run) {
    $(`finish-${contender}`).hidden = true;
    const empty = sim.running ? 'waiting' : 'none';
    if (box.dataset.run !== empty) {
      box.dataset.run = empty;
      box.replaceChildren(
        el('p', { class: 'lanes-empty' }, sim.running ? 'Runs when ratewise is done…' : 'No run yet. Press Run.'),
      );
    }
    drawAxis(contender, null, T);
    return;
  }
  if (box.dataset.run !== run.id) {
    box.dataset.run = run.id;
    run.nodes = run.lanes.map((lane) =>
      el(
        'div',
        { class: 'lane', 'data-testid': 'lane', 'data-contender': contender, 'data-request': lane.i + 1 },
        el('span', { class: 'lane-label' }, `#${lane.i + 1}`),
        el('span', { class: 'track' }),
        el('span', { class: 'lane-calls' }),
      ),
    );
    run.signatures = run.lanes.map(() => null);
    box.replaceChildren(...run.nodes);
  }
  run.lanes.forEach((lane, i) => {
    const sig = laneSignature(lane);
    if (sig === run.signatures[i]) return;
    run.signatures[i] = sig;
    updateLane(contender, run, lane, run.nodes[i]);
  });
  const elapsed = (run.end ?? nowMs) - run.start;
  box.style.setProperty('--now', elapsed.toFixed(1));
  const finish = $(`finish-${contender}`);
  finish.hidden = run.end === null;
  finish.style.setProperty('--a', elapsed.toFixed(1));
  drawAxis(contender, run, T);
}

/** Redraws both timelines at time `nowMs` (ms since the batch started). */
export function renderTimelines(sim, nowMs) {
  const T = scaleMs(sim.runs, nowMs);
  $('timelines').style.setProperty('--T', String(T));
  for (const c of CONTENDERS) drawTimeline(sim, c, T, nowMs);
}

const ROWS = {
  wall: 'wall',
  calls: 'calls',
  r429: '429s',
  retries: 'retries',
  succeeded: 'succeeded',
  failures: 'failures',
  alerts: 'alerts',
  shortcircuits: 'shortcircuits',
  backup: 'backup',
  budgetStopped: 'budget',
};
const cellOf = (contender, key) => document.querySelector(`[data-testid="summary-${contender}-${ROWS[key]}"]`);

/** Fills the summary table and the verdict line from the runs so far. */
export function renderSummary(sim) {
  const s = { ratewise: summarize(sim.runs.ratewise), baseline: summarize(sim.runs.baseline) };
  for (const c of CONTENDERS) {
    for (const key of Object.keys(ROWS)) {
      const cell = cellOf(c, key);
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
        cell.title =
          `the mock counted ${v}; the page saw ${s[c].clientCalls} fetch calls` +
          (own === undefined ? '' : `; ratewise stats().networkCalls says ${own}`);
      }
    }
  }
  for (const { key, better, worse } of compareSummaries(s)) {
    cellOf(better, key).classList.add('better');
    if (worse) cellOf(worse, key).classList.add('worse');
  }
  const box = $('sim-verdict');
  const v = verdict(s, sim.runs);
  box.hidden = v === null;
  if (v) {
    box.textContent = v.text;
    box.dataset.mode = v.mode;
  }
}
