/**
 * Builds the lab (examples/browser) with Vite into a temporary folder and serves it with
 * `vite preview` on 127.0.0.1; used by the lab tests and the screenshot script.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, preview } from 'vite';
import { repoRoot } from './harness.js';

export interface LabServer {
  url: string;
  outDir: string;
  close(): Promise<void>;
}

export async function serveLab(): Promise<LabServer> {
  const outDir = mkdtempSync(join(tmpdir(), 'webgrad-lab-'));
  const configFile = join(repoRoot, 'examples', 'browser', 'vite.config.ts');
  await build({ configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const server = await preview({ configFile, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  const url = server.resolvedUrls?.local.find((u) => u.includes('127.0.0.1'));
  if (!url) throw new Error(`lab preview: no 127.0.0.1 address (${JSON.stringify(server.resolvedUrls)})`);
  return {
    url,
    outDir,
    async close() {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}
