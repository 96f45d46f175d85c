/** Canvas helpers shared by the hand-drawn views: a crisp backing store and a log colour scale. */

/** Sizes the canvas's backing store to its CSS box × devicePixelRatio; returns the 2-D context in CSS pixels. */
export function fitCanvas(canvas: HTMLCanvasElement, cssHeight: number): { ctx: CanvasRenderingContext2D; w: number; h: number } {
  const w = Math.max(120, Math.floor(canvas.clientWidth || canvas.parentElement?.clientWidth || 300));
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(cssHeight * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(cssHeight * dpr);
  }
  canvas.style.height = `${cssHeight}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, cssHeight);
  return { ctx, w, h: cssHeight };
}

/** A perceptually ordered ramp (dark blue → teal → yellow) for t in [0, 1]. */
export function ramp(t: number): string {
  const stops = [[20, 24, 82], [33, 102, 172], [53, 183, 121], [253, 231, 37]] as const;
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i]!.map((v, k) => Math.round(v + f * (stops[i + 1]![k]! - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** Log10 colour position of a positive value within [10^lo, 10^hi]. */
export function logPosition(v: number, lo: number, hi: number): number {
  return (Math.log10(v) - lo) / (hi - lo);
}

export const NONFINITE_COLOUR = '#dc2626';
export const ZERO_COLOUR = '#000000';
