/**
 * Browser tests in the system Chromium (playwright-core), with WebGPU on the machine's adapter
 * (SwiftShader without a GPU):
 *  - the op suite's parity subset runs IN THE PAGE, WebGPU against the CPU backend, one test per op;
 *  - the demo (built by Vite, served by `vite preview`) trains a few steps: the loss falls, the
 *    charts draw, the adapter is named; without navigator.gpu it says it falls back to the CPU;
 *  - the demo bundle holds no Node-only import.
 * Under CI (CI=true) a page without a WebGPU adapter FAILS these tests; elsewhere they are skipped
 * with a loud banner. Servers listen on 127.0.0.1 only and are stopped at the end.
 *
 * WEBGRAD_UPDATE_SCREENSHOT=1 (npm run screenshot) also copies the demo screenshot to
 * examples/browser/screenshot.png; it is always written to out/browser/demo.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, createServer, preview } from 'vite';
import type { PreviewServer, ViteDevServer } from 'vite';
import type { Page } from 'playwright-core';
import { launchChromium, repoRoot, requireWebGPU, tail, webgradSource } from './harness.js';
import type { LaunchedBrowser } from './harness.js';
import { PARITY_CASES } from './parity-cases.js';
import type { ParityReport } from './parity-cases.js';

const DEMO_STEPS = 12;
const DEMO_BATCH = 64;

function serverUrl(urls: { local: string[] } | null, what: string): string {
  const url = urls?.local.find((u) => u.includes('127.0.0.1'));
  if (!url) throw new Error(`${what}: the server has no 127.0.0.1 address (${JSON.stringify(urls)})`);
  return url;
}

/** Message for a page without an adapter; prints the banner when WebGPU is not required. */
function noAdapter(what: string, reason: string | null): string {
  const message = `${what}: the page found no WebGPU adapter (${reason ?? 'no reason given'})`;
  if (!requireWebGPU) {
    const bar = '!'.repeat(78);
    console.warn(`\n${bar}\n!! Browser WebGPU tests NOT RUN: ${message}.\n!! Set CI=true or WEBGRAD_REQUIRE_WEBGPU=1 to make this a failure.\n${bar}\n`);
  }
  return message;
}

/** In a test that needs WebGPU: fails under CI (CI=true), skips visibly elsewhere. */
function requireAdapter(message: string | null, skip: () => void): void {
  if (message === null) return;
  if (requireWebGPU) throw new Error(`${message}; WebGPU is required here (CI=true)`);
  skip();
}

let browser: LaunchedBrowser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe('browser: op parity in the page, WebGPU vs CPU [webgpu]', () => {
  let server: ViteDevServer;
  let report: ParityReport;
  /** Why the WebGPU tests cannot run, or null. */
  let missing: string | null = null;

  beforeAll(async () => {
    server = await createServer({
      configFile: false,
      root: join(repoRoot, 'test', 'browser', 'pages'),
      logLevel: 'warn',
      resolve: { alias: [{ find: /^webgrad$/, replacement: webgradSource }] },
      server: { host: '127.0.0.1', port: 0, strictPort: false, fs: { allow: [repoRoot] } },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    await server.listen();
    const page = await browser.context.newPage();
    await page.goto(`${serverUrl(server.resolvedUrls, 'parity page')}parity.html`);
    await page.waitForFunction(() => (window as unknown as { parityReport?: ParityReport }).parityReport?.done === true, null, { timeout: 150_000 });
    report = await page.evaluate(() => (window as unknown as { parityReport: ParityReport }).parityReport);
    await page.close();
    if (report.error) throw new Error(`parity page failed: ${report.error}\n${tail(browser.log)}`);
    if (!report.adapter) missing = noAdapter('parity page', report.noWebGPU);
    else console.log(`browser parity: adapter ${report.adapter}; ${report.results.length} ops in ${report.seconds.toFixed(1)} s`);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  });

  it('finds a WebGPU adapter in the page', ({ skip }) => {
    requireAdapter(missing, skip);
    expect(report.adapter).toMatch(/\S/);
  });

  for (const name of PARITY_CASES) {
    it(name, ({ skip }) => {
      requireAdapter(missing, skip);
      const r = report.results.find((x) => x.name === name);
      expect(r, `no result for '${name}'`).toBeDefined();
      expect(r!.pass, `${name}: ${r!.detail}`).toBe(true);
    });
  }
});

describe('browser: the demo page [webgpu]', () => {
  let server: PreviewServer;
  let outDir: string;
  let url: string;
  /** The page the training test leaves open for the benchmark test. */
  let page: Page | null = null;
  let trained = false;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'webgrad-demo-'));
    await build({
      configFile: join(repoRoot, 'examples', 'browser', 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true },
    });
    server = await preview({
      configFile: join(repoRoot, 'examples', 'browser', 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir },
      preview: { host: '127.0.0.1', port: 0, strictPort: false },
    });
    url = serverUrl(server.resolvedUrls, 'demo preview');
  }, 120_000);

  afterAll(async () => {
    await page?.close();
    await server?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('bundles with no Node-only import (no node:*, no Dawn) and ships digits.bin', () => {
    const assets = readdirSync(join(outDir, 'assets')).filter((f) => f.endsWith('.js'));
    expect(assets.length).toBeGreaterThan(0);
    for (const f of assets) {
      const code = readFileSync(join(outDir, 'assets', f), 'utf8');
      // Static imports and literal dynamic imports only: the Node path's import(variable) is invisible to bundlers.
      const nodeImport = /(?:from\s*|import\s*\(\s*|import\s*)["'`](?:node:[a-z_/]+|fs|path|module|zlib|url|os|webgpu)["'`]/.exec(code);
      expect(nodeImport?.[0] ?? null, `${f} imports a Node-only module`).toBeNull();
    }
    expect(readdirSync(outDir)).toContain('digits.bin');
  });

  it(`trains ${DEMO_STEPS} steps at batch ${DEMO_BATCH}: the loss falls, the charts draw, the adapter is named`, async ({ skip }) => {
    const p = await browser.context.newPage();
    page = p;
    {
      await p.goto(`${url}?batch=${DEMO_BATCH}&steps=${DEMO_STEPS}&healthEvery=5&seed=1`);
      await p.waitForFunction(() => (window as unknown as { webgradDemo?: { ready: boolean; error: string | null } }).webgradDemo?.ready || !!(window as unknown as { webgradDemo?: { error: string | null } }).webgradDemo?.error, null, { timeout: 60_000 });
      let demo = await demoState(p);
      expect(demo.error, tail(browser.log)).toBeNull();
      if (demo.backend !== 'webgpu') requireAdapter(noAdapter('demo page', demo.fallbackReason), skip);
      await expect.poll(() => p.locator('#adapter').textContent()).toBe(demo.adapter);
      await p.click('#start');
      await p.waitForFunction(
        () => {
          const d = (window as unknown as { webgradDemo: { running: boolean; step: number; error: string | null; test: unknown[] } }).webgradDemo;
          return !!d.error || (!d.running && d.test.length > 0);
        },
        null, { timeout: 120_000 },
      );
      demo = await demoState(p);
      expect(demo.error, tail(browser.log)).toBeNull();
      expect(demo.step).toBe(DEMO_STEPS);
      const l = demo.losses;
      expect(l).toHaveLength(DEMO_STEPS);
      for (const v of l) expect(Number.isFinite(v)).toBe(true);
      const first = (l[0]! + l[1]! + l[2]!) / 3;
      const last = (l[l.length - 1]! + l[l.length - 2]! + l[l.length - 3]!) / 3;
      expect(last, `losses ${l.map((v) => v.toFixed(3)).join(', ')}`).toBeLessThan(first * 0.9);
      // Test metrics, gradient health and predictions were produced.
      expect(demo.test[0]!.accuracy).toBeGreaterThan(0.2);
      expect(demo.health?.layers.length).toBe(3);
      expect(demo.gridCorrect).not.toBeNull();
      expect(await p.locator('.health-table tbody tr').count()).toBe(3);
      expect(await p.locator('.digit.right, .digit.wrong').count()).toBe(40);
      // Both charts drew lines: their canvases hold many non-background pixels.
      const inked = await p.evaluate(() => Array.from(document.querySelectorAll<HTMLCanvasElement>('#loss-chart canvas, #acc-chart canvas')).map((c) => {
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3]! > 0) n++;
        return n;
      }));
      expect(inked).toHaveLength(2);
      for (const n of inked) expect(n).toBeGreaterThan(500);
      trained = true;
    }
  }, 180_000);

  it('runs the benchmark panel on WebGPU and on the CPU backend, then takes the screenshot', async ({ skip }) => {
    if (!trained || !page) {
      if (requireWebGPU) throw new Error('the demo did not train on WebGPU (see the test before), so the benchmarks cannot run; WebGPU is required here (CI=true)');
      skip();
    }
    await page!.click('#bench-run');
    await page!.waitForFunction(() => {
      const d = (window as unknown as { webgradDemo: { bench: unknown; error: string | null } }).webgradDemo;
      return !!d.error || !!d.bench;
    }, null, { timeout: 120_000 });
    const demo = await demoState(page!);
    expect(demo.error, tail(browser.log)).toBeNull();
    expect(demo.bench).toHaveLength(3);
    for (const row of demo.bench!) {
      for (const device of ['webgpu', 'cpu'] as const) {
        const r = row.results[device];
        expect(r, `${row.workload} on ${device}`).toBeDefined();
        expect(r!.rate).toBeGreaterThan(0);
        expect(Number.isFinite(r!.ms)).toBe(true);
      }
    }
    expect(await page!.locator('.bench-table tbody tr').count()).toBe(3);
    mkdirSync(join(repoRoot, 'out', 'browser'), { recursive: true });
    const shot = join(repoRoot, 'out', 'browser', 'demo.png');
    await page!.screenshot({ path: shot, fullPage: true });
    if (process.env.WEBGRAD_UPDATE_SCREENSHOT === '1') copyFileSync(shot, join(repoRoot, 'examples', 'browser', 'screenshot.png'));
  }, 120_000);

  it('says it falls back to the CPU backend when navigator.gpu is missing', async () => {
    const page = await browser.context.newPage();
    try {
      // A string, not a function: a transpiler's helpers (e.g. __name) would not exist in the page.
      await page.addInitScript({ content: "Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });" });
      await page.goto(url);
      await page.waitForFunction(() => (window as unknown as { webgradDemo?: { ready: boolean; error: string | null } }).webgradDemo?.ready || !!(window as unknown as { webgradDemo?: { error: string | null } }).webgradDemo?.error, null, { timeout: 60_000 });
      const demo = await demoState(page);
      expect(demo.error).toBeNull();
      expect(demo.backend).toBe('cpu');
      const banner = (await page.locator('#backend').textContent()) ?? '';
      expect(banner).toMatch(/No WebGPU: training on the CPU backend/);
      expect(banner).toMatch(/navigator\.gpu is missing/);
      expect(await page.locator('#backend.fallback').count()).toBe(1);
    } finally {
      await page.close();
    }
  }, 120_000);
});

interface DemoSnapshot {
  ready: boolean;
  backend: 'webgpu' | 'cpu' | null;
  adapter: string | null;
  fallbackReason: string | null;
  step: number;
  losses: number[];
  test: { step: number; loss: number; accuracy: number }[];
  health: { layers: unknown[] } | null;
  gridCorrect: number | null;
  bench: { workload: string; results: Partial<Record<'webgpu' | 'cpu', { ms: number; rate: number }>> }[] | null;
  error: string | null;
}

function demoState(page: Page): Promise<DemoSnapshot> {
  return page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { webgradDemo: unknown }).webgradDemo)) as DemoSnapshot);
}
