/**
 * The README's minimal Vite page (examples/use/vite-app) builds with Vite, its bundle holds no
 * Node-only import (no Dawn, no node:*), and it trains in the system Chromium: the page shows the
 * backend, a small loss and the fitted weight printed as a tensor. The backend may be WebGPU
 * (SwiftShader) or the CPU fallback; the page must work on either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, preview } from 'vite';
import type { PreviewServer } from 'vite';
import { launchChromium, repoRoot, tail } from './harness.js';
import type { LaunchedBrowser } from './harness.js';

const config = join(repoRoot, 'examples', 'use', 'vite-app', 'vite.config.ts');

describe('the minimal Vite page of the README', () => {
  let outDir: string;
  let server: PreviewServer;
  let browser: LaunchedBrowser;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'webgrad-use-vite-'));
    await build({ configFile: config, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
    server = await preview({ configFile: config, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('bundles without any Node-only import', () => {
    const js = readdirSync(join(outDir, 'assets')).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(outDir, 'assets', f), 'utf8')).join('\n');
    expect(js.length).toBeGreaterThan(10_000);
    expect(js).not.toMatch(/from\s*["'](webgpu|node:[a-z]+)["']/);
    expect(js).not.toMatch(/import\(\s*["'](webgpu|node:[a-z]+)["']\s*\)/);
  });

  it('trains in Chromium and prints the fitted weight', async () => {
    const url = server.resolvedUrls?.local.find((u) => u.includes('127.0.0.1'));
    expect(url).toBeDefined();
    const page = await browser.context.newPage();
    try {
      await page.goto(url!);
      await page.waitForFunction(() => /loss:|error:/.test(document.querySelector('#out')?.textContent ?? ''), null, { timeout: 120_000 });
      const text = (await page.textContent('#out')) ?? '';
      expect(text, tail(browser.log)).toMatch(/^backend: (webgpu|cpu)/);
      expect(Number(/loss: ([\d.e-]+)/.exec(text)?.[1])).toBeLessThan(1e-3);
      const w = /weight: tensor\(\[\[\s*([-\d.]+)\]\], shape=\[1, 1\], dtype=float32, device='(webgpu|cpu)', requiresGrad=true\)/.exec(text);
      expect(w, text).not.toBeNull();
      expect(Number(w![1])).toBeCloseTo(2, 2);
    } finally {
      await page.close();
    }
  });
});
