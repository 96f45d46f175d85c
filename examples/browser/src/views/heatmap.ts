/**
 * Per-layer gradient norm over time: one row per Linear layer (input at the top), one column per
 * health record, coloured by log10 of the norm on a fixed scale, so vanishing shows as a dark top,
 * exploding as red cells, and a healthy net as one even band.
 */
import type { HealthReport } from 'webgrad';
import { fitCanvas, logPosition, ramp, NONFINITE_COLOUR, ZERO_COLOUR } from './canvas.js';

export const HEAT_LO = -12;
export const HEAT_HI = 2;
const MAX_COLUMNS = 200;

export class GradientHeatmap {
  private readonly columns: { step: number; norms: number[] }[] = [];

  constructor(private readonly canvas: HTMLCanvasElement, private readonly legend: HTMLElement) {
    this.legend.replaceChildren(...legendParts());
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  push(r: HealthReport): void {
    this.columns.push({ step: r.step, norms: r.layers.map((l) => l.gradNorm) });
    if (this.columns.length > MAX_COLUMNS) this.columns.shift();
    this.draw();
  }

  clear(): void {
    this.columns.length = 0;
    this.draw();
  }

  /** How many columns (records) are drawn; for tests. */
  get length(): number {
    return this.columns.length;
  }

  draw(): void {
    const rows = this.columns[0]?.norms.length ?? 0;
    const rowH = rows > 14 ? 10 : 14;
    const labelW = 46;
    const axisH = 16;
    const { ctx, w } = fitCanvas(this.canvas, Math.max(60, rows * rowH + axisH + 4));
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#667085';
    if (rows === 0) {
      ctx.fillText('Gradient norms per layer appear here while training.', 8, 24);
      return;
    }
    const plotW = w - labelW - 4;
    // The map fills its width over the first 40 records, then compresses (at most MAX_COLUMNS kept).
    const colW = plotW / Math.max(this.columns.length, 40);
    for (let r = 0; r < rows; r++) {
      const name = r === 0 ? 'in 1' : r === rows - 1 ? `out ${r + 1}` : String(r + 1);
      ctx.fillStyle = '#667085';
      ctx.textAlign = 'right';
      ctx.fillText(name, labelW - 6, r * rowH + rowH - 3);
    }
    this.columns.forEach((col, c) => {
      const x = labelW + c * colW;
      col.norms.forEach((v, r) => {
        ctx.fillStyle = !Number.isFinite(v) ? NONFINITE_COLOUR : v <= 0 ? ZERO_COLOUR : ramp(logPosition(v, HEAT_LO, HEAT_HI));
        ctx.fillRect(x, r * rowH, Math.max(1, Math.ceil(colW) - (colW > 4 ? 1 : 0)), rowH - 1);
      });
    });
    ctx.fillStyle = '#667085';
    ctx.textAlign = 'left';
    const first = this.columns[0]!.step;
    const last = this.columns[this.columns.length - 1]!.step;
    ctx.fillText(`step ${first}`, labelW, rows * rowH + 12);
    ctx.textAlign = 'right';
    const end = Math.min(w - 2, labelW + this.columns.length * colW);
    if (last !== first && end - labelW > 90) ctx.fillText(`step ${last}`, end, rows * rowH + 12);
  }
}

function legendParts(): HTMLElement[] {
  const bar = document.createElement('span');
  bar.className = 'ramp';
  bar.style.background = `linear-gradient(90deg, ${[0, 0.33, 0.66, 1].map((t) => ramp(t)).join(', ')})`;
  const lo = Object.assign(document.createElement('span'), { textContent: `1e${HEAT_LO}` });
  const hi = Object.assign(document.createElement('span'), { textContent: `1e+${HEAT_HI}` });
  const bad = Object.assign(document.createElement('span'), { className: 'swatch bad', textContent: 'Inf/NaN' });
  const zero = Object.assign(document.createElement('span'), { className: 'swatch zero', textContent: '0' });
  return [lo, bar, hi, bad, zero];
}
