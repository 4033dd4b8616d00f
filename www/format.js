// Number and duration formatting shared by the demo's panels. Pure: no DOM.

/** "20 s", "18.6 s", "6 ms", "9 min 38 s", "26 h" (with plain spaces). */
export function humanMsText(ms) {
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

/** humanMsText with no-break spaces, so a duration never wraps. */
export function humanMs(ms) {
  return humanMsText(ms).replace(/ /g, '\u00a0');
}

export const fmtInt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
export const fmtSeconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
