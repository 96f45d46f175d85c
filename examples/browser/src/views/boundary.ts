/**
 * The decision boundary of a 2-D toy set, as Playground draws it: the model's P(class 1) on a grid
 * (orange for class 0, blue for class 1, pale near ½), with the training points on top.
 */
import type { Dataset } from 'webgrad';
import { fitCanvas } from './canvas.js';

export const BOUNDARY_SIDE = 48;
export const BOUNDARY_RANGE: [number, number] = [-1.2, 1.2];

const C0 = [245, 147, 34];
const C1 = [8, 119, 189];

function mix(p: number): [number, number, number] {
  // Blend towards white near p = ½ so the boundary itself reads as a pale seam.
  const c = p >= 0.5 ? C1 : C0;
  const strength = Math.min(1, Math.abs(p - 0.5) * 2) * 0.6;
  return [0, 1, 2].map((k) => Math.round(255 + (c[k]! - 255) * strength)) as [number, number, number];
}

export function drawBoundary(canvas: HTMLCanvasElement, probs: Float32Array | null, data: Dataset | null): void {
  // The CSS box sets the width (100% of the panel, at most 360 px); the canvas is square.
  const { ctx, w: size } = fitCanvas(canvas, Math.max(120, Math.floor(canvas.clientWidth || 300)));
  const [lo, hi] = BOUNDARY_RANGE;
  if (probs) {
    const side = Math.round(Math.sqrt(probs.length));
    const img = new ImageData(side, side);
    for (let i = 0; i < probs.length; i++) {
      const [r, g, b] = Number.isFinite(probs[i]!) ? mix(probs[i]!) : [220, 38, 38];
      img.data.set([r, g, b, 255], 4 * i);
    }
    const tmp = document.createElement('canvas');
    tmp.width = side;
    tmp.height = side;
    tmp.getContext('2d')!.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(tmp, 0, 0, size, size);
  } else {
    ctx.fillStyle = '#f5f6f9';
    ctx.fillRect(0, 0, size, size);
  }
  if (!data) return;
  const toPx = (v: number, flip: boolean): number => ((flip ? hi - v : v - lo) / (hi - lo)) * size;
  for (let i = 0; i < data.n; i++) {
    const c = data.labels[i] === 1 ? C1 : C0;
    ctx.beginPath();
    ctx.arc(toPx(data.x[2 * i]!, false), toPx(data.x[2 * i + 1]!, true), 2.6, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
    ctx.fill();
    ctx.strokeStyle = 'white';
    ctx.lineWidth = 0.8;
    ctx.stroke();
  }
}
