/**
 * The CPU reference backend: the oracle every GPU kernel is checked against. Plain loops over
 * typed arrays, arithmetic in float64, results stored in the dtype's typed array (so float32
 * results round as a GPU's would). Synchronous: flush is a no-op.
 *
 * This file validates arguments and owns allocation; the formulas and loops live beside it
 * (unary.ts, binary.ts, reduce.ts, strided.ts, matmul.ts), and the routines in routines.ts.
 */
import {
  bytesPerElement,
  type ActivationGradOp, type Backend, type BackendMemoryStats, type BinaryOp, type DType, type MatmulArgs,
  type RandomKind, type ReduceOp, type Storage, type TypedArray, type UnaryOp,
} from '../types.js';
import { philoxNormal, philoxUniform, philoxWords } from '../../random/philox.js';
import { CpuStorage, cpuStorage, allocCpuArray } from './storage.js';
import { WebgradError } from '../../errors.js';
import { refuseHalfRoutine, roundArrayToF16, roundToF16 } from '../f16.js';
import { activationGradKernel, unaryKernel } from './unary.js';
import { BINARY, INT_BINARY, binaryKernel } from './binary.js';
import { reduceKernel } from './reduce.js';
import { stridedIndexRange, stridedKernel } from './strided.js';
import { matmulKernel } from './matmul.js';
import { routineFrom, type RoutineInputs, type RoutineName, type RoutineParams, type RoutineResult } from '../routines.js';
import { CPU_ROUTINES, type CpuContext } from './routines.js';

const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'float16'];

function checkDType(kernel: string, dtype: DType): void {
  if (!DTYPES.includes(dtype)) throw new Error(`cpu.${kernel}: unknown dtype '${String(dtype)}'`);
}

function checkCount(kernel: string, name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`cpu.${kernel}: ${name} must be a non-negative integer, got ${v}`);
}

function checkShapeArg(kernel: string, name: string, shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`cpu.${kernel}: ${name} [${shape.join(', ')}] must hold non-negative integers`);
    size *= d;
  }
  return size;
}

function sameDType(kernel: string, a: CpuStorage, b: CpuStorage): void {
  if (a.dtype !== b.dtype) throw new Error(`cpu.${kernel}: dtypes differ (${a.dtype} and ${b.dtype})`);
}

export class CpuBackend implements Backend, CpuContext {
  readonly name = 'cpu' as const;
  private allocatedBytes = 0;
  private buffersCreated = 0;

  /** @internal Wraps a freshly allocated typed array as a storage, counting it in memoryStats. */
  wrap(dtype: DType, data: TypedArray): CpuStorage {
    this.allocatedBytes += data.length * bytesPerElement(dtype);
    this.buffersCreated++;
    // float16 results are computed in float32 (as PyTorch's CPU kernels do) and rounded once here,
    // so every verb and routine stores values a float16 tensor can hold.
    if (dtype === 'float16' && !(data instanceof Int32Array)) roundArrayToF16(data);
    return new CpuStorage(dtype, data);
  }

  /** @internal A new array for a result (used by the routines too). */
  alloc(dtype: DType, length: number): TypedArray {
    return allocCpuArray(dtype, length); // a clear error for tensors too large for one typed array
  }

  // ---- memory ----

  upload(data: TypedArray, dtype: DType): Storage {
    checkDType('upload', dtype);
    if (!ArrayBuffer.isView(data) || data instanceof DataView) throw new Error('cpu.upload: data must be a typed array');
    const copy = this.alloc(dtype, data.length);
    // float16: round each given number once (not through float32 first).
    if (dtype === 'float16') for (let i = 0; i < data.length; i++) copy[i] = roundToF16(data[i]!);
    else copy.set(data); // converts between element types (float → int32 truncates toward zero)
    return this.wrap(dtype, copy);
  }

  async read(storage: Storage): Promise<TypedArray> {
    return cpuStorage('read', 'storage', storage).data.slice();
  }

  release(storage: Storage): void {
    cpuStorage('release', 'storage', storage).release();
  }

  memoryStats(): BackendMemoryStats {
    return { pooledBytes: 0, allocatedBytes: this.allocatedBytes, buffersCreated: this.buffersCreated };
  }

  flush(): void {}

  assertFinite(x: Storage, op: string, message: (value: number) => string): void {
    const v = cpuStorage(op, 'x', x).data[0];
    if (v !== undefined && !Number.isFinite(v)) throw new WebgradError(message(v));
  }

  // ---- kernels ----

  fill(length: number, value: number, dtype: DType): Storage {
    checkDType('fill', dtype);
    checkCount('fill', 'length', length);
    const out = this.alloc(dtype, length);
    out.fill(value);
    return this.wrap(dtype, out);
  }

  cast(x: Storage, dtype: DType): Storage {
    const xs = cpuStorage('cast', 'x', x);
    checkDType('cast', dtype);
    const out = this.alloc(dtype, xs.length);
    if (dtype === 'float16') for (let i = 0; i < xs.length; i++) out[i] = roundToF16(xs.data[i]!);
    else out.set(xs.data); // float → int32 truncates toward zero (ToInt32); int32 → float is exact
    return this.wrap(dtype, out);
  }

  unary(op: UnaryOp, x: Storage, param: number): Storage {
    const xs = cpuStorage('unary', 'x', x);
    const out = this.alloc(xs.dtype, xs.length);
    unaryKernel(op, xs.data, out, param, xs.dtype === 'int32');
    return this.wrap(xs.dtype, out);
  }

  activationGrad(op: ActivationGradOp, x: Storage, dy: Storage, param: number): Storage {
    const xs = cpuStorage('activationGrad', 'x', x);
    const dys = cpuStorage('activationGrad', 'dy', dy);
    sameDType('activationGrad', xs, dys);
    if (xs.length !== dys.length) throw new Error(`cpu.activationGrad: x has ${xs.length} elements but dy has ${dys.length}`);
    const out = this.alloc(xs.dtype, xs.length);
    activationGradKernel(op, xs.data, dys.data, out, param);
    return this.wrap(xs.dtype, out);
  }

  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage {
    const sa = cpuStorage('binary', 'a', a);
    const sb = cpuStorage('binary', 'b', b);
    sameDType('binary', sa, sb);
    const aSize = checkShapeArg('binary', 'aShape', aShape);
    const bSize = checkShapeArg('binary', 'bShape', bShape);
    const outSize = checkShapeArg('binary', 'outShape', outShape);
    if (aSize !== sa.length) throw new Error(`cpu.binary: aShape [${aShape.join(', ')}] does not match a's ${sa.length} elements`);
    if (bSize !== sb.length) throw new Error(`cpu.binary: bShape [${bShape.join(', ')}] does not match b's ${sb.length} elements`);
    for (const [name, shape] of [['a', aShape], ['b', bShape]] as const) {
      const ok = shape.length <= outShape.length &&
        shape.every((d, i) => d === 1 || d === outShape[outShape.length - shape.length + i]);
      if (!ok) throw new Error(`cpu.binary: ${name} of shape [${shape.join(', ')}] does not broadcast to [${outShape.join(', ')}]`);
    }
    const out = this.alloc(sa.dtype, outSize);
    const table = sa.dtype === 'int32' ? INT_BINARY : BINARY;
    binaryKernel(table[op], sa.data, aShape, sb.data, bShape, out, outShape);
    return this.wrap(sa.dtype, out);
  }

  reduce(op: ReduceOp, x: Storage, outer: number, length: number, inner: number): Storage {
    const xs = cpuStorage('reduce', 'x', x);
    checkCount('reduce', 'outer', outer);
    checkCount('reduce', 'length', length);
    checkCount('reduce', 'inner', inner);
    if (outer * length * inner !== xs.length) {
      throw new Error(`cpu.reduce: [outer, length, inner] = [${outer}, ${length}, ${inner}] does not match x's ${xs.length} elements`);
    }
    const out = this.alloc(xs.dtype, outer * inner);
    reduceKernel(op, xs.data, out, outer, length, inner, xs.dtype === 'int32');
    return this.wrap(xs.dtype, out);
  }

  strided(x: Storage, outShape: readonly number[], strides: readonly number[], offset: number): Storage {
    const xs = cpuStorage('strided', 'x', x);
    const size = checkShapeArg('strided', 'outShape', outShape);
    if (strides.length !== outShape.length || !strides.every(Number.isSafeInteger)) {
      throw new Error(`cpu.strided: strides [${strides.join(', ')}] must be ${outShape.length} integers, one per output dimension`);
    }
    if (!Number.isSafeInteger(offset)) throw new Error(`cpu.strided: offset must be an integer, got ${offset}`);
    if (size > 0) {
      const [lo, hi] = stridedIndexRange(outShape, strides, offset);
      if (lo < 0 || hi >= xs.length) {
        throw new Error(`cpu.strided: the view reads indices ${lo}..${hi}, outside x's ${xs.length} elements`);
      }
    }
    const out = this.alloc(xs.dtype, size);
    stridedKernel(xs.data, out, outShape, strides, offset);
    return this.wrap(xs.dtype, out);
  }

  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage {
    const sa = cpuStorage('matmul', 'a', a);
    const sb = cpuStorage('matmul', 'b', b);
    sameDType('matmul', sa, sb);
    const { batch, m, k, n, aBatchStride, bBatchStride } = args;
    for (const [name, v] of [['batch', batch], ['m', m], ['k', k], ['n', n], ['aBatchStride', aBatchStride], ['bBatchStride', bBatchStride]] as const) {
      checkCount('matmul', name, v);
    }
    // The last matrix of each operand must fit inside its storage.
    if (batch > 0 && (batch - 1) * aBatchStride + m * k > sa.length) {
      throw new Error(`cpu.matmul: a has ${sa.length} elements, too few for batch ${batch} of ${m}x${k} with batch stride ${aBatchStride}`);
    }
    if (batch > 0 && (batch - 1) * bBatchStride + k * n > sb.length) {
      throw new Error(`cpu.matmul: b has ${sb.length} elements, too few for batch ${batch} of ${k}x${n} with batch stride ${bBatchStride}`);
    }
    let bias: TypedArray | undefined;
    if (args.bias !== undefined) {
      const bias_ = cpuStorage('matmul', 'bias', args.bias);
      sameDType('matmul', sa, bias_);
      if (bias_.length !== n) throw new Error(`cpu.matmul: bias has ${bias_.length} elements, expected n = ${n}`);
      bias = bias_.data;
    }
    const out = this.alloc(sa.dtype, batch * m * n);
    matmulKernel(sa.data, sb.data, out, args, bias);
    return this.wrap(sa.dtype, out);
  }

  random(kind: RandomKind, length: number, seed: number, offset: number, dtype: DType): Storage {
    checkDType('random', dtype);
    checkCount('random', 'length', length);
    const out = this.alloc(dtype, length);
    switch (kind) {
      case 'uniform':
      case 'normal':
        if (dtype === 'int32') throw new Error(`cpu.random: '${kind}' draws need a float dtype, got int32`);
        out.set(kind === 'uniform' ? philoxUniform(seed, offset, length) : philoxNormal(seed, offset, length));
        break;
      case 'bits': {
        if (dtype !== 'int32') throw new Error(`cpu.random: 'bits' draws need dtype int32, got ${dtype}`);
        const words = philoxWords(seed, offset, length);
        for (let i = 0; i < length; i++) out[i] = words[i]! | 0; // bit-cast u32 → i32
        break;
      }
      default:
        throw new Error(`cpu.random: unknown kind '${String(kind)}'`);
    }
    return this.wrap(dtype, out);
  }

  // ---- routines (table in routines.ts) ----

  routine<K extends RoutineName>(name: K, inputs: RoutineInputs<K>, params: RoutineParams<K>): RoutineResult<K> {
    refuseHalfRoutine('cpu', name, inputs);
    return routineFrom(CPU_ROUTINES, 'cpu', name)(this, inputs, params);
  }
}
