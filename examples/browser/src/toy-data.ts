/**
 * The 2-D toy sets (two classes each, points in [-1, 1]²), as TensorFlow Playground draws them:
 * two interleaved spirals, a disc inside a ring, and XOR's four quadrants. Generated from a seed,
 * so a link reproduces the same points.
 */
import type { Dataset } from 'webgrad';

export type ToyName = 'spiral' | 'circles' | 'xor';

/** mulberry32: a small, fast, seedable generator; plenty for placing toy points. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function point(name: ToyName, label: number, r: () => number): [number, number] {
  const noise = (s: number): number => s * gaussian(r);
  switch (name) {
    case 'spiral': {
      // Arm `label` of two: radius grows with the angle; the second arm is the first turned by π.
      const t = r();
      const angle = 1.75 * t * 2 * Math.PI + label * Math.PI;
      const radius = 0.05 + 0.9 * t;
      return [radius * Math.cos(angle) + noise(0.03), radius * Math.sin(angle) + noise(0.03)];
    }
    case 'circles': {
      const radius = label === 0 ? 0.45 * r() : 0.65 + 0.3 * r();
      const angle = 2 * Math.PI * r();
      return [radius * Math.cos(angle) + noise(0.02), radius * Math.sin(angle) + noise(0.02)];
    }
    case 'xor': {
      // Class 1 where x and y have opposite signs; a small margin keeps the quadrants apart.
      const sx = r() < 0.5 ? -1 : 1;
      const sy = label === 0 ? sx : -sx;
      return [sx * (0.05 + 0.9 * r()), sy * (0.05 + 0.9 * r())];
    }
  }
}

function make(name: ToyName, n: number, seed: number, source: string): Dataset {
  const r = rng(seed);
  const x = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const [px, py] = point(name, label, r);
    x[2 * i] = Math.max(-1, Math.min(1, px));
    x[2 * i + 1] = Math.max(-1, Math.min(1, py));
    labels[i] = label;
  }
  return { x, labels, n, features: 2, classes: 2, source };
}

/** 512 training and 256 test points (different seeds, the same distribution). */
export function toyDataset(name: ToyName, seed: number): { train: Dataset; test: Dataset } {
  return {
    train: make(name, 512, seed * 2 + 1, `${name} (train)`),
    test: make(name, 256, seed * 2 + 2, `${name} (test)`),
  };
}
