/**
 * Only for running this example inside the webgrad checkout: `webgrad` resolves to the library's
 * source. A project that installed webgrad from npm needs no Vite config at all.
 */
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  resolve: { alias: [{ find: /^webgrad$/, replacement: fileURLToPath(new URL('../../../src/index.ts', import.meta.url)) }] },
  build: { target: 'es2022' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
