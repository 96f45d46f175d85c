/**
 * The browser-test harness: the system Chromium (Debian's /usr/bin/chromium) driven by
 * playwright-core with WebGPU enabled (SwiftShader when there is no GPU), a fresh profile per
 * launch, and Vite servers on 127.0.0.1 started and stopped by the tests. Never downloads a browser.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const webgradSource = join(repoRoot, 'src', 'index.ts');

/** Under CI (CI=true) or WEBGRAD_REQUIRE_WEBGPU=1 a page without a WebGPU adapter FAILS the tests. */
export const requireWebGPU = process.env.CI === 'true' || process.env.WEBGRAD_REQUIRE_WEBGPU === '1';

export const CHROMIUM_FLAGS = [
  '--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * WEBGRAD_CHROMIUM_NO_WEBGPU=1 launches without --enable-unsafe-webgpu, so the pages find no
 * adapter: a way to check that the tests fail under CI=true rather than skip.
 */
function flags(): string[] {
  return process.env.WEBGRAD_CHROMIUM_NO_WEBGPU === '1' ? CHROMIUM_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu') : CHROMIUM_FLAGS;
}

/** The Chromium to drive: $CHROMIUM_PATH, else `chromium` on the PATH, else the usual system paths. */
export function findChromium(): string | null {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'chromium'));
  const candidates = [process.env.CHROMIUM_PATH, ...onPath, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((p): p is string => !!p && existsSync(p)) ?? null;
}

export interface LaunchedBrowser {
  context: BrowserContext;
  /** Console lines and page errors of every page, for failure messages. */
  log: string[];
  close(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedBrowser> {
  const executablePath = findChromium();
  if (!executablePath) {
    throw new Error('browser tests: no Chromium found (tried $CHROMIUM_PATH, /usr/bin/chromium); on Debian: apt-get install -y --no-install-recommends chromium');
  }
  const profile = mkdtempSync(join(tmpdir(), 'webgrad-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: flags(),
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });
  const log: string[] = [];
  context.on('page', (p) => watch(p, log));
  return {
    context,
    log,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function watch(page: Page, log: string[]): void {
  page.on('console', (m) => log.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
}

/** The last lines of the browser log, for an assertion message. */
export function tail(log: string[], n = 20): string {
  return log.slice(-n).join('\n');
}

/** Message for a page without an adapter; prints a loud banner when WebGPU is not required. */
export function noAdapter(what: string, reason: string | null): string {
  const message = `${what}: the page found no WebGPU adapter (${reason ?? 'no reason given'})`;
  if (!requireWebGPU) {
    const bar = '!'.repeat(78);
    console.warn(`\n${bar}\n!! Browser WebGPU tests NOT RUN: ${message}.\n!! Set CI=true or WEBGRAD_REQUIRE_WEBGPU=1 to make this a failure.\n${bar}\n`);
  }
  return message;
}

/** In a test that needs WebGPU: fails under CI (CI=true), skips visibly elsewhere. */
export function requireAdapter(message: string | null, skip: () => void): void {
  if (message === null) return;
  if (requireWebGPU) throw new Error(`${message}; WebGPU is required here (CI=true)`);
  skip();
}
