/** The ops the in-page parity test runs (shared by the page and the Node-side test). */
export const PARITY_CASES = [
  'matmul [17,33]x[33,65]',
  'matmul batched [3,9,65]x[3,65,17]',
  'matmul transposed a.T @ b [33,17]',
  'add broadcast [17,33]+[33]',
  'mul broadcast [3,1,5]*[4,5]',
  'div broadcast [17,33]/[17,1]',
  'relu [257]',
  'sigmoid [3,65] incl. ±100',
  'gelu [3,65]',
  'tanh [3,65]',
  'exp/log chain [65]',
  'sum over axis 0 [33,17]',
  'sum over axes [0,2] [3,17,5]',
  'max over axis -1 keepdim [17,33]',
  'mean over all [9,65]',
  'softmax axis -1 [17,33]',
  'logSoftmax axis 0 [9,10]',
  'linear + relu (fused) [17,33]->[65]',
  'batchNorm training [33,17] (+ running stats)',
  'dropout p=0.3 bit-exact vs CPU [1000]',
  'crossEntropy [33,10]',
  'backward: MLP linear-relu-linear-crossEntropy grads',
] as const;

export type ParityCaseName = (typeof PARITY_CASES)[number];

export interface ParityResult {
  name: string;
  pass: boolean;
  /** Largest |got − expected| over all outputs. */
  maxError: number;
  detail: string;
}

/** What the parity page publishes as window.parityReport. */
export interface ParityReport {
  done: boolean;
  adapter: string | null;
  /** Why the page has no WebGPU backend, when it has none. */
  noWebGPU: string | null;
  results: ParityResult[];
  error: string | null;
  seconds: number;
}
