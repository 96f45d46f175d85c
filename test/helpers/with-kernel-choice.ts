/** Runs `f` with a kernel choice forced (src/backend/webgpu/kernel-choice.ts), restoring the previous one after, even on a throw. */
import { forceKernelChoice, type KernelChoice } from '../../src/backend/webgpu/kernel-choice.js';

export function withKernelChoice<T>(choice: KernelChoice, f: () => T): T {
  const restore = forceKernelChoice(choice);
  try {
    return f();
  } finally {
    restore();
  }
}
