#!/usr/bin/env node
// The `webgrad` command. Runs the compiled CLI when built (dist/), else the TypeScript source via tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'src', 'cli', 'main.js');
let mod;
if (existsSync(built)) {
  mod = await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
try {
  process.exitCode = await mod.main(process.argv.slice(2));
} catch (e) {
  // Errors webgrad raises on purpose carry a complete message; anything else keeps its stack.
  console.error(e && e.name && /Webgrad|NonFinite/.test(e.name) ? `error: ${e.message}` : e);
  process.exitCode = 1;
}
