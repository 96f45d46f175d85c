/** Live line charts (uPlot): loss and accuracy against the training step. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface SeriesSpec {
  label: string;
  color: string;
  width?: number;
  /** Draw points (for sparse series such as test metrics). */
  points?: boolean;
  dash?: number[];
}

/** A chart whose x axis is the step; each series holds a value or null per step. */
export class LiveChart {
  private readonly plot: uPlot;
  private readonly xs: number[] = [];
  private readonly ys: (number | null)[][];
  private pending = false;

  constructor(target: HTMLElement, series: SeriesSpec[], opts: { yLabel: string; yRange?: [number, number] }) {
    this.ys = series.map(() => []);
    const width = Math.max(280, Math.floor(target.clientWidth || 480));
    const options: uPlot.Options = {
      width,
      height: 220,
      scales: {
        x: { time: false },
        y: opts.yRange ? { range: opts.yRange } : { range: (_u, min, max) => [Math.min(0, min), max > min ? max * 1.05 : min + 1] },
      },
      axes: [
        { label: 'step', stroke: '#556', grid: { stroke: '#e6e8ee' }, ticks: { stroke: '#d0d4de' } },
        { label: opts.yLabel, stroke: '#556', grid: { stroke: '#e6e8ee' }, ticks: { stroke: '#d0d4de' }, size: 52 },
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { live: false },
      series: [
        { label: 'step' },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.5,
          spanGaps: true,
          ...(s.dash ? { dash: s.dash } : {}),
          points: { show: s.points ?? false, size: 6, fill: s.color },
        })),
      ],
    };
    this.plot = new uPlot(options, [[], ...series.map(() => [])] as uPlot.AlignedData, target);
    new ResizeObserver(() => {
      const w = Math.floor(target.clientWidth);
      if (w > 0 && Math.abs(w - this.plot.width) > 4) this.plot.setSize({ width: w, height: 220 });
    }).observe(target);
  }

  /** Appends (or, for the same step, overwrites) values; null leaves a series without a point. */
  push(step: number, values: (number | null)[]): void {
    const last = this.xs.length - 1;
    if (last >= 0 && this.xs[last] === step) {
      values.forEach((v, i) => {
        if (v !== null) this.ys[i]![last] = v;
      });
    } else {
      this.xs.push(step);
      values.forEach((v, i) => this.ys[i]!.push(v));
    }
    this.redraw();
  }

  clear(): void {
    this.xs.length = 0;
    for (const y of this.ys) y.length = 0;
    this.redraw();
  }

  /** Batches redraws to one per frame (or per macrotask when frames are throttled). */
  private redraw(): void {
    if (this.pending) return;
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      this.plot.setData([this.xs, ...this.ys] as uPlot.AlignedData);
    }, 0);
  }
}
