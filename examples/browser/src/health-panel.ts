/** The per-layer gradient-health table (GradientHealthMonitor reports). */
import type { HealthReport } from 'webgrad';

const fmt = (v: number): string => (Number.isFinite(v) ? v.toExponential(2) : String(v));
const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '–');

/** Width (0–100%) of a bar for a positive value on a log scale from 1e-6 to 1e2. */
function logBar(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 0;
  return Math.max(2, Math.min(100, ((Math.log10(v) + 6) / 8) * 100));
}

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

export function renderHealth(root: HTMLElement, verdictEl: HTMLElement, r: HealthReport): void {
  const table = document.createElement('table');
  table.className = 'health-table';
  const head = table.createTHead().insertRow();
  for (const h of ['layer', 'gradient norm', '', 'weight norm', 'update ratio', 'dead units']) {
    const th = document.createElement('th');
    th.textContent = h;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const l of r.layers) {
    const row = body.insertRow();
    row.appendChild(cell(l.name, 'name'));
    row.appendChild(cell(fmt(l.gradNorm), 'num'));
    const barCell = document.createElement('td');
    barCell.className = 'bar-cell';
    const bar = document.createElement('div');
    bar.className = `bar${Number.isFinite(l.gradNorm) ? '' : ' bad'}`;
    bar.style.width = `${logBar(l.gradNorm)}%`;
    barCell.appendChild(bar);
    row.appendChild(barCell);
    row.appendChild(cell(fmt(l.weightNorm), 'num'));
    row.appendChild(cell(fmt(l.updateRatio), 'num'));
    row.appendChild(cell(pct(l.deadFraction), `num${l.deadFraction > 0.5 ? ' warn' : ''}`));
  }
  const note = document.createElement('p');
  note.className = 'muted small';
  note.textContent = `Step ${r.step}. First/last layer gradient ratio ${fmt(r.firstToLastRatio)} (vanishing below 1e-2, exploding above 1e2). Bars: gradient norm on a log scale, 1e-6 to 1e2.`;
  root.replaceChildren(table, note);
  const verdict = r.exploding ? 'exploding' : r.vanishing ? 'vanishing' : 'healthy';
  verdictEl.textContent = verdict;
  verdictEl.className = `badge ${verdict === 'healthy' ? 'good' : 'bad'}`;
}
