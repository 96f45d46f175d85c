/** Dispatch of a declared kernel (shaders/program.ts): buffers and uniforms passed by name. */

import type { BindingBuffers, BindingDecls, KernelProgram, UniformDecls, UniformValues } from '../../../shaders/program.js';
import type { Workgroups } from './batcher.js';
import type { KernelContext } from './context.js';

export function dispatchKernel<B extends BindingDecls, U extends UniformDecls>(
  ctx: KernelContext,
  op: string,
  prog: KernelProgram<B, U>,
  buffers: BindingBuffers<B, GPUBuffer>,
  values: UniformValues<U>,
  workgroups: Workgroups,
): void {
  ctx.batcher.dispatch(op, ctx.pipelines.program(prog), prog.order(buffers), prog.pack(values), workgroups);
}
