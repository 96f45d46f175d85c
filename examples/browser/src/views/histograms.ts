/**
 * Activation histograms, one row per hidden layer (input side at the top), from the batch of the
 * last recorded step. Sigmoid and tanh use their fixed output ranges, so saturation shows as mass
 * piled at the ends; the share of saturated (or, for the ReLU family, zero) outputs is printed.
 */
import type { LabActivation } from '../config.js';
import { fitCanvas } from './canvas.js';

const BINS = 30;

/** ReLU and ReLU6 rows leave out exact zeros (their share is printed beside the row), so the spike at 0 does not flatten the rest. */
const dropsZeros = (act: LabActivation): boolean => act === 'relu' || act === 'relu6';

function range(act: LabActivation, values: Float32Array): [number, number] {
  if (act === 'sigmoid') return [0, 1];
  if (act === 'tanh') return [-1, 1];
  let lo = dropsZeros(act) ? Infinity : 0;
  let hi = dropsZeros(act) ? -Infinity : 0;
  for (const v of values) {
    if (!Number.isFinite(v) || (dropsZeros(act) && v === 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(lo <= hi)) return [0, 1];
  return [lo, hi > lo ? hi : lo + 1];
}

/** Share of outputs in the flat part of the activation (|tanh| > 0.95, σ < 0.05 or > 0.95) or exactly 0 for the ReLU family. */
export function saturation(act: LabActivation, values: Float32Array): { share: number; what: string } {
  let n = 0;
  for (const v of values) {
    if (act === 'sigmoid' ? v < 0.05 || v > 0.95 : act === 'tanh' ? Math.abs(v) > 0.95 : v <= 0) n++;
  }
  const what = act === 'sigmoid' || act === 'tanh' ? 'saturated' : act === 'gelu' || act === 'leakyRelu' ? '≤ 0' : 'zero';
  return { share: values.length ? n / values.length : NaN, what };
}

export function drawHistograms(canvas: HTMLCanvasElement, act: LabActivation, layers: Float32Array[] | null, step: number | null): void {
  const rowH = layers && layers.length > 12 ? 22 : 30;
  const { ctx, w } = fitCanvas(canvas, Math.max(60, (layers?.length ?? 0) * rowH + 32));
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#667085';
  if (!layers || layers.length === 0) {
    ctx.fillText('Histograms of each hidden layer’s outputs appear here while training.', 8, 24);
    return;
  }
  const labelW = 34;
  const noteW = 104;
  const plotW = Math.max(40, w - labelW - noteW);
  layers.forEach((values, r) => {
    const [lo, hi] = range(act, values);
    const counts = new Array<number>(BINS).fill(0);
    for (const v of values) {
      if (!Number.isFinite(v) || (dropsZeros(act) && v === 0)) continue;
      const b = Math.min(BINS - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * BINS)));
      counts[b]!++;
    }
    const peak = Math.max(1, ...counts);
    const top = r * rowH;
    ctx.fillStyle = '#667085';
    ctx.textAlign = 'right';
    ctx.fillText(`L${r + 1}`, labelW - 6, top + rowH / 2 + 4);
    ctx.fillStyle = '#e6e8ee';
    ctx.fillRect(labelW, top + rowH - 2, plotW, 1);
    ctx.fillStyle = '#2563eb';
    const bw = plotW / BINS;
    counts.forEach((c, b) => {
      const h = (c / peak) * (rowH - 4);
      ctx.fillRect(labelW + b * bw, top + rowH - 2 - h, Math.max(1, bw - 1), h);
    });
    const s = saturation(act, values);
    ctx.fillStyle = s.share > 0.5 ? '#dc2626' : '#667085';
    ctx.textAlign = 'left';
    ctx.fillText(`${(100 * s.share).toFixed(0)}% ${s.what}`, labelW + plotW + 6, top + rowH / 2 + 4);
  });
  ctx.fillStyle = '#667085';
  ctx.textAlign = 'left';
  const [lo, hi] = range(act, layers[0]!);
  const bottom = layers.length * rowH + 13;
  ctx.fillText(act === 'sigmoid' || act === 'tanh' ? `${lo} … ${hi}` : `each row from its min to its max${dropsZeros(act) ? ', zeros left out' : ''}`, labelW, bottom);
  if (step !== null) ctx.fillText(`the training batch of step ${step}`, labelW, bottom + 14);
}
