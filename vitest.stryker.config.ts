/**
 * The vitest configuration StrykerJS runs each mutant against (`npm run mutate`).
 *
 * By default the CPU-side suites only, with no Vulkan driver offered (VK_ICD_FILENAMES points
 * nowhere, so the WebGPU blocks skip visibly): a software adapter takes minutes per full run and
 * Stryker reruns the covering tests once per mutant. The default `mutate` scope (src/ops,
 * src/autograd, src/optim, src/backend/cpu) is backend-independent or CPU-only, so these suites
 * are the right judges of it. `npm run mutate:webgpu` (WEBGRAD_MUTATE_WITH_WEBGPU=1) keeps the
 * driver and adds the WebGPU kernel suites, for mutating src/backend/webgpu and shaders/.
 *
 * WEBGRAD_MUTATE_SCOPE=optim (or core, below) narrows the suites to those that exercise
 * src/optim (or the tape and the core elementwise and reduction ops), so that scope's dry run and mutant runs stay short on a shared machine. A narrowed
 * list must keep every suite that kills mutants in its scope: it is the full list minus suites that
 * never construct an optimizer, scheduler or clip.
 */
import { defineConfig } from 'vitest/config';

const withWebGPU = process.env.WEBGRAD_MUTATE_WITH_WEBGPU === '1';
if (!withWebGPU) process.env.VK_ICD_FILENAMES = '/nonexistent/no-vulkan-driver.json';

const OPTIM_SUITES = [
  'test/nn-optim.test.ts',
  'test/optim-extras.test.ts',
  'test/clip-checks.test.ts',
  'test/gradcheck-training.test.ts',
  'test/mlp-parity.test.ts',
  'test/pytorch-parity.test.ts',
  'test/optim-mutants.test.ts',
];
const CPU_SUITES = [
  'test/autograd.test.ts',
  'test/gradcheck.test.ts',
  'test/gradcheck-training.test.ts',
  'test/op-suite.test.ts',
  'test/training-ops.test.ts',
  'test/pytorch-parity.test.ts',
  'test/nn-optim.test.ts',
  'test/optim-extras.test.ts',
  'test/clip-checks.test.ts',
  'test/optim-mutants.test.ts',
  'test/cpu-backend.test.ts',
  'test/fuzz.test.ts',
  'test/ties.test.ts',
  'test/dropout-threshold.test.ts',
  'test/mlp-parity.test.ts',
  'test/core-ops-suite.test.ts',
  'test/core-ops-parity.test.ts',
  'test/core-ops-errors.test.ts',
  'test/gradcheck-core-ops.test.ts',
  'test/conv-suite.test.ts',
  'test/conv-parity.test.ts',
  'test/conv-errors.test.ts',
  'test/gradcheck-conv.test.ts',
  'test/batchnorm-state.test.ts',
  'test/nan-numerics.test.ts',
  'test/custom-grad.test.ts',
  'test/cpu-training-mutants.test.ts',
  'test/ops-mutants.test.ts',
  'test/amp-norm-dropout.test.ts',
  'test/ops-core-mutants.test.ts',
  'test/autograd-mutants.test.ts',
  'test/routine-table.test.ts',
  'test/cpu-backend-mutants.test.ts',
  'test/ops-join-mutants.test.ts',
  'test/ops-conv-mutants.test.ts',
  'test/ops-shape-index-mutants.test.ts',
  'test/ops-creation-checks-mutants.test.ts',
  'test/ops-nn-mutants.test.ts',
  'test/ops-stats-loss-mutants.test.ts',
  'test/ops-numerics-names-mutants.test.ts',
  'test/random-shift.test.ts',
  'test/ops-rest-mutants.test.ts',
];
/**
 * WEBGRAD_MUTATE_SCOPE=core: for src/autograd and src/ops/{binary,unary,reduce}.ts. Every suite
 * differentiates through the tape, so each autograd mutant would rerun nearly all of them; this
 * list keeps the suites written for these files (the tape, customGrad, the elementwise and
 * reduction ops' values, errors, ties and gradients) and drops those that only pass through them
 * on the way to a layer, loss or optimizer. Dropping suites can only lose kills, so a score
 * measured with it is a lower bound of the full list's.
 */
const CORE_SUITES = [
  'test/autograd.test.ts',
  'test/autograd-mutants.test.ts',
  'test/custom-grad.test.ts',
  'test/lifetime.test.ts',
  'test/gradcheck.test.ts',
  'test/op-suite.test.ts',
  'test/ops-core-mutants.test.ts',
  'test/core-ops-errors.test.ts',
  'test/ties.test.ts',
  'test/nan-numerics.test.ts',
  'test/pytorch-parity.test.ts',
  'test/fuzz.test.ts',
  'test/cpu-backend.test.ts',
];
/**
 * WEBGRAD_MUTATE_SCOPE=backend: for src/backend/cpu and src/backend/*.ts, the suites that call the
 * CPU backend's verbs and routines directly or pin their values at their edges. Almost every
 * suite runs on the CPU backend, so with the full list each surviving mutant of a shared verb
 * (upload, binary, wrap) reruns hundreds of tests: on 2 loaded cores a run of the backend's ~2100
 * mutants took hours. A score measured with this list is a lower bound of the full list's.
 */
const BACKEND_SUITES = [
  'test/cpu-backend-mutants.test.ts',
  'test/cpu-backend.test.ts',
  'test/cpu-training-mutants.test.ts',
  'test/routine-table.test.ts',
  'test/core-ops-errors.test.ts',
  'test/conv-errors.test.ts',
  'test/conv-parity.test.ts',
  'test/batchnorm-state.test.ts',
  'test/nan-numerics.test.ts',
  'test/ties.test.ts',
  'test/dropout-threshold.test.ts',
];
const SCOPED: Record<string, string[]> = { optim: OPTIM_SUITES, core: CORE_SUITES, backend: BACKEND_SUITES };
const WEBGPU_SUITES = ['test/webgpu-backend.test.ts', 'test/webgpu-training.test.ts', 'test/webgpu-*.test.ts'];
/**
 * WEBGRAD_MUTATE_SCOPE=webgpu (with WEBGRAD_MUTATE_WITH_WEBGPU=1): for the host code in
 * src/backend/webgpu, a few WebGPU suites and no CPU-only suites (which never reach that code).
 * The batcher, bind-group cache, buffer pool and pipeline cache are on the path of every test, so
 * with perTest coverage each of their surviving mutants reruns every listed test: with the 15 fast
 * WebGPU suites (each 1.5–9 s alone on lavapipe, warm Mesa shader cache) that was one to two minutes
 * per survivor on the loaded 2-core machine, and batch (a) of README's table estimated at over an
 * hour. This list keeps the exact host tests (webgpu-host-mutants*), the kernel-by-kernel suite
 * against the CPU (webgpu-backend) and the small host suites (about 25 s in all alone before the four
 * backend and batcher host files of 2026-12-04 were added; each takes under 2 s). Left out for
 * time: run-ahead (70 s), autotune-cache (200 s), batchnorm-tune (16 s), webgpu-training, the
 * matmul/conv design suites, and the 1.5–9 s kernel suites (large-dispatch, fusion, precompile,
 * init-concurrency, subgroups, bn2d, sgd-vec4, bn-apply-vec4, reduce-designs). Dropping suites can
 * only lose kills: a score measured with this list is a lower bound of `npm run mutate:webgpu`'s.
 */
const WEBGPU_HOST_SUITES = [
  'test/webgpu-host-mutants*.test.ts',
  'test/webgpu-backend-host.test.ts',
  'test/webgpu-backend-lifecycle.test.ts',
  'test/webgpu-backend-autotune-option.test.ts',
  'test/webgpu-backend-f16-routing.test.ts',
  'test/webgpu-batcher-completion.test.ts',
  'test/webgpu-backend.test.ts',
  'test/bind-group-cache.test.ts',
  'test/reliability-api.test.ts',
  'test/kernel-program.test.ts',
  'test/webgpu-kernel-paths.test.ts',
  'test/print-after-read.test.ts',
];
/**
 * WEBGRAD_MUTATE_SCOPE=webgpu-tune (with WEBGRAD_MUTATE_WITH_WEBGPU=1): for the host logic of
 * src/backend/webgpu that batch 3 of README's table measures first: the tunes (matmul-tune,
 * reduce-tune, batchnorm-tune), their record store (tune-cache), precompile, device and f16. The
 * exact host tests (webgpu-host-mutants*: the tunes on a stand-in clock and context, the store, the
 * device and compile session on stand-ins, all without an adapter) and the suites that run those
 * files on the device: reduce-tune, batchnorm-tune (16 s: a real tune), precompile, float16,
 * init-concurrency. Left out for time: autotune-cache (200 s: three real matmul tunes) and
 * webgpu-matmul-designs (the design sweeps); so a score with this list is a lower bound.
 */
const WEBGPU_TUNE_SUITES = [
  'test/webgpu-host-mutants*.test.ts',
  'test/reduce-tune.test.ts',
  'test/batchnorm-tune.test.ts',
  'test/precompile.test.ts',
  'test/float16.test.ts',
  'test/init-concurrency.test.ts',
];
/**
 * WEBGRAD_MUTATE_SCOPE=webgpu-kernels (with WEBGRAD_MUTATE_WITH_WEBGPU=1): for the kernel-dispatch
 * files matmul.ts, reduce.ts and batchnorm2d.ts of src/backend/webgpu: the exact host tests, the
 * kernel-by-kernel suite against the CPU (webgpu-backend) and the suites that force each matmul,
 * reduce and BatchNorm2d design. Left out for time: the suites that reach these files only on the
 * way to a layer (webgpu-training, webgpu-conv-paths, the fusion suites) and the large-dispatch
 * suites (27 s and 78 s alone under load); so a score with this list is a lower bound.
 */
const WEBGPU_KERNEL_SUITES = [
  'test/webgpu-host-mutants*.test.ts',
  'test/webgpu-backend.test.ts',
  'test/webgpu-kernel-paths.test.ts',
  'test/webgpu-matmul-designs.test.ts',
  'test/webgpu-reduce-designs.test.ts',
  'test/webgpu-reduce-subgroup.test.ts',
  'test/webgpu-bn2d.test.ts',
  'test/reduce-tune.test.ts',
  'test/webgpu-matmul-designs-sg.test.ts',
  'test/webgpu-matmul-designs-sgrows.test.ts',
  'test/webgpu-kernel-choice.test.ts',
];
/**
 * WEBGRAD_MUTATE_SCOPE=webgpu-fused (with WEBGRAD_MUTATE_WITH_WEBGPU=1): for conv.ts and fused/*.ts
 * of src/backend/webgpu: the suites that run the convolutions, the fused training kernels and the
 * optimizer steps against the CPU, the running-stats and NCHW-eval BatchNorm suites, amp's norm/dropout
 * suite, and the exact kernel-choice tests (webgpu-fused-choice, webgpu-optimizer-choice, webgpu-conv-choice) and
 * dispatch tests (webgpu-conv-dispatch, webgpu-conv-empty-refusals, webgpu-pool-dispatch).
 */
const WEBGPU_FUSED_SUITES = [
  'test/webgpu-host-mutants*.test.ts',
  'test/webgpu-backend.test.ts',
  'test/webgpu-kernel-paths.test.ts',
  'test/webgpu-conv-paths.test.ts',
  'test/webgpu-training.test.ts',
  'test/webgpu-step-fusion.test.ts',
  'test/webgpu-fusion.test.ts',
  'test/webgpu-bn-apply-vec4.test.ts',
  'test/webgpu-sgd-vec4.test.ts',
  'test/webgpu-planted-host.test.ts',
  'test/webgpu-planted-dropout.test.ts',
  'test/bn-running-stats.test.ts',
  'test/bn2d-eval-nchw.test.ts',
  'test/amp-norm-dropout.test.ts',
  'test/webgpu-fused-choice.test.ts',
  'test/webgpu-optimizer-choice.test.ts',
  'test/webgpu-conv-choice.test.ts',
  'test/webgpu-conv-dispatch.test.ts',
  'test/webgpu-conv-empty-refusals.test.ts',
  'test/webgpu-pool-dispatch.test.ts',
];
/**
 * WEBGRAD_MUTATE_SCOPE=webgpu-backend (with WEBGRAD_MUTATE_WITH_WEBGPU=1): for backend.ts, which
 * every test passes through: the host suites above plus the suites of its own paths (float16 and
 * amp, precompile's compile-only mode, device loss and settle in reliability, untidy loops, lifetime,
 * numerics, concurrent init). Left out for time: run-ahead (83 s) and autotune-cache (128 s).
 */
const WEBGPU_BACKEND_SUITES = [
  ...WEBGPU_HOST_SUITES,
  'test/reliability.test.ts',
  'test/untidy-loop.test.ts',
  'test/amp.test.ts',
  'test/amp-norm-dropout.test.ts',
  'test/nan-numerics.test.ts',
  'test/lifetime.test.ts',
  'test/precompile.test.ts',
  'test/float16.test.ts',
  'test/init-concurrency.test.ts',
  'test/numerics-op-name.test.ts',
];
const WEBGPU_SCOPES: Record<string, string[]> = { webgpu: WEBGPU_HOST_SUITES, 'webgpu-backend': WEBGPU_BACKEND_SUITES, 'webgpu-tune': WEBGPU_TUNE_SUITES, 'webgpu-kernels': WEBGPU_KERNEL_SUITES, 'webgpu-fused': WEBGPU_FUSED_SUITES };

const scope = process.env.WEBGRAD_MUTATE_SCOPE;
const webgpuScope = scope === undefined ? undefined : WEBGPU_SCOPES[scope];
if (webgpuScope && !withWebGPU) {
  throw new Error(`WEBGRAD_MUTATE_SCOPE=${scope} needs WEBGRAD_MUTATE_WITH_WEBGPU=1 (its suites need an adapter)`);
}
const scoped = scope === undefined || webgpuScope ? undefined : SCOPED[scope];
if (scope !== undefined && !webgpuScope && scoped === undefined) {
  throw new Error(`WEBGRAD_MUTATE_SCOPE: unknown scope '${scope}'`);
}
const cpuSuites = scoped ?? CPU_SUITES;
const include = webgpuScope ?? (withWebGPU ? [...cpuSuites, ...WEBGPU_SUITES] : cpuSuites);

export default defineConfig({
  test: {
    include,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
