/**
 * The common interface every library adapter implements. A workload (bench/workloads/*.ts) owns the
 * host data, the timing loop and the correctness check; a peer only turns host data into its own
 * tensors and runs its own ops. A peer that lacks a workload leaves the method undefined and the
 * report says "not applicable".
 *
 * Timing contract: a `run(k)` or `steps(k)` call must leave every one of its k operations truly
 * executed by the time its promise resolves, and must end with a readback (data copied to the host),
 * so work queued on the GPU is included in the time.
 */

/** 'pytorch' is external: measured by bench/torch_matmul.py and merged with --external. */
export type PeerId = 'webgrad' | 'webgrad-cpu' | 'tfjs' | 'jaxjs' | 'raw-webgpu' | 'pytorch';

/** A prepared case: inputs already live on the peer's device, nothing timed yet. */
export interface OpCase {
  /** Runs the op k times back to back and reads the LAST result back to the host. */
  run(k: number): Promise<Float32Array>;
  dispose(): void | Promise<void>;
  /**
   * Optional (webgrad): host time to issue the op, µs per op (= per dispatch for a one-kernel op),
   * over n ops issued back to back with no read, then one wait for the GPU (not timed).
   */
  hostEncodeUs?(n: number): Promise<number>;
}

/** The MLP's parameters in webgrad's (PyTorch's) layout: Linear weight [out, in]. */
export interface MlpParams {
  w1: Float32Array; b1: Float32Array; g1: Float32Array; be1: Float32Array;
  w2: Float32Array; b2: Float32Array; g2: Float32Array; be2: Float32Array;
  w3: Float32Array; b3: Float32Array;
}

export interface MlpSpec {
  batch: number;
  sizes: readonly [number, number, number, number]; // 784, 512, 512, 10
  dropout: number;
  lr: number;
  momentum: number;
  eps: number;
  bnMomentum: number;
}

export interface MlpData {
  x: Float32Array; // [batch, 784]
  labels: Int32Array; // [batch]
}

export interface MlpModel {
  /** k training steps on the stored batch, then the last step's loss read back. */
  steps(k: number): Promise<number>;
  /** The current parameters (read back; not timed). */
  params(): Promise<MlpParams>;
  /** How the step is written, for the report. */
  readonly how: string;
  /** Optional breakdown of a step (webgrad: backend stats and time per part). */
  profile?(n: number): Promise<unknown>;
  dispose(): void | Promise<void>;
}

export interface Peer extends ConvPeer {
  readonly id: PeerId;
  readonly label: string;
  /** Library version(s), e.g. "@tensorflow/tfjs-core 4.22.0 + tfjs-backend-webgpu 4.22.0". */
  readonly version: string;
  /** True when the peer runs on the CPU (no GPU adapter involved). */
  readonly cpu: boolean;
  /** Brings the library up on WebGPU (throws with a reason when it cannot). */
  init(): Promise<void>;
  /** The adapter the library's device came from, as it reports it (if it can say). */
  adapterInfo?(): string | null;
  /** Largest matmul size worth running (e.g. the CPU reference stops at 1024). */
  readonly maxMatmul?: number;
  matmul?(n: number, a: Float32Array, b: Float32Array): Promise<OpCase>;
  relu?(x: Float32Array): Promise<OpCase>;
  /** add of two 4-element tensors; run(1) returns their sum. */
  tinyAdd?(a: Float32Array, b: Float32Array): Promise<OpCase>;
  mlp?(spec: MlpSpec, init: MlpParams, data: MlpData): Promise<MlpModel>;
  /** Free-form notes for the report (flags changed, fallbacks taken). */
  notes?(): string[];
  destroy?(): void | Promise<void>;
}

// ---- convolution, pooling and the CNN step (bench/workloads/conv.ts and cnn.ts) ----

/** A conv2d case in PyTorch's layouts: x [n, cin, h, w], weight [cout, cin, k, k], stride 1, no bias. */
export interface ConvSpec {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number;
  pad: number;
}

/** What one forward (+ backward) returns, read back, in PyTorch's layouts (NCHW, OIHW). */
export interface ConvOut {
  y: Float32Array;
  /** Present when the case includes the backward pass. */
  dx?: Float32Array;
  dw?: Float32Array;
}

/** A prepared conv or pooling case: inputs (and the upstream gradient) already on the device. */
export interface GradCase {
  /** k forward (+ backward) passes back to back; every output of the LAST one read back. */
  run(k: number): Promise<ConvOut>;
  dispose(): void | Promise<void>;
}

/** A max-pool case: x [n, c, h, w], kernel = stride = k, no padding. */
export interface PoolSpec {
  n: number;
  c: number;
  h: number;
  w: number;
  k: number;
}

/** The small CNN: per block conv k×k (padding k>>1, no bias) → BatchNorm2d → ReLU → max-pool 2×2, then Linear. */
export interface CnnSpec {
  batch: number;
  imageSize: number;
  channels: readonly number[];
  classes: number;
  kernel: number;
  lr: number;
  momentum: number;
  eps: number;
  bnMomentum: number;
}

/** The CNN's parameters in PyTorch's layout, block by block, then the head (weight [classes, C·s·s], features in C, h, w order). */
export interface CnnParams {
  conv: Float32Array[];
  gamma: Float32Array[];
  beta: Float32Array[];
  fcW: Float32Array;
  fcB: Float32Array;
}

export interface CnnModel {
  /** k training steps on the stored batch, then the last step's loss read back. */
  steps(k: number): Promise<number>;
  params(): Promise<CnnParams>;
  readonly how: string;
  dispose(): void | Promise<void>;
}

/** The optional methods a peer implements for the conv workloads (merged into Peer). */
export interface ConvPeer {
  /** conv2d forward only (`backward` false) or forward + input and weight gradients for the upstream gradient `g`. */
  conv2d?(spec: ConvSpec, x: Float32Array, weight: Float32Array, g: Float32Array, backward: boolean): Promise<GradCase>;
  /** max-pool forward + input gradient for the upstream gradient `g` (dx in ConvOut.dx). */
  maxPool?(spec: PoolSpec, x: Float32Array, g: Float32Array): Promise<GradCase>;
  cnn?(spec: CnnSpec, init: CnnParams, data: MlpData): Promise<CnnModel>;
}
