/** Shapes and data shared by the convolution probes (bench/conv-designs.ts, bench/conv-probe.ts). */
import type { Conv2dGeometry } from '../src/backend/types.js';

/** Uniform in [-1, 1) (Math.random: the probes time kernels, they check nothing). */
export function rand(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.random() * 2 - 1;
  return out;
}

/** A square image and kernel: [n, cin, h, h] convolved to cout channels with a k×k kernel. */
export function geom(n: number, cin: number, h: number, cout: number, k: number, pad: number, stride = 1, groups = 1): Conv2dGeometry {
  const hout = Math.floor((h + 2 * pad - k) / stride) + 1;
  return { n, cin, h, w: h, cout, kh: k, kw: k, hout, wout: hout, strideH: stride, strideW: stride, padH: pad, padW: pad, dilationH: 1, dilationW: 1, groups };
}
