/**
 * The knob form ↔ LabConfig. Every knob is a labelled form control (its <label> gives the
 * accessible name). A value the form cannot accept (empty, out of range) snaps back to the current one.
 */
import { fromParams, toParams, URL_KEYS, usesCnn } from './config.js';
import type { LabConfig } from './config.js';

const KEYS = Object.keys(URL_KEYS) as (keyof LabConfig)[];

function control(key: keyof LabConfig): HTMLInputElement | HTMLSelectElement {
  return document.getElementById(`k-${key}`) as HTMLInputElement | HTMLSelectElement;
}

export function writeKnobs(c: LabConfig): void {
  for (const key of KEYS) {
    const el = control(key);
    const v = c[key];
    if (el instanceof HTMLInputElement && el.type === 'checkbox') el.checked = v === true;
    else el.value = String(v);
  }
  // Knobs that do nothing in this configuration are disabled (they keep their label and value).
  control('sigma').disabled = c.init !== 'naive';
  control('clipAt').disabled = c.clip === 'off';
  // The CNN is a fixed architecture (conv-BN-ReLU-pool blocks); its dropout, the optimizer and the rest still apply.
  const cnn = usesCnn(c);
  control('model').disabled = c.dataset !== 'digits';
  for (const key of ['activation', 'init', 'depth', 'width', 'batchNorm'] as const) control(key).disabled = cnn;
  if (cnn) control('sigma').disabled = true;
}

/** The form's configuration; each field passes the same validation as a URL parameter. */
export function readKnobs(current: LabConfig): LabConfig {
  const p = new URLSearchParams();
  for (const key of KEYS) {
    const el = control(key);
    p.set(URL_KEYS[key], el instanceof HTMLInputElement && el.type === 'checkbox' ? (el.checked ? '1' : '0') : el.value);
  }
  return fromParams(p, current);
}

/** Calls `onChange` with the new configuration whenever a knob is committed. */
export function watchKnobs(form: HTMLFormElement, current: () => LabConfig, onChange: (c: LabConfig) => void): void {
  form.addEventListener('submit', (e) => e.preventDefault());
  form.addEventListener('change', () => {
    const next = readKnobs(current());
    writeKnobs(next);
    onChange(next);
  });
}

/** The page's URL with this configuration (other parameters, e.g. backend, kept). */
export function urlFor(c: LabConfig, href: string): string {
  const url = new URL(href);
  toParams(c, url.searchParams);
  return url.toString();
}
