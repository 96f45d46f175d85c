/**
 * Property-based fuzzing: random small graphs of ops (random shapes, broadcasting, values and op
 * chains; see test/helpers/fuzz-graph.ts), run on each backend in float32 and compared with the CPU
 * in float64, forward (every intermediate value) and backward (every leaf's gradient of
 * loss = Σ sum(sink · W) with fixed random W). Plus a CPU-only property: float64 analytic
 * gradients vs central finite differences on random graphs of smooth ops.
 *
 *   npx vitest run test/fuzz.test.ts                               # 40 graphs per property, fixed seed
 *   WEBGRAD_FUZZ_RUNS=2000 npx vitest run test/fuzz.test.ts        # the long run
 *   WEBGRAD_FUZZ_SEED=7 npx vitest run test/fuzz.test.ts           # other graphs
 *   WEBGRAD_FUZZ_SEED=<seed> WEBGRAD_FUZZ_PATH=<path> npx vitest run test/fuzz.test.ts   # replay a failure
 *
 * A failure is shrunk (fewer ops, smaller shapes, simpler values) and reported with the graph as
 * code (every primitive op, shape and leaf value), the seed and the path to replay it.
 *
 * Tolerance. The reference is the float64 CPU run on the very leaf values the float32 run gets
 * (all leaves are float32-representable), so input rounding is not in play. A float32 result then
 * differs from it by rounding amplified by the graph: benignly (a few ulps per op) or a lot
 * (cancellation in a sum, a sub or a gradient accumulation; softmax's backward where one
 * probability is ≈ 1; exp of a large input). Rather than guess per-op bounds, the reference is rerun
 * 3 times with *simulated rounding* (test/helpers/fuzz-run.ts):
 *   - after each op that rounds, its result gets a relative error of up to one float32 ulp,
 *     pseudo-random but keyed by the value, so equal values get equal errors (ties stay ties) and
 *     results float32 holds exactly stay exact, as under real rounding;
 *   - the terms of each sum and matmul get √K ulps (the rounding of the partial sums);
 *   - where WGSL only bounds the absolute error, that too: log (2^-21), tanh (an ulp of 1: tanh(1e-7)
 *     is 1.19e-7 on lavapipe), and the fused derivatives of sigmoid/tanh/gelu/softplus (an ulp of
 *     dy: s(1 − s) is 0 once s rounds to 1, as in PyTorch);
 *   - softmax/logSoftmax are written out (x − max, exp, Σ, ÷ or − log) and their fused backward's
 *     inner sum gets its rounding as a term that is zero forward.
 *   The multiplications carry into backward, so gradients get the same treatment. The spread of those
 * runs around the reference is this graph's float32 sensitivity, and a device must stay within
 *     |got − ref| ≤ 1e-3·|ref| + 32·spread + 16·eps32·depth·max|ref| + 1e-30
 * per element (spread and max|ref| over the whole tensor, so a simulated run that happens to be
 * lucky at one element does not tighten the bound there; 32× covers float32 kernels that are not
 * correctly rounded, e.g. WGSL's exp and tree-ordered sums). Passing runs use at most ~20% of that;
 * a real bug (a wrong element, a lost or doubled term, a wrong formula) is off by O(|ref|), and
 * planted errors of 0.3% in one kernel (a broadcast mul, softmax's gradient) are caught within 30 graphs.
 *
 * Kinks. relu, relu6, leakyRelu, abs, clamp, maximum/minimum and max are continuous, so forward
 * values are always compared; but their gradients jump across the kink, and float32 rounding can
 * legitimately move an input across it (x − y with x ≈ y, then relu; two sums that tie in float64).
 * Each run records, per kinked op and element, the branch taken (the sign of the input against the
 * kink, of a − b, which elements attain the max). Exact ties by construction (zeros and repeated
 * values in the leaves, maximum(x, x), an expanded max) are reproduced exactly by float32, so the
 * branches agree and tie-splitting gradients are compared. Where the device took another branch
 * than the reference, that run's gradients are not compared (counted: it happens in well under 1%
 * of graphs, and the property fails if it happens in more than a third). The simulated runs never
 * cross: they evaluate each kinked op on the reference's branch.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BackendName } from '../src/backend/types.js';
import { gelu, memory, onesLike, tensor } from '../src/index.js';
import { describeEachBackend } from './helpers/backends.js';
import { SMOOTH_MACROS, buildPlan, planStr, recipeArb, type Plan, type Recipe } from './helpers/fuzz-graph.js';
import { judge, reference, runPlan } from './helpers/fuzz-run.js';
import { prng, sizeOf } from './helpers/random-data.js';

const SEED = Number.parseInt(process.env.WEBGRAD_FUZZ_SEED ?? '20240917', 10);
const RUNS = Number.parseInt(process.env.WEBGRAD_FUZZ_RUNS ?? '40', 10);
const PATH = process.env.WEBGRAD_FUZZ_PATH;
/** WEBGRAD_FUZZ_VERBOSE=1 prints the graphs whose gradients were not compared. */
const VERBOSE = process.env.WEBGRAD_FUZZ_VERBOSE === '1';
/** Simulated-rounding reruns of the reference per graph. */
const SIMS = 3;

/** Replay settings: a given path replays just that (shrunk) counterexample. */
function runParams<T>(numRuns: number, plugin: fc.Plugin<T>): fc.Parameters<T> {
  return {
    seed: SEED,
    numRuns,
    ...(PATH ? { path: PATH, endOnFailure: true } : {}),
    plugins: [plugin],
    noDefaultPlugins: true,
    // Shrinking a GPU failure reruns it many times: stop shrinking (and report the smallest so far) in time.
    interruptAfterTimeLimit: timeoutFor(numRuns) - 15_000,
    // A run cut short by the time limit is a failure, not a pass over fewer graphs.
    markInterruptAsFailure: true,
  };
}

function timeoutFor(numRuns: number): number {
  return 120_000 + numRuns * 1_500;
}

/** fast-check's reporter, replaced: the failure message shows the shrunk graph as code and how to replay it. */
function reporter(title: string, planOf: (r: Recipe) => Plan): fc.Plugin<[Recipe]> {
  return () => ({
    onAllRunsComplete: (d) => {
      if (!d.failed) return;
      if (d.counterexample === null) throw new Error(`${title}: ${fc.defaultReportMessage(d) ?? 'failed'}`);
      const [recipe] = d.counterexample;
      const err = d.errorInstance instanceof Error ? (d.errorInstance.stack ?? d.errorInstance.message) : String(d.errorInstance);
      let graph: string;
      try {
        graph = planStr(planOf(recipe));
      } catch (e) {
        graph = `(the recipe does not build: ${e instanceof Error ? e.message : String(e)})`;
      }
      throw new Error(
        `${title}: failed after ${d.numRuns} graph(s), shrunk ${d.numShrinks} time(s)${d.interrupted ? ' (shrinking interrupted)' : ''}.\n` +
          `${err}\n\nThe shrunk graph:\n${graph}\n\n` +
          `Replay: WEBGRAD_FUZZ_SEED=${d.seed} WEBGRAD_FUZZ_PATH=${d.counterexamplePath} npx vitest run test/fuzz.test.ts\n` +
          `Recipe: ${fc.stringify(recipe)}`,
      );
    },
  });
}

function expectMemoryBack(before: ReturnType<typeof memory>): void {
  const after = memory();
  expect({ liveTensors: after.liveTensors, liveStorages: after.liveStorages, liveBytes: after.liveBytes }, 'leaked tensors').toEqual({
    liveTensors: before.liveTensors, liveStorages: before.liveStorages, liveBytes: before.liveBytes,
  });
}

// ---------------------------------------------------------------------------------------------

describeEachBackend('fuzz: random graphs in float32 vs the CPU float64 reference', (device: BackendName) => {
  it(`forward values and leaf gradients agree (${RUNS} graphs, seed ${SEED})`, async () => {
    const stats = { runs: 0, gradsCompared: 0, ambiguous: [] as string[], steps: 0, used: 0, ops: new Map<string, number>() };
    const before = memory();
    await fc.assert(
      fc.asyncProperty(recipeArb(), async (recipe) => {
        const plan = buildPlan(recipe);
        const ref = await reference(plan, SIMS, recipe.seed);
        const got = await runPlan(plan, { device, dtype: 'float32' });
        const v = judge(plan, ref, got, device);
        stats.runs++;
        stats.steps += plan.steps.length;
        stats.used = Math.max(stats.used, v.used);
        for (const s of plan.steps) stats.ops.set(s.op, (stats.ops.get(s.op) ?? 0) + 1);
        if (v.gradsCompared) stats.gradsCompared++;
        else {
          stats.ambiguous.push(v.ambiguity!);
          if (VERBOSE) console.log(`gradients not compared (${v.ambiguity}):\n${planStr(plan)}`);
        }
      }),
      runParams(RUNS, reporter(`fuzz on ${device}`, (r) => buildPlan(r))),
    );
    expectMemoryBack(before);
    if (!PATH) expect(stats.runs, 'graphs checked').toBe(RUNS);
    const ops = [...stats.ops].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
    console.log(
      `fuzz on ${device}: ${stats.runs} graphs, ${stats.steps} steps, at most ${(100 * stats.used).toFixed(1)}% of a tolerance used; ` +
        `gradients compared in ${stats.gradsCompared}` +
        (stats.ambiguous.length > 0 ? `, skipped in ${stats.ambiguous.length} (a kink crossed: ${stats.ambiguous.slice(0, 3).join('; ')})` : '') +
        `\n  ops: ${ops}`,
    );
    if (!PATH) expect(stats.gradsCompared, 'gradients compared in too few runs').toBeGreaterThanOrEqual(Math.ceil((2 * stats.runs) / 3));
  }, timeoutFor(RUNS));
});

// ---------------------------------------------------------------------------------------------

/**
 * Central differences of the float64 loss along random directions d (each leaf's part of d drawn
 * from [-1, 1]): (L(x + h·d) − L(x − h·d)) / 2h vs Σ ∇L·d. With steps h and h/2, the Richardson
 * combination (4·D(h/2) − D(h))/3 has error O(h⁴) and |D(h) − D(h/2)| estimates the error of D(h/2)
 * itself; the bound allows a multiple of that estimate plus float64 roundoff of the loss terms.
 */
describe('fuzz: CPU float64 gradients vs central finite differences (smooth ops)', () => {
  const runs = Math.max(20, Math.round(RUNS / 2));
  it(`analytic gradients match finite differences (${runs} graphs, seed ${SEED})`, async () => {
    const before = memory();
    const planOf = (r: Recipe): Plan => buildPlan(r, true);
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(recipeArb({ ops: SMOOTH_MACROS }), async (recipe) => {
        const plan = planOf(recipe);
        checked++;
        if (!plan.smooth) throw new Error('the smooth-op generator produced a kinked op');
        const ref = await runPlan(plan, { device: 'cpu', dtype: 'float64' });
        const leafIds = [...ref.grads.keys()];
        const rnd = prng(recipe.seed ^ 0x1234567);
        for (let dir = 0; dir < 3; dir++) {
          const d = new Map(leafIds.map((i) => [i, Float64Array.from({ length: sizeOf(plan.info[i]!.shape) }, () => -1 + 2 * rnd())]));
          let analytic = 0;
          let mass = 0; // Σ |∂L/∂x · d|: the scale of the directional derivative's terms
          for (const i of leafIds) {
            const g = ref.grads.get(i)!;
            const di = d.get(i)!;
            for (let j = 0; j < g.length; j++) {
              analytic += g[j]! * di[j]!;
              mass += Math.abs(g[j]! * di[j]!);
            }
          }
          const lossAt = async (t: number): Promise<number> => {
            const leaves = new Map(leafIds.map((i) => [i, Float64Array.from(ref.values[i]!, (x, j) => x + t * d.get(i)![j]!)]));
            return (await runPlan(plan, { device: 'cpu', dtype: 'float64', grad: false, leaves })).loss;
          };
          const h = 1e-4;
          const dh = ((await lossAt(h)) - (await lossAt(-h))) / (2 * h);
          const dh2 = ((await lossAt(h / 2)) - (await lossAt(-h / 2))) / h;
          const richardson = (4 * dh2 - dh) / 3;
          const roundoff = (1e-13 * (Math.abs(ref.loss) + mass)) / h;
          const limit = 1e-7 * mass + 4 * Math.abs(dh - dh2) + roundoff;
          if (!(Math.abs(richardson - analytic) <= limit)) {
            throw new Error(
              `direction ${dir}: Σ ∇L·d = ${analytic}, finite differences give ${richardson} (h ${h}: ${dh}, h/2: ${dh2}); ` +
                `|diff| ${Math.abs(richardson - analytic).toExponential(3)} > ${limit.toExponential(3)} (Σ|∇L·d| ${mass.toExponential(3)})`,
            );
          }
        }
      }),
      runParams(runs, reporter('finite differences', planOf)),
    );
    expectMemoryBack(before);
    if (!PATH) expect(checked, 'graphs checked').toBe(runs);
  }, timeoutFor(runs));
});

// ---------------------------------------------------------------------------------------------

/**
 * Bugs the fuzzer found, each kept as a focused test of the correct behaviour (failing until fixed).
 *
 * 1. The CPU's tanh-approximation gelu loses all relative accuracy for x ≲ −5 (forward and
 *    gradient, float64 and float32). Shrunk counterexample (WEBGRAD_FUZZ_SEED=5, graph 173 of 2000):
 *      v0: [1] = leaf large, values [-8.15532684]       (float32 −8.155326843261719)
 *      v1: [1] = gelu(v0, 'tanh')
 *      v2: [1] = add(v1, 0.5)
 *    webgpu: v1 = −2.824346960712519e-22 (right: −2.8243472e-22); CPU float64 reference: 0.
 *    And (WEBGRAD_FUZZ_SEED=20240917, graph 1228 of 2000): v1 = pow(v0, 3) with v0 = −1.92999196,
 *    v2 = gelu(v1, 'tanh'): webgpu −2.296023e-16 (right: −2.2960258e-16), CPU −3.990678e-16.
 *    Cause: src/backend/cpu/unary.ts computes UNARY.geluTanh as 0.5·x·(1 + tanh u) and
 *    ACTIVATION_DERIVATIVE.geluTanh from 0.5·(1 + tanh u) and 1 − tanh²u, which cancel to 0 (or
 *    to float64 rounding noise) once tanh u rounds near −1. The WGSL (shaders/elementwise.ts) uses
 *    0.5·(1 + tanh u) = sigmoid(2u) and is right; the CPU, the reference every suite trusts, is not.
 *    Fix: geluTanh(x) = x·σ(2u); derivative σ(2u) + 2x·σ(2u)·σ(−2u)·u'(x), u' = c·(1 + 3k·x²).
 */
describe('fuzz findings', () => {
  it('CPU gelu(x, "tanh") and its gradient keep their relative accuracy for very negative x', async () => {
    // Exact values of x·σ(2u), u = √(2/π)·(x + 0.044715·x³), and its derivative (mpmath, 50 digits).
    const cases: [x: number, y: number, dy: number][] = [
      [-5, -2.291796196629506e-7, -1.5463619875325946e-6],
      [-6, -8.439646700762297e-11, -7.709973930953696e-10],
      [-7.188967161658672, -2.296025839505648e-16, -2.87457501655475e-15],
      [-8.155326843261719, -2.824347216970204e-22, -4.437173324192496e-21],
    ];
    const xs = tensor(Float64Array.from(cases, (c) => c[0]), { dtype: 'float64', requiresGrad: true });
    try {
      const y = gelu(xs, 'tanh');
      y.backward(onesLike(y));
      const got = Array.from(await y.data());
      const grad = Array.from(await xs.grad!.data());
      y.dispose();
      const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);
      cases.forEach(([x, yExact, dyExact], i) => {
        expect(rel(got[i]!, yExact), `gelu(${x}, 'tanh') = ${got[i]}, exact ${yExact}`).toBeLessThan(1e-12);
        expect(rel(grad[i]!, dyExact), `gelu'(${x}) (tanh approximation) = ${grad[i]}, exact ${dyExact}`).toBeLessThan(1e-12);
      });
    } finally {
      xs.dispose();
    }
  });
});
