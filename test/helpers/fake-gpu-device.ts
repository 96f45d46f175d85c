/**
 * A recording stand-in for GPUDevice, for unit tests of the WebGPU host code (batcher, bind-group
 * cache, buffer pool) that check exact calls: which buffers were created, which bind-group entries
 * and offsets, which byte ranges were uploaded, how many submits. Only the members that host code
 * touches exist; a call to anything else fails loudly (TypeError), which is what such a test wants.
 */

export interface FakeBuffer {
  readonly size: number;
  readonly usage: number;
  readonly label: string;
  destroyed: boolean;
  destroy(): void;
}

export interface FakeBindGroup {
  readonly id: number;
  readonly entries: GPUBindGroupEntry[];
}

export interface FakeWrite {
  buffer: FakeBuffer;
  offset: number;
  dataOffset: number;
  size: number;
  bytes: number[];
}

export interface FakeDevice {
  device: GPUDevice;
  buffers: FakeBuffer[];
  bindGroups: FakeBindGroup[];
  writes: FakeWrite[];
  /** Every encoder/pass/queue call in order, e.g. 'encoder', 'pass', 'setPipeline', 'dispatch 3,1,1', 'end', 'finish', 'submit'. */
  calls: string[];
  /** Resolvers of onSubmittedWorkDone promises, oldest first (tests complete submits by hand). */
  workDone: Array<() => void>;
  /** Rejecters of the same promises, in the same order (a submit that never finishes: device lost). */
  workFailed: Array<(e: Error) => void>;
  /** The label of each command encoder created, in order. */
  encoderLabels: string[];
  /** The error each popErrorScope resolves with, oldest first (null: no error). */
  scopeErrors: Array<{ message: string } | null>;
  /** Resolves device.lost. */
  lose(): void;
}

export function fakeDevice(): FakeDevice {
  const f: Omit<FakeDevice, 'device' | 'lose'> = { buffers: [], bindGroups: [], writes: [], calls: [], workDone: [], workFailed: [], encoderLabels: [], scopeErrors: [] };
  let loseFn: () => void = () => undefined;
  const lost = new Promise<GPUDeviceLostInfo>((resolve) => {
    loseFn = () => resolve({ reason: 'destroyed', message: 'fake loss' } as GPUDeviceLostInfo);
  });
  const pass = {
    setPipeline: () => f.calls.push('setPipeline'),
    setBindGroup: (i: number, bg: FakeBindGroup) => f.calls.push(`setBindGroup ${i} ${bg.id}`),
    dispatchWorkgroups: (x: number, y: number, z: number) => f.calls.push(`dispatch ${x},${y},${z}`),
    end: () => f.calls.push('end'),
  };
  const device = {
    createBuffer(d: GPUBufferDescriptor): FakeBuffer {
      const b: FakeBuffer = {
        size: d.size,
        usage: d.usage,
        label: d.label ?? '',
        destroyed: false,
        destroy() {
          b.destroyed = true;
        },
      };
      f.buffers.push(b);
      return b;
    },
    createBindGroup(d: GPUBindGroupDescriptor): FakeBindGroup {
      const bg = { id: f.bindGroups.length, entries: [...d.entries] };
      f.bindGroups.push(bg);
      return bg;
    },
    createCommandEncoder(d?: GPUCommandEncoderDescriptor) {
      f.calls.push('encoder');
      f.encoderLabels.push(d?.label ?? '');
      return {
        beginComputePass() {
          f.calls.push('pass');
          return pass;
        },
        finish() {
          f.calls.push('finish');
          return {};
        },
      };
    },
    queue: {
      // As in WebGPU: dataOffset and size count elements of a typed array, bytes of an ArrayBuffer.
      // Recorded in bytes.
      writeBuffer(buffer: FakeBuffer, offset: number, data: ArrayBuffer | ArrayBufferView, dataOffset = 0, size?: number) {
        const view = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
        const el = ArrayBuffer.isView(data) ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
        const start = dataOffset * el;
        const len = size === undefined ? view.length - start : size * el;
        f.writes.push({ buffer, offset, dataOffset: start, size: len, bytes: Array.from(view.subarray(start, start + len)) });
      },
      submit() {
        f.calls.push('submit');
      },
      onSubmittedWorkDone(): Promise<void> {
        return new Promise<void>((resolve, reject) => {
          f.workDone.push(resolve);
          f.workFailed.push(reject);
        });
      },
    },
    createBindGroupLayout(d: GPUBindGroupLayoutDescriptor) {
      f.calls.push(`bindGroupLayout ${d.label ?? ''}`);
      return { kind: 'bindGroupLayout', ...d };
    },
    createPipelineLayout(d: GPUPipelineLayoutDescriptor) {
      f.calls.push(`pipelineLayout ${d.label ?? ''}`);
      return { kind: 'pipelineLayout', ...d };
    },
    createShaderModule(d: GPUShaderModuleDescriptor) {
      f.calls.push(`shaderModule ${d.label ?? ''}`);
      return { kind: 'shaderModule', ...d };
    },
    createComputePipeline(d: GPUComputePipelineDescriptor) {
      f.calls.push(`computePipeline ${d.label ?? ''}`);
      return { kind: 'computePipeline', ...d };
    },
    pushErrorScope(filter: string) {
      f.calls.push(`pushErrorScope ${filter}`);
    },
    popErrorScope(): Promise<{ message: string } | null> {
      return Promise.resolve(f.scopeErrors.shift() ?? null);
    },
    lost,
  };
  return { ...f, device: device as unknown as GPUDevice, lose: () => loseFn() };
}

export const asFake = (b: GPUBuffer): FakeBuffer => b as unknown as FakeBuffer;
export const asGpu = (b: FakeBuffer): GPUBuffer => b as unknown as GPUBuffer;
