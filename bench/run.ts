/**
 * webgrad's benchmark harness: webgrad (WebGPU, and its CPU reference where feasible) against
 * TF.js's WebGPU backend and jax-js, all in this one process on one WebGPU adapter, plus a raw
 * WebGPU floor for the tiny round trip. Writes bench/results/latest.json and latest.md.
 *
 *   npm run bench                       # matmul 256/512/1024, relu 4M, MLP step, tiny add, conv2d, max-pool, CNN step
 *   npm run bench -- --only=conv,cnn    # conv2d fwd and fwd+bwd on two CNN shapes, max-pool, the CNN training step
 *   npm run bench -- --large            # adds matmul 2048 and 4096 (real GPUs)
 *   npm run bench -- --only=matmul,tiny --peers=webgrad,tfjs --reps=3 --out=/tmp/r
 *
 * Flags: --large, --only=matmul,relu,mlp,tiny,conv,cnn, --peers=webgrad,webgrad-cpu,tfjs,jaxjs,raw-webgpu,
 * --sizes=256,512 (matmul sizes), --reps=N (timed repetitions, default 7), --tiny-reps=N (default
 * 200), --timeout=S (per call, default 120), --budget=S (timed part of one case per peer, default 20),
 * --no-cpu (skip the CPU reference's own rows), --quick (fewer repetitions), --out=DIR, --dawn=a,b
 * (options for Dawn's create(), e.g. adapter=NVIDIA), --help.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adapterLog, errorMessage, now, setupWebGPU, withTimeout } from './common.js';
import type { MeasureOptions } from './measure.js';
import type { Peer, PeerId } from './peers/types.js';
import { computeRatios, mergeExternal, PEER_ORDER, renderMarkdown, writeReport, type ExternalResults, type PeerInfo, type Row, type RunReport } from './report.js';
import type { WorkloadContext } from './workloads/context.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const WORKLOADS = ['matmul', 'relu', 'mlp', 'tiny', 'conv', 'cnn'] as const;
type Workload = (typeof WORKLOADS)[number];

interface Args {
  large: boolean;
  only: Workload[];
  peers: PeerId[];
  sizes: number[] | null;
  reps: number;
  tinyReps: number;
  timeoutS: number;
  budgetS: number;
  cpu: boolean;
  quick: boolean;
  out: string;
  dawn: string[];
  external: string[];
}

function usage(): never {
  const text = (process.argv[1] ? '' : '') + [
    'usage: npm run bench -- [flags]',
    '  --large                 add matmul 2048 and 4096 (for real GPUs)',
    `  --only=${WORKLOADS.join(',')}`,
    `  --peers=${PEER_ORDER.join(',')}`,
    '  --sizes=256,512,...     matmul sizes (overrides the defaults and --large)',
    '  --reps=N                timed repetitions per case (default 7)',
    '  --tiny-reps=N           timed round trips for the tiny add (default 200)',
    '  --timeout=S             limit for one call (default 120 s)',
    '  --budget=S              time per peer for the timed part of one case; repetitions are cut (to 3) to fit (default 20 s)',
    '  --no-cpu                leave out the CPU reference rows (it still checks the MLP step)',
    '  --quick                 3 repetitions, 50 tiny round trips',
    '  --out=DIR               where latest.json and latest.md go (default bench/results)',
    '  --dawn=opt,opt          options for Dawn create(), e.g. --dawn=adapter=NVIDIA',
    '  --external=FILE         merge figures measured elsewhere (bench/torch_matmul.py output) as one more column',
  ].join('\n');
  console.log(text);
  process.exit(0);
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    large: false, only: [...WORKLOADS], peers: [...PEER_ORDER], sizes: null, reps: 7, tinyReps: 200,
    timeoutS: 120, budgetS: 20, cpu: true, quick: false, out: join(HERE, 'results'), dawn: [], external: [],
  };
  for (const arg of argv) {
    const [flag, value = ''] = arg.split(/=(.*)/s, 2) as [string, string?];
    const list = (): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);
    const num = (): number => {
      const n = Number(value);
      if (!(n > 0)) throw new Error(`${flag} needs a positive number, got '${value}'`);
      return n;
    };
    switch (flag) {
      case '--large': a.large = true; break;
      case '--only': {
        const bad = list().filter((w) => !(WORKLOADS as readonly string[]).includes(w));
        if (bad.length) throw new Error(`unknown workload(s) ${bad.join(', ')}; choose from ${WORKLOADS.join(', ')}`);
        a.only = list() as Workload[];
        break;
      }
      case '--peers': {
        const bad = list().filter((p) => !(PEER_ORDER as string[]).includes(p));
        if (bad.length) throw new Error(`unknown peer(s) ${bad.join(', ')}; choose from ${PEER_ORDER.join(', ')}`);
        a.peers = list() as PeerId[];
        if (!a.peers.includes('webgrad')) console.warn('note: without the webgrad peer no ratios can be computed');
        break;
      }
      case '--sizes': a.sizes = list().map(Number).filter((n) => Number.isInteger(n) && n > 0); break;
      case '--reps': a.reps = Math.round(num()); break;
      case '--tiny-reps': a.tinyReps = Math.round(num()); break;
      case '--timeout': a.timeoutS = num(); break;
      case '--budget': a.budgetS = num(); break;
      case '--no-cpu': a.cpu = false; break;
      case '--quick': a.quick = true; break;
      case '--out': a.out = resolve(value); break;
      case '--dawn': a.dawn = list(); break;
      case '--external': a.external.push(resolve(value)); break;
      case '--help': case '-h': usage(); break;
      default: throw new Error(`unknown flag ${arg} (try --help)`);
    }
  }
  if (a.quick) {
    a.reps = Math.min(a.reps, 3);
    a.tinyReps = Math.min(a.tinyReps, 50);
    a.budgetS = Math.min(a.budgetS, 4);
  }
  return a;
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: HERE, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || null;
  } catch {
    return null;
  }
}

async function makePeers(ids: PeerId[]): Promise<Peer[]> {
  const out: Peer[] = [];
  for (const id of PEER_ORDER) {
    if (!ids.includes(id)) continue;
    switch (id) {
      case 'webgrad': out.push((await import('./peers/webgrad.js')).webgradPeer('webgpu')); break;
      case 'webgrad-cpu': out.push((await import('./peers/webgrad.js')).webgradPeer('cpu')); break;
      case 'tfjs': out.push((await import('./peers/tfjs.js')).tfjsPeer()); break;
      case 'jaxjs': out.push((await import('./peers/jaxjs.js')).jaxjsPeer()); break;
      case 'raw-webgpu': out.push((await import('./peers/raw-webgpu.js')).rawWebgpuPeer()); break;
    }
  }
  return out;
}

async function main(): Promise<void> {
  const started = now();
  const loadStart = os.loadavg();
  const args = parseArgs(process.argv.slice(2));
  const log = (msg: string): void => console.log(msg);
  const notes: string[] = [];

  try {
    await setupWebGPU(args.dawn);
  } catch (e) {
    notes.push(`Dawn (the npm package 'webgpu') could not start: ${errorMessage(e)}; every WebGPU peer fails`);
  }

  // ---- peers ----
  const peers = await makePeers(args.peers.filter((p) => (args.cpu || p !== 'webgrad-cpu') && p !== 'pytorch'));
  const infos: PeerInfo[] = [];
  const ready: Peer[] = [];
  const failed = new Map<PeerId, string>();
  for (const p of peers) {
    const t0 = now();
    try {
      await withTimeout(p.init(), args.timeoutS * 1000, `${p.label} init`);
      const initMs = now() - t0;
      infos.push({ id: p.id, label: p.label, version: p.version, status: 'ok', adapter: p.adapterInfo?.() ?? (p.cpu ? 'none (CPU)' : null), initMs });
      ready.push(p);
      log(`${p.label}: ready in ${initMs.toFixed(0)} ms (${p.version})`);
    } catch (e) {
      const reason = errorMessage(e);
      infos.push({ id: p.id, label: p.label, version: p.version, status: 'failed', reason });
      failed.set(p.id, reason);
      log(`${p.label}: FAILED to start: ${reason}`);
    }
  }
  // The MLP and CNN checks' reference is webgrad's CPU backend, needed even with --no-cpu.
  const { webgradPeer } = await import('./peers/webgrad.js');
  const reference = ready.find((p) => p.id === 'webgrad-cpu') ?? webgradPeer('cpu');

  const timing: MeasureOptions = {
    warmup: 1, reps: args.reps, minReps: Math.min(3, args.reps), targetMs: 100, maxK: 32,
    budgetMs: args.budgetS * 1000, timeoutMs: args.timeoutS * 1000,
  };
  const ctx: WorkloadContext = { peers: ready, failed, timing, large: args.large, log };

  // ---- workloads ----
  const rows: Row[] = [];
  let profile: Record<string, unknown> | undefined;
  let mlpHow: Partial<Record<PeerId, string>> = {};
  let cnnHow: Partial<Record<PeerId, string>> = {};
  const commit = gitCommit();

  /** The report from what has been measured so far (written after every workload, so a run cut short still leaves one). */
  const assemble = (complete: boolean): RunReport => {
    const merged: Row[] = structuredClone(rows);
    const extInfos: PeerInfo[] = [];
    const extNotes: string[] = [];
    for (const file of args.external) {
      try {
        extInfos.push(mergeExternal(merged, JSON.parse(readFileSync(file, 'utf8')) as ExternalResults, file));
      } catch (e) {
        extNotes.push(`--external=${file} could not be read: ${errorMessage(e)}`);
      }
    }
    computeRatios(merged);
    const allInfos = [...infos, ...extInfos].map((info) => {
      const p = peers.find((q) => q.id === info.id);
      const n = [...(info.notes ?? []), ...(p?.notes?.() ?? [])];
      return { ...info, ...(n.length ? { notes: [...new Set(n)] } : {}), ...(mlpHow[info.id] ? { mlpHow: mlpHow[info.id]! } : {}), ...(cnnHow[info.id] ? { cnnHow: cnnHow[info.id]! } : {}) };
    });
    const gpuAdapters = adapterLog.filter((x) => x.library !== 'unknown');
    const names = [...new Set(gpuAdapters.map((x) => x.name))];
    const versions: Record<string, string> = {};
    for (const p of peers) versions[p.id === 'webgrad-cpu' ? 'webgrad' : p.id] = p.version.replace(/^webgrad /, '');
    for (const i of extInfos) versions[i.id] = i.version;
    if (commit) versions['webgrad'] = `${versions['webgrad'] ?? ''} (${commit})`.trim();
    const allNotes = [...notes, ...extNotes];
    if (names.length && /llvmpipe|lavapipe|swiftshader/i.test(names[0]!)) {
      allNotes.push('The adapter is a software Vulkan driver running on the CPU cores: GPU figures here say little about a real GPU (run bench/gpu.sh there).');
    }
    if (!args.cpu) allNotes.push('--no-cpu: the CPU reference backend was left out of the table (it still served as the MLP check\'s reference).');
    if (!complete) allNotes.push('PARTIAL: the run had not finished when this was written.');
    const cpus = os.cpus();
    return {
      schema: 'webgrad-bench/1',
      date: new Date().toISOString(),
      command: [process.env['npm_lifecycle_event'] === 'bench' ? 'npm run bench --' : 'node --import tsx bench/run.ts', ...process.argv.slice(2)].join(' '),
      flags: { ...args, out: undefined },
      machine: {
        cpuModel: cpus[0]?.model?.trim() ?? 'unknown CPU',
        cores: cpus.length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        platform: process.platform,
        arch: process.arch,
        loadAverage: { start: loadStart.map((x) => Number(x.toFixed(2))), end: os.loadavg().map((x) => Number(x.toFixed(2))) },
      },
      node: process.version,
      adapter: {
        name: names.length ? names.join(' + ') : 'none (no WebGPU adapter was found)',
        perLibrary: gpuAdapters.map((x) => ({ library: x.library, name: x.name })),
        allSame: names.length <= 1,
      },
      versions,
      peers: allInfos,
      rows: merged,
      ...(profile && Object.keys(profile).length ? { profile } : {}),
      notes: allNotes,
      totalSeconds: (now() - started) / 1000,
    };
  };

  const sizes = args.sizes ?? (args.large ? [256, 512, 1024, 2048, 4096] : [256, 512, 1024]);
  for (const w of WORKLOADS) {
    if (!args.only.includes(w)) continue;
    try {
      if (w === 'matmul') {
        // Each size joins the report when measured: a large size cut short by a timeout keeps the others.
        await (await import('./workloads/matmul.js')).matmulWorkload(ctx, sizes, (row) => {
          rows.push(row);
          writeReport(assemble(false), args.out);
        });
      }
      if (w === 'relu') rows.push(...(await (await import('./workloads/relu.js')).reluWorkload(ctx)));
      if (w === 'mlp') {
        const r = await (await import('./workloads/mlp.js')).mlpWorkload(ctx, reference);
        rows.push(...r.rows);
        profile = r.profiles;
        mlpHow = r.how;
      }
      if (w === 'tiny') rows.push(...(await (await import('./workloads/tiny.js')).tinyWorkload(ctx, args.tinyReps)));
      if (w === 'conv') {
        // Each row joins the report (written at once) when it is measured: a run cut short keeps them.
        await (await import('./workloads/conv.js')).convWorkload(ctx, (row) => {
          rows.push(row);
          writeReport(assemble(false), args.out);
        });
      }
      if (w === 'cnn') {
        const r = await (await import('./workloads/cnn.js')).cnnWorkload(ctx, reference);
        rows.push(...r.rows);
        cnnHow = r.how;
      }
    } catch (e) {
      notes.push(`workload ${w} crashed: ${errorMessage(e)}`);
      log(`workload ${w} crashed: ${errorMessage(e)}`);
    }
    writeReport(assemble(false), args.out);
  }

  // ---- report ----
  const report = assemble(true);
  const files = writeReport(report, args.out);
  console.log('\n' + renderMarkdown(report).split('\n## Peers')[0]);
  console.log(`wrote ${files.json} and ${files.md} (${report.totalSeconds!.toFixed(0)} s)`);

  for (const p of peers) {
    try {
      await p.destroy?.();
    } catch {
      // leaving anyway
    }
  }
  const own = report.rows.flatMap((r) => (r.entries.webgrad ? [r.entries.webgrad] : []));
  // The harness reports; it fails only when webgrad itself could not run or was wrong.
  process.exit(own.some((e) => e.status === 'failed' || e.status === 'wrong') || failed.has('webgrad') ? 2 : 0);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
