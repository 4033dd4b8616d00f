// ratewise demo page: a live classifier and a side-by-side retry simulation against the mock
// LLM API that serves this page (tests/mock/server.mjs). This file wires the page together:
//   classifier.js  the classifier panel
//   simulation.js  the simulation's runs, summary and verdict (no DOM; tested in Node)
//   timeline.js    draws the simulation
import { createFetch, isQuotaExhaustedError } from 'ratewise';
import { initClassifier } from './classifier.js';
import { $ } from './dom.js';
import { humanMs } from './format.js';
import {
  BASELINE_CODE,
  baselineCode,
  clampParams,
  mockControl,
  newRun,
  prepareMock,
  ratewiseCode,
  runBaseline,
  runRatewise,
  warmUp,
} from './simulation.js';
import { renderSummary, renderTimelines } from './timeline.js';

/** The form's inputs, by simulation parameter. */
const FIELDS = {
  requests: 'sim-requests',
  concurrency: 'sim-concurrency',
  limit: 'sim-limit',
  windowMs: 'sim-window',
  retries: 'sim-retries',
  latencyMs: 'sim-latency',
};

/** Reads the form, clamps each number into its bounds and writes the clamped value back. */
function readParams() {
  const raw = {
    quota: $('sim-quota').checked,
    throttle: $('sim-throttle').checked,
    fallback: $('sim-fallback').checked,
    budget: $('sim-budget').checked,
  };
  for (const [key, id] of Object.entries(FIELDS)) raw[key] = $(id).value;
  const params = clampParams(raw);
  for (const [key, id] of Object.entries(FIELDS)) $(id).value = String(params[key]);
  return params;
}

function setStatus(state, text) {
  const node = $('sim-status');
  node.dataset.state = state;
  node.textContent = text;
}

function setFormEnabled(enabled, label) {
  const button = $('run');
  button.disabled = !enabled;
  button.querySelector('span').textContent = label;
  for (const input of document.querySelectorAll('#sim-form input')) input.disabled = !enabled;
}

function createSimulation() {
  const sim = { running: false, runs: { ratewise: null, baseline: null }, t0: 0, frame: 0, count: 0, warm: null };
  const now = () => performance.now() - sim.t0;
  const draw = () => renderTimelines(sim, now());

  /** Redraws about 20 times a second while a run is going. */
  function animate() {
    cancelAnimationFrame(sim.frame);
    let last = 0;
    const tick = (t) => {
      if (t - last >= 50) {
        last = t;
        draw();
      }
      if (sim.running) sim.frame = requestAnimationFrame(tick);
    };
    sim.frame = requestAnimationFrame(tick);
  }

  const startRun = (contender, params) => {
    sim.count += 1;
    sim.runs[contender] = newRun(contender, params, { id: `${contender}-${sim.count}`, start: now() });
    return sim.runs[contender];
  };

  async function run() {
    if (sim.running) return;
    const params = readParams();
    sim.running = true;
    setFormEnabled(false, 'Running…');
    sim.runs = { ratewise: null, baseline: null };
    await sim.warm;
    sim.t0 = performance.now();
    renderSummary(sim);
    animate();
    try {
      setStatus('running', `1/2 · ratewise: ${params.requests} requests, ${params.concurrency} at a time…`);
      await prepareMock(params);
      $('code-ratewise').textContent = ratewiseCode(params);
      const rw = await runRatewise(startRun('ratewise', params), { createFetch, isQuotaExhaustedError, now });
      rw.server = await mockControl('stats');

      setStatus('running', `2/2 · status-only loop: ${params.requests} requests, ${params.concurrency} at a time…`);
      await prepareMock(params);
      $('code-baseline').textContent = baselineCode(params);
      const base = await runBaseline(startRun('baseline', params), { now });
      base.server = await mockControl('stats');
      await mockControl('reset', {});

      setStatus(
        'done',
        `Done. Mock: ${params.limit} per ${humanMs(params.windowMs)}, ${params.latencyMs} ms latency${params.quota ? ', quota exhausted' : ''}${params.budget ? ', a runaway batch on its budget' : ''}. ` +
          'Hover a mark for its status and wait.',
      );
    } catch (e) {
      console.warn('simulation failed', e);
      setStatus('error', `The run failed: ${e.message}. Is this page served by tests/mock/server.mjs?`);
    } finally {
      sim.running = false;
      setFormEnabled(true, 'Run again');
      draw();
      renderSummary(sim);
    }
  }

  return { sim, run, draw };
}

function initSimulation() {
  const { sim, run, draw } = createSimulation();
  $('code-baseline').textContent = BASELINE_CODE;
  $('code-ratewise').textContent = ratewiseCode(readParams());
  $('run').addEventListener('click', run);
  $('sim-form').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target instanceof HTMLInputElement && e.target.type !== 'checkbox') run();
  });
  // Only a warm-up: if it fails, the timed run shows the same failure.
  sim.warm = warmUp(createFetch).catch((e) => console.warn('warm-up failed', e));
  window.addEventListener('resize', () => {
    if (!sim.running) draw();
  });
  draw();
  return sim;
}

initClassifier();
window.__demo = initSimulation(); // the last runs, for poking at from the devtools console
document.documentElement.dataset.ready = '1';
