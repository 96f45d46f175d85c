/**
 * The lab page (built by Vite, in the system Chromium with WebGPU on SwiftShader):
 *  - kernel warm-up: when a configuration is built, the page runs one step (and its evaluations) of
 *    a throwaway copy under precompile, so every pipeline is created asynchronously before the run:
 *    the real first steps create no pipeline at all (counted by wrapping GPUDevice's two pipeline
 *    constructors). With precompile=0 the same first steps do create pipelines (the check can fail).
 *    Input delay, animation-frame gaps and long tasks during the warm-up and the first steps are
 *    measured and printed for the record; timing is never a pass condition.
 *  - the Model knob trains the CNN (conv-BN-ReLU-pool ×2, as `webgrad train --model cnn`) on the
 *    digits, on WebGPU and on the CPU fallback, with no console errors and accuracy above chance.
 * Under CI (CI=true) a page without a WebGPU adapter FAILS the WebGPU tests; elsewhere they are
 * skipped with a loud banner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, noAdapter, requireAdapter, tail } from './harness.js';
import type { LaunchedBrowser } from './harness.js';
import { serveLab } from './lab-server.js';
import type { LabServer } from './lab-server.js';

// A string, not a function: a transpiler's helpers would not exist in the page. Counts the pipelines
// the page creates (sync and async), records each keydown's delay and each animation-frame gap.
const PROBE = `(() => {
  const m = window.__probe = { sync: 0, async: 0, keys: [], frames: [], longTasks: [] };
  if (self.GPUDevice) {
    const s = GPUDevice.prototype.createComputePipeline, a = GPUDevice.prototype.createComputePipelineAsync;
    GPUDevice.prototype.createComputePipeline = function (...x) { m.sync++; return s.apply(this, x); };
    GPUDevice.prototype.createComputePipelineAsync = function (...x) { m.async++; return a.apply(this, x); };
  }
  document.addEventListener('keydown', (e) => m.keys.push(performance.now() - e.timeStamp), { capture: true });
  let last = 0;
  const frame = (t) => { if (last) m.frames.push(t - last); last = t; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  try { new PerformanceObserver((l) => { for (const e of l.getEntries()) m.longTasks.push(e.duration); }).observe({ type: 'longtask' }); } catch {}
})();`;

const NO_GPU = "Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });";

interface Probe {
  sync: number;
  async: number;
  keys: number[];
  frames: number[];
  longTasks: number[];
}

interface Lab {
  ready: boolean;
  backend: 'webgpu' | 'cpu' | null;
  fallbackReason: string | null;
  running: boolean;
  step: number;
  builds: number;
  losses: (number | null)[];
  test: { step: number; loss: number; accuracy: number }[];
  histogramLayers: number;
  error: string | null;
  warmUp: { pipelines: number; dispatchesSkipped: number; ms: number } | null;
}

const lab = (page: Page): Promise<Lab> =>
  page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { webgradLab: unknown }).webgradLab)) as Lab);

/** Reads the probe and starts a fresh one (counters and samples back to zero). */
const takeProbe = (page: Page): Promise<Probe> =>
  page.evaluate(() => {
    const w = window as unknown as { __probe: Probe };
    const m = w.__probe;
    const out = { ...m, keys: [...m.keys], frames: [...m.frames], longTasks: [...m.longTasks] };
    Object.assign(m, { sync: 0, async: 0, keys: [], frames: [], longTasks: [] });
    return out;
  });

async function open(page: Page, url: string): Promise<Lab> {
  await page.goto(url);
  await page.waitForFunction(() => {
    const s = (window as unknown as { webgradLab?: { ready: boolean; error: string | null } }).webgradLab;
    return !!s && (s.ready || !!s.error);
  }, null, { timeout: 120_000 });
  const s = await lab(page);
  expect(s.error, tail(browser.log)).toBeNull();
  return s;
}

/** Presses a key every ~25 ms until `until` settles, so input delay is sampled throughout. */
async function pressWhile<T>(page: Page, until: Promise<T>): Promise<T> {
  let done = false;
  const keys = (async () => {
    while (!done) {
      await page.keyboard.press('Shift');
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  try {
    return await until;
  } finally {
    done = true;
    await keys;
  }
}

function summary(p: Probe, ms: number): string {
  const max = (v: number[]): string => (v.length ? Math.max(...v).toFixed(0) : '-');
  return `${ms.toFixed(0)} ms; pipelines created sync ${p.sync}, async ${p.async}; key delay max ${max(p.keys)} ms over ${p.keys.length} keys; ` +
    `frame gap max ${max(p.frames)} ms over ${p.frames.length} frames; long tasks ${p.longTasks.length} (longest ${max(p.longTasks)} ms)`;
}

let browser: LaunchedBrowser;
let server: LabServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), serveLab()]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('browser: the lab compiles a configuration before running it [webgpu]', () => {
  /**
   * A page on config A trains, then a knob moves it to config B (new kernels: GELU, batch norm,
   * dropout, momentum); returns what the probe saw during B's build and during B's first 4 steps.
   */
  async function newConfiguration(query: string): Promise<{ lab: Lab; build: Probe; buildMs: number; steps: Probe; stepsMs: number } | null> {
    const page = await browser.context.newPage();
    try {
      await page.addInitScript({ content: PROBE });
      let s = await open(page, `${server.url}?data=circles&depth=3&width=8&act=relu&opt=adam&${query}`);
      if (s.backend !== 'webgpu') return null;
      await page.getByRole('button', { name: 'Start', exact: true }).click();
      await page.waitForFunction(() => {
        const l = (window as unknown as { webgradLab: Lab }).webgradLab;
        return !!l.error || (!l.running && l.step >= 4);
      }, null, { timeout: 120_000 });
      // Config B, built while idle (the knob changes rebuild; the warm-up is part of the build).
      const builds = (await lab(page)).builds;
      await takeProbe(page);
      let t0 = Date.now();
      await pressWhile(page, (async () => {
        // All four knobs at once, committed with one change event: one rebuild.
        await page.evaluate(() => {
          (document.getElementById('k-batchNorm') as HTMLInputElement).checked = true;
          (document.getElementById('k-activation') as HTMLSelectElement).value = 'gelu';
          (document.getElementById('k-dropout') as HTMLInputElement).value = '0.1';
          (document.getElementById('k-optimizer') as HTMLSelectElement).value = 'momentum';
          document.getElementById('knobs')!.dispatchEvent(new Event('change'));
        });
        await page.waitForFunction((b) => {
          const l = (window as unknown as { webgradLab: Lab }).webgradLab;
          return !!l.error || (l.builds > b && /Press Start/.test(document.getElementById('status')!.textContent ?? ''));
        }, builds, { timeout: 120_000, polling: 50 });
      })());
      const buildMs = Date.now() - t0;
      const build = await takeProbe(page);
      // B's first steps.
      s = await lab(page);
      expect(s.error, tail(browser.log)).toBeNull();
      expect(s.step).toBe(0);
      expect((s as Lab & { config: { activation: string; optimizer: string; batchNorm: boolean } }).config).toMatchObject({ activation: 'gelu', optimizer: 'momentum', batchNorm: true });
      t0 = Date.now();
      await pressWhile(page, (async () => {
        await page.getByRole('button', { name: 'Start', exact: true }).click();
        await page.waitForFunction(() => {
          const l = (window as unknown as { webgradLab: Lab }).webgradLab;
          return !!l.error || (!l.running && l.step >= 4);
        }, null, { timeout: 120_000, polling: 50 });
      })());
      const stepsMs = Date.now() - t0;
      const steps = await takeProbe(page);
      s = await lab(page);
      expect(s.error, tail(browser.log)).toBeNull();
      return { lab: s, build, buildMs, steps, stepsMs };
    } finally {
      await page.close();
    }
  }

  it('the first steps of a new configuration create no pipeline (all were compiled asynchronously before); without the warm-up they do', async ({ skip }) => {
    const warm = await newConfiguration('steps=4');
    if (!warm) requireAdapter(noAdapter('lab page', 'no WebGPU adapter'), skip);
    const cold = await newConfiguration('steps=4&precompile=0');
    expect(cold).not.toBeNull();
    // With the warm-up: the build compiled B's pipelines asynchronously, and the run created none.
    expect(warm!.lab.warmUp).not.toBeNull();
    expect(warm!.lab.warmUp!.pipelines).toBeGreaterThan(0);
    expect(warm!.build.async).toBeGreaterThan(0);
    expect([warm!.steps.sync, warm!.steps.async]).toEqual([0, 0]);
    // Without it: no async compilation, and the first steps create pipelines synchronously.
    expect(cold!.lab.warmUp).toBeNull();
    expect(cold!.build.async).toBe(0);
    expect(cold!.steps.sync).toBeGreaterThan(0);
    console.log(
      'lab on WebGPU, a new configuration (circles, 3×8, GELU + batch norm + dropout + momentum):\n' +
        `  with precompile:    build ${summary(warm!.build, warm!.buildMs)}\n` +
        `                      first 4 steps ${summary(warm!.steps, warm!.stepsMs)}\n` +
        `                      warm-up: ${warm!.lab.warmUp!.pipelines} pipelines, ${warm!.lab.warmUp!.dispatchesSkipped} dispatches skipped, ${warm!.lab.warmUp!.ms.toFixed(0)} ms\n` +
        `  without (precompile=0): build ${summary(cold!.build, cold!.buildMs)}\n` +
        `                      first 4 steps ${summary(cold!.steps, cold!.stepsMs)}`,
    );
  }, 300_000);
});

describe('browser: the lab trains the CNN on the digits', () => {
  for (const backend of ['webgpu', 'cpu'] as const) {
    it(`on ${backend === 'webgpu' ? 'WebGPU' : 'the CPU fallback'}: loss falls, test accuracy above chance, no error`, async ({ skip }) => {
      const page = await browser.context.newPage();
      try {
        if (backend === 'cpu') await page.addInitScript({ content: NO_GPU });
        let s = await open(page, `${server.url}?data=digits&model=cnn&opt=adam&lr=0.003&batch=32&dropout=0&steps=8&evalEvery=8&healthEvery=4`);
        if (backend === 'webgpu' && s.backend !== 'webgpu') requireAdapter(noAdapter('lab page (CNN)', s.fallbackReason), skip);
        expect(s.backend).toBe(backend);
        expect(await page.getByRole('combobox', { name: 'Model', exact: true }).inputValue()).toBe('cnn');
        // The MLP-only knobs are disabled for the CNN (they keep their values).
        expect(await page.getByRole('spinbutton', { name: 'Hidden layers', exact: true }).isDisabled()).toBe(true);
        expect(await page.locator('#model').textContent()).toMatch(/^CNN 28×28: conv3x3\(16\)-bn-relu-maxpool2 → conv3x3\(32\)-bn-relu-maxpool2 → linear\(10\)/);
        await page.getByRole('button', { name: 'Start', exact: true }).click();
        await page.waitForFunction(() => {
          const l = (window as unknown as { webgradLab: Lab }).webgradLab;
          return !!l.error || (!l.running && l.step >= 8);
        }, null, { timeout: 240_000 });
        s = await lab(page);
        expect(s.error, tail(browser.log)).toBeNull();
        const losses = s.losses as number[];
        const why = `losses ${losses.map((v) => v.toFixed(3)).join(', ')}; test ${JSON.stringify(s.test)}`;
        expect(losses.every(Number.isFinite), why).toBe(true);
        expect((losses[5]! + losses[6]! + losses[7]!) / 3, why).toBeLessThan((losses[0]! + losses[1]! + losses[2]!) / 3);
        expect(s.test.at(-1)!.accuracy, why).toBeGreaterThan(0.2);
        // Its two ReLU blocks show as two histogram rows.
        expect(s.histogramLayers).toBe(2);
        console.log(`lab CNN on ${backend}: ${why}${s.warmUp ? `; warm-up ${s.warmUp.pipelines} pipelines in ${s.warmUp.ms.toFixed(0)} ms` : ''}`);
      } finally {
        await page.close();
      }
    }, 300_000);
  }
});

describe('browser: the warm-up and CNN pages log nothing as an error', () => {
  it('no console errors and no page errors', () => {
    const bad = browser.log.filter((l) => l.startsWith('[console.error]') || l.startsWith('[pageerror]'));
    expect(bad, tail(browser.log, 40)).toEqual([]);
  });
});
