/**
 * Result types, the ratios to webgrad, and the two outputs: bench/results/latest.json (everything,
 * raw times included) and bench/results/latest.md (the table a person reads).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerId } from './peers/types.js';

export type EntryStatus = 'ok' | 'failed' | 'skipped' | 'wrong' | 'n/a';

export interface CheckResult {
  ok: boolean;
  /** What was compared with what, and the error found. */
  detail: string;
  maxErr?: number;
  tol?: number;
}

export interface Entry {
  status: EntryStatus;
  /** In the row's unit. */
  value?: number;
  /** Per operation (or per training step), over the timed repetitions. */
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  timesMs?: number[];
  warmupMs?: number[];
  /** Operations per timed repetition (each repetition ends with one readback). */
  k?: number;
  reps?: number;
  check?: CheckResult;
  /** Peer speed ÷ webgrad (WebGPU) speed, from this run: above 1 the peer is faster. */
  ratio?: number;
  /** Why it failed or was skipped. */
  reason?: string;
  note?: string;
}

export interface Row {
  workload: 'matmul' | 'relu' | 'mlp-train-step' | 'tiny-add' | 'conv2d-fwd' | 'conv2d-fwd-bwd' | 'maxpool-fwd-bwd' | 'cnn-train-step';
  /** e.g. "1024x1024x1024". */
  case: string;
  /** Short label for the table, e.g. "matmul 1024". */
  title: string;
  unit: string;
  higherIsBetter: boolean;
  entries: Partial<Record<PeerId, Entry>>;
  notes?: string[];
}

export interface PeerInfo {
  id: PeerId;
  label: string;
  version: string;
  status: 'ok' | 'failed' | 'disabled';
  reason?: string;
  adapter?: string | null;
  initMs?: number;
  notes?: string[];
  /** How its training step is written. */
  mlpHow?: string;
  /** How its CNN training step is written. */
  cnnHow?: string;
}

export interface RunReport {
  schema: 'webgrad-bench/1';
  date: string;
  command: string;
  flags: Record<string, unknown>;
  machine: { cpuModel: string; cores: number; memoryGiB: number; platform: string; arch: string; loadAverage: { start: number[]; end: number[] } };
  node: string;
  adapter: { name: string; perLibrary: { library: string; name: string }[]; allSame: boolean };
  versions: Record<string, string>;
  peers: PeerInfo[];
  rows: Row[];
  /** webgrad's own breakdown of a training step (backend stats and time per part). */
  profile?: unknown;
  notes: string[];
  totalSeconds?: number;
}

export const PEER_ORDER: PeerId[] = ['webgrad', 'webgrad-cpu', 'tfjs', 'jaxjs', 'raw-webgpu', 'pytorch'];

/** The JSON bench/torch_matmul.py writes (an external peer's figures, merged with --external). */
export interface ExternalResults {
  id?: string;
  label?: string;
  version?: string;
  adapter?: string;
  status?: 'ok' | 'failed';
  reason?: string;
  rows?: (Partial<Entry> & { workload: string; case: string; error?: string })[];
}

/** Adds an external peer's entries to the matching rows (same workload and case). */
export function mergeExternal(rows: Row[], ext: ExternalResults, source: string): PeerInfo {
  const id: PeerId = 'pytorch';
  const info: PeerInfo = {
    id,
    label: ext.label ?? 'PyTorch',
    version: ext.version ?? '?',
    status: ext.status === 'ok' ? 'ok' : 'failed',
    adapter: ext.adapter ?? null,
    notes: [`measured outside this process by bench/torch_matmul.py (${source}); its ratios are computed here against this run's webgrad figures`],
  };
  if (ext.status !== 'ok') info.reason = ext.reason ?? 'no status in its results file';
  const workloads = new Set((ext.rows ?? []).map((r) => r.workload));
  for (const row of rows) {
    const r = (ext.rows ?? []).find((x) => x.workload === row.workload && x.case === row.case);
    if (ext.status !== 'ok') {
      row.entries[id] = workloads.has(row.workload) || row.workload === 'matmul' ? { status: 'failed', reason: info.reason ?? 'failed' } : { status: 'n/a' };
    } else if (!r) {
      row.entries[id] = { status: 'n/a' };
    } else if (r.error) {
      row.entries[id] = { status: 'failed', reason: r.error };
    } else if (r.check && !r.check.ok) {
      row.entries[id] = { status: 'wrong', check: r.check };
    } else {
      const { workload: _w, case: _c, error: _e, ...entry } = r;
      row.entries[id] = { ...entry, status: 'ok' };
    }
  }
  return info;
}

/** Ratio of each peer's speed to webgrad's (WebGPU) in the same row. */
export function computeRatios(rows: Row[]): void {
  for (const row of rows) {
    const base = row.entries.webgrad;
    for (const [id, e] of Object.entries(row.entries) as [PeerId, Entry][]) {
      if (id === 'webgrad' || !e || e.status !== 'ok' || !base || base.status !== 'ok') continue;
      if (e.value === undefined || base.value === undefined || e.value === 0 || base.value === 0) continue;
      e.ratio = row.higherIsBetter ? e.value / base.value : base.value / e.value;
    }
  }
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

function fmtRatio(r: number): string {
  return r >= 10 ? `${r.toFixed(0)}×` : r >= 1 ? `${r.toFixed(2)}×` : `${r.toPrecision(2)}×`;
}

function fmtMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1000).toPrecision(3)} s`;
}

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderMarkdown(r: RunReport): string {
  const peers = PEER_ORDER.map((id) => r.peers.find((p) => p.id === id)).filter((p): p is PeerInfo => !!p);
  const lines: string[] = [];
  const foot: string[] = [];
  const footnote = (text: string): string => {
    let i = foot.indexOf(text);
    if (i < 0) {
      foot.push(text);
      i = foot.length - 1;
    }
    return `[${i + 1}]`;
  };
  lines.push(`# webgrad benchmark: ${r.date}`, '');
  lines.push(`- adapter: **${r.adapter.name}**${r.adapter.allSame ? ' (every library got this same adapter)' : ' (**libraries got different adapters**, see below)'}`);
  const la = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(' ');
  lines.push(`- machine: ${r.machine.cpuModel}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.platform}-${r.machine.arch}; load average (1/5/15 min) ${la(r.machine.loadAverage.start)} at start, ${la(r.machine.loadAverage.end)} at end`);
  lines.push(`- node ${r.node}; ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`- command: \`${r.command}\`${r.totalSeconds !== undefined ? `, ran ${r.totalSeconds.toFixed(0)} s` : ''}`);
  lines.push('');
  lines.push('Each figure is the median of the timed repetitions after warm-up; every repetition ends with a readback of the result, so queued GPU work is included. ' +
    'A result counts only after it matched the CPU reference. In parentheses: the peer\'s speed divided by webgrad (WebGPU)\'s in this run (above 1 = faster than webgrad).', '');
  lines.push(`| workload | unit | ${peers.map((p) => esc(p.label)).join(' | ')} |`);
  lines.push(`|---|---|${peers.map(() => '---:').join('|')}|`);
  for (const row of r.rows) {
    const cells = peers.map((p) => {
      const e = row.entries[p.id];
      if (!e || e.status === 'n/a') return '—';
      if (e.status === 'ok') return `${fmt(e.value!)}${e.ratio !== undefined ? ` (${fmtRatio(e.ratio)})` : ''}`;
      if (e.status === 'skipped') return `skipped ${footnote(e.reason ?? 'skipped')}`;
      if (e.status === 'wrong') return `**wrong result** ${footnote(`${p.label}, ${row.title}: ${e.check?.detail ?? e.reason ?? ''}`)}`;
      return `**failed** ${footnote(`${p.label}, ${row.title}: ${e.reason ?? 'unknown error'}`)}`;
    });
    lines.push(`| ${esc(row.title)} | ${row.unit} ${row.higherIsBetter ? '↑' : '↓'} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  for (const [i, f] of foot.entries()) lines.push(`[${i + 1}] ${esc(f)}  `);
  if (foot.length) lines.push('');

  lines.push('## Peers', '');
  lines.push('| peer | version | status | adapter it reported | init |');
  lines.push('|---|---|---|---|---:|');
  for (const p of peers) {
    lines.push(`| ${esc(p.label)} | ${esc(p.version)} | ${p.status === 'ok' ? 'ok' : `**${p.status}**${p.reason ? `: ${esc(p.reason)}` : ''}`} | ${esc(p.adapter ?? '—')} | ${p.initMs !== undefined ? fmtMs(p.initMs) : '—'} |`);
  }
  lines.push('');
  if (r.adapter.perLibrary.length) {
    lines.push('Adapters handed out (one requestAdapter per library, same Dawn instance):', '');
    for (const a of r.adapter.perLibrary) lines.push(`- ${a.library}: ${a.name}`);
    lines.push('');
  }
  const hows = peers.filter((p) => p.mlpHow);
  if (hows.length) {
    lines.push('How each training step is written:', '');
    for (const p of hows) lines.push(`- **${p.label}**: ${p.mlpHow}`);
    lines.push('');
  }
  const cnnHows = peers.filter((p) => p.cnnHow);
  if (cnnHows.length) {
    lines.push('How each CNN training step is written:', '');
    for (const p of cnnHows) lines.push(`- **${p.label}**: ${p.cnnHow}`);
    lines.push('');
  }
  const peerNotes = peers.filter((p) => p.notes && p.notes.length);
  if (peerNotes.length) {
    for (const p of peerNotes) for (const n of p.notes!) lines.push(`- ${p.label}: ${n}`);
    lines.push('');
  }

  lines.push('## Details', '');
  lines.push('Per operation (per step for training): median, [min–max], k operations per timed repetition × repetitions; then the correctness check.', '');
  lines.push('| workload | peer | median | min–max | k × reps | check |');
  lines.push('|---|---|---:|---:|---:|---|');
  for (const row of r.rows) {
    for (const p of peers) {
      const e = row.entries[p.id];
      if (!e || e.status === 'n/a') continue;
      const timing = e.medianMs !== undefined
        ? [fmtMs(e.medianMs), `${fmtMs(e.minMs!)}–${fmtMs(e.maxMs!)}`, `${e.k} × ${e.reps}`]
        : ['—', '—', '—'];
      const check = e.check ? `${e.check.ok ? 'ok' : '**FAILED**'}: ${e.check.detail}` : e.reason ?? '';
      lines.push(`| ${esc(row.title)} | ${esc(p.label)} | ${timing.join(' | ')} | ${esc(check)}${e.note ? ` (${esc(e.note)})` : ''} |`);
    }
    for (const n of row.notes ?? []) lines.push(`| ${esc(row.title)} | note | | | | ${esc(n)} |`);
  }
  lines.push('');
  if (r.profile) {
    lines.push('## webgrad training step, profiled', '');
    lines.push('```json', JSON.stringify(r.profile, null, 2), '```', '');
  }
  if (r.notes.length) {
    lines.push('## Notes', '');
    for (const n of r.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}

export function writeReport(r: RunReport, dir: string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  const md = join(dir, 'latest.md');
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(md, renderMarkdown(r));
  return { json, md };
}
