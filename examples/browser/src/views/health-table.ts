/** The per-layer health table (GradientHealthMonitor reports) and the verdict badge. */
import type { HealthReport } from 'webgrad';

const fmt = (v: number): string => (Number.isFinite(v) ? v.toExponential(2) : String(v));
const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '–');

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Why a first-to-last ratio is what it is, in words. */
export function ratioNote(r: HealthReport): string {
  const ratio = r.firstToLastRatio;
  if (Number.isNaN(ratio)) {
    return r.exploding ? 'ratio undefined: the gradients are Inf/NaN' : 'ratio undefined: the first and last layers get no gradient at all (every unit dead)';
  }
  return `first/last gradient ratio ${fmt(ratio)} (vanishing below 1e-2, exploding above 1e2 or non-finite)`;
}

export function renderHealth(root: HTMLElement, verdictEl: HTMLElement, r: HealthReport): void {
  const table = document.createElement('table');
  table.className = 'health-table';
  const head = table.createTHead().insertRow();
  for (const h of ['layer', 'gradient norm', 'weight norm', 'update ratio ‖Δw‖/‖w‖', 'dead units']) {
    const th = document.createElement('th');
    th.textContent = h;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const l of r.layers) {
    const row = body.insertRow();
    row.appendChild(cell(l.name.replace('.weight', ''), 'name'));
    row.appendChild(cell(fmt(l.gradNorm), `num${Number.isFinite(l.gradNorm) ? '' : ' warn'}`));
    row.appendChild(cell(fmt(l.weightNorm), 'num'));
    row.appendChild(cell(fmt(l.updateRatio), `num${l.updateRatio > 0.1 ? ' warn' : ''}`));
    row.appendChild(cell(pct(l.deadFraction), `num${l.deadFraction > 0.5 ? ' warn' : ''}`));
  }
  const note = document.createElement('p');
  note.className = 'muted small';
  note.id = 'health-step';
  note.textContent = `Step ${r.step}: ${ratioNote(r)}.`;
  const wrap = document.createElement('div');
  wrap.className = 'scroll-x';
  wrap.appendChild(table);
  root.replaceChildren(note, wrap);
  const verdict = r.exploding ? 'exploding' : r.vanishing ? 'vanishing' : 'healthy';
  verdictEl.textContent = verdict;
  verdictEl.className = `badge ${verdict === 'healthy' ? 'good' : 'bad'}`;
}

/** Back to the empty state (Reset, or a new configuration). */
export function clearHealth(root: HTMLElement, verdictEl: HTMLElement): void {
  const p = document.createElement('p');
  p.className = 'muted';
  p.textContent = 'Per-layer gradient norms, weight norms, update ratios and dead ReLU units appear here while training.';
  root.replaceChildren(p);
  verdictEl.textContent = 'no report yet';
  verdictEl.className = 'badge';
}
