/**
 * The class form of customGrad, for PyTorch users: subclass `autograd.Function` with static
 * `forward(ctx, ...args)` and `backward(ctx, dy)`, save tensors with `ctx.saveForBackward`, and call
 * `MyOp.apply(...args)`. It is a thin layer over customGrad, so lifetimes, validation and noGrad
 * behave the same (the saved tensors, like everything the forward creates, live until the node is freed).
 */
import type { Tensor } from '../tensor.js';
import { customGrad, type CustomGradients } from './custom.js';

export class FunctionCtx {
  /** Other state the backward needs (ctx.alpha = 0.5), as PyTorch allows. */
  [key: string]: unknown;
  /** What saveForBackward stored, in order. */
  savedTensors: readonly Tensor[] = [];
  /** Per tensor argument: whether it needs a gradient (set before backward runs). */
  needsInputGrad: readonly boolean[] = [];

  saveForBackward(...tensors: Tensor[]): void {
    this.savedTensors = tensors;
  }
}

/** What `apply` needs from the subclass: its static forward and backward, and its name for errors. */
export interface FunctionClass<A extends unknown[]> {
  readonly name: string;
  forward(ctx: FunctionCtx, ...args: A): Tensor;
  backward(ctx: FunctionCtx, dy: Tensor): CustomGradients;
}

export class Function {
  /** Runs the subclass's forward, recording its backward (like torch.autograd.Function.apply). */
  static apply<A extends unknown[]>(this: FunctionClass<A>, ...args: A): Tensor {
    const cls = this;
    return customGrad((...inner: A) => {
      const ctx = new FunctionCtx();
      const value = cls.forward(ctx, ...inner);
      return {
        value,
        grad: (dy: Tensor, needs: readonly boolean[]) => {
          ctx.needsInputGrad = needs;
          return cls.backward(ctx, dy);
        },
      };
    }, { name: cls.name })(...args);
  }
}
