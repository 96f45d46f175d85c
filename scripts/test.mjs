// Runs the whole vitest suite and ends with one plain summary line ("tests: N passed, N failed, N skipped")
// that CI reads, plus whether the WebGPU suite really ran. Extra arguments go to vitest.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'webgrad-test-'));
const report = join(dir, 'report.json');
const run = spawnSync(
  'npx',
  ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
let passed = 0, failed = 0, skipped = 0, webgpuPassed = 0;
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  for (const file of json.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'passed') {
        passed++;
        if ((t.ancestorTitles ?? []).some((a) => a.includes('[webgpu]')) || /webgpu/i.test(file.name)) webgpuPassed++;
      } else if (t.status === 'failed') failed++;
      else skipped++;
    }
    // A file that failed to load (syntax error, failing beforeAll) has no assertions: count it.
    if ((file.assertionResults ?? []).length === 0 && file.status === 'failed') failed++;
  }
} catch (e) {
  console.error(`test: could not read the vitest report (${e instanceof Error ? e.message : e})`);
  failed++;
}
rmSync(dir, { recursive: true, force: true });
console.log(webgpuPassed > 0 ? `WebGPU: ${webgpuPassed} tests passed on a real WebGPU adapter` : 'WebGPU: NO WebGPU test ran on this machine (CPU suite only)');
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(run.status !== 0 || failed > 0 ? 1 : 0);
