/**
 * The browser demo (Vite). `webgrad` resolves to the library's TypeScript source, so the demo
 * needs no build of the library first; a bundler using the published package resolves it through
 * package.json's exports map instead. Both servers listen on 127.0.0.1 only.
 */
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
export const webgradSource = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  resolve: { alias: [{ find: /^webgrad$/, replacement: webgradSource }] },
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1', port: 4173, strictPort: false },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1024 },
});
