/**
 * Live line charts (uPlot) against the training step: the loss on a log axis (so a fall from 2.3 to
 * 0.01 and a blow-up to 1e30 both stay readable) and the accuracy on an axis zoomed to its range.
 */
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
  private readonly log: boolean;

  constructor(target: HTMLElement, series: SeriesSpec[], opts: { yLabel: string; log?: boolean; zoom?: [number, number] }) {
    this.ys = series.map(() => []);
    this.log = opts.log ?? false;
    const width = Math.max(200, Math.floor(target.clientWidth || 480));
    const options: uPlot.Options = {
      width,
      height: 220,
      scales: {
        x: { time: false },
        y: opts.log
          ? { distr: 3, log: 10 }
          : { range: (_u, min, max) => zoomedRange(min, max, opts.zoom ?? [-Infinity, Infinity]) },
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

  /** Appends (or, for the same step, overwrites) values; null (or, on a log axis, a value that is not positive and finite) leaves no point. */
  push(step: number, raw: (number | null)[]): void {
    const values = raw.map((v) => (v === null || !Number.isFinite(v) || (this.log && v <= 0) ? null : v));
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

  /** Empties the chart and resets both axes (no stale x range from the last run). */
  clear(): void {
    this.xs.length = 0;
    for (const y of this.ys) y.length = 0;
    this.plot.setData([this.xs, ...this.ys] as uPlot.AlignedData, true);
    this.plot.setScale('x', { min: 0, max: 10 });
  }

  /** The x range drawn now; for tests. */
  get xRange(): [number, number] {
    const x = this.plot.scales.x!;
    return [x.min ?? NaN, x.max ?? NaN];
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

/** The data's range with 8 % padding, clamped to `bounds` (accuracy: [0, 100]). */
function zoomedRange(min: number | null, max: number | null, bounds: [number, number]): [number, number] {
  if (min === null || max === null) return [bounds[0] === -Infinity ? 0 : bounds[0], bounds[1] === Infinity ? 1 : bounds[1]];
  const pad = Math.max((max - min) * 0.08, 0.5);
  return [Math.max(bounds[0], min - pad), Math.min(bounds[1], max + pad)];
}
