/**
 * The op suite's parity subset, run IN THE PAGE in the system Chromium (playwright-core), WebGPU
 * (SwiftShader without a GPU) against the CPU backend, one test per op. Under CI (CI=true) a page
 * without a WebGPU adapter FAILS these tests; elsewhere they are skipped with a loud banner. The
 * server listens on 127.0.0.1 only. (The lab page's tests are in webgpu-browser.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createServer } from 'vite';
import type { ViteDevServer } from 'vite';
import { launchChromium, noAdapter, repoRoot, requireAdapter, tail, webgradSource } from './harness.js';
import type { LaunchedBrowser } from './harness.js';
import { PARITY_CASES } from './parity-cases.js';
import type { ParityReport } from './parity-cases.js';

function serverUrl(urls: { local: string[] } | null, what: string): string {
  const url = urls?.local.find((u) => u.includes('127.0.0.1'));
  if (!url) throw new Error(`${what}: the server has no 127.0.0.1 address (${JSON.stringify(urls)})`);
  return url;
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
