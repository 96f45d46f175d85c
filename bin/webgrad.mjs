#!/usr/bin/env node
// The `webgrad` command. In a checkout (src/ present) it runs the TypeScript source through tsx, so
// a stale dist/ can never shadow the code; an installed package runs the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
let mod;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(pathToFileURL(source).href);
} else {
  mod = await import(pathToFileURL(join(root, 'dist', 'src', 'cli', 'main.js')).href);
}
try {
  process.exitCode = await mod.main(process.argv.slice(2));
} catch (e) {
  // Errors webgrad raises on purpose carry a complete message; anything else keeps its stack.
  if (e && e.name && /Webgrad|NonFinite/.test(e.name)) console.error(`error: ${e.message}`);
  // A file-system failure the CLI did not word itself (it has a code such as ENOSPC): still one line, no stack.
  else if (e && typeof e.code === 'string' && typeof e.syscall === 'string') console.error(`error: ${e.syscall}${e.path ? ` ${e.path}` : ''}: ${e.message}`);
  else console.error(e);
  process.exitCode = 1;
}
