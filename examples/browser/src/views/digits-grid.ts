/** A grid of test digits, each with the model's prediction marked right or wrong. */
import type { Dataset } from 'webgrad';

export class DigitGrid {
  private readonly cells: { canvas: HTMLCanvasElement; label: HTMLElement; box: HTMLElement }[] = [];

  constructor(root: HTMLElement, private readonly data: Dataset) {
    const side = data.imageSize ?? 28;
    root.replaceChildren();
    for (let i = 0; i < data.n; i++) {
      const box = document.createElement('figure');
      box.className = 'digit';
      const canvas = document.createElement('canvas');
      canvas.width = side;
      canvas.height = side;
      const ctx = canvas.getContext('2d')!;
      const img = ctx.createImageData(side, side);
      for (let p = 0; p < side * side; p++) {
        const v = 255 - Math.round(255 * data.x[i * data.features + p]!);
        img.data[4 * p] = v;
        img.data[4 * p + 1] = v;
        img.data[4 * p + 2] = v;
        img.data[4 * p + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
      const label = document.createElement('figcaption');
      label.textContent = '?';
      box.append(canvas, label);
      root.appendChild(box);
      this.cells.push({ canvas, label, box });
    }
  }

  /** Marks each digit; returns the number predicted correctly. */
  show(predicted: Int32Array): number {
    let correct = 0;
    this.cells.forEach((c, i) => {
      const p = predicted[i];
      const truth = this.data.labels[i]!;
      if (p === undefined) return;
      const ok = p === truth;
      if (ok) correct++;
      c.box.className = `digit ${ok ? 'right' : 'wrong'}`;
      c.label.textContent = ok ? `${p} ✓` : `${p} ✗ (${truth})`;
      c.box.title = ok ? `predicted ${p}, correct` : `predicted ${p}, true label ${truth}`;
    });
    return correct;
  }

  clear(): void {
    for (const c of this.cells) {
      c.box.className = 'digit';
      c.label.textContent = '?';
    }
  }
}
