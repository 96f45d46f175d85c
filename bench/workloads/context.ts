/**
 * What every workload gets from bench/run.ts, and `compareCase`: prepare and check every peer on one
 * case, time those that passed (interleaved, see measure.ts), and turn any failure into a report
 * entry rather than a crash.
 */
import type { Peer, PeerId } from '../peers/types.js';
import type { CheckResult, Entry, Row } from '../report.js';
import { errorMessage, TimeoutError, withTimeout } from '../common.js';
import { measureInterleaved, timedEntry, type MeasureOptions } from '../measure.js';

export interface WorkloadContext {
  /** Peers whose init succeeded, in report order. */
  peers: Peer[];
  /** Peers whose init failed, with the reason: every row gets a 'failed' entry for them. */
  failed: Map<PeerId, string>;
  /** Default timing options (workloads adjust warm-up, target and k to their case). */
  timing: MeasureOptions;
  large: boolean;
  log(msg: string): void;
}

/** A peer's case, ready to time: inputs on its device and the check already passed or failed. */
export interface Prepared {
  run(k: number): Promise<unknown>;
  check: CheckResult;
  dispose(): void | Promise<void>;
  /** Runs after timing, may add to the entry (e.g. the final loss, a profile). */
  after?(e: Entry): Promise<void>;
}

/** The entries of peers that could not start. */
export function failedEntries(ctx: WorkloadContext): Partial<Record<PeerId, Entry>> {
  const out: Partial<Record<PeerId, Entry>> = {};
  for (const [id, reason] of ctx.failed) out[id] = { status: 'failed', reason: `could not start: ${reason}` };
  return out;
}

function reasonOf(e: unknown): string {
  return (e instanceof TimeoutError ? 'timeout: ' : '') + errorMessage(e);
}

function describe(e: Entry): string {
  if (e.status === 'ok') return `${e.value?.toPrecision(4)}  (median ${e.medianMs?.toPrecision(4)} ms, k=${e.k}, reps=${e.reps})`;
  if (e.status === 'wrong') return `WRONG: ${e.check?.detail ?? ''}`;
  return `${e.status.toUpperCase()}${e.reason ? `: ${e.reason}` : ''}`;
}

/**
 * Fills `row.entries` for every ready peer: `prepare` returns either a Prepared case (timed if its
 * check passed) or an Entry (not applicable, skipped). `value` converts ms per operation into the
 * row's unit.
 */
export async function compareCase(
  ctx: WorkloadContext,
  row: Row,
  what: string,
  prepare: (peer: Peer) => Promise<Prepared | Entry>,
  opts: MeasureOptions,
  value: (ms: number) => number,
): Promise<void> {
  const ready: { peer: Peer; p: Prepared }[] = [];
  for (const peer of ctx.peers) {
    try {
      const r = await withTimeout(prepare(peer), opts.timeoutMs * 2, `${peer.label} ${what} (prepare and check)`);
      if ('status' in r) {
        row.entries[peer.id] = r;
        if (r.status !== 'n/a') ctx.log(`  ${peer.label.padEnd(26)} ${describe(r)}`);
        continue;
      }
      if (!r.check.ok) {
        row.entries[peer.id] = { status: 'wrong', check: r.check };
        ctx.log(`  ${peer.label.padEnd(26)} ${describe(row.entries[peer.id]!)}`);
        await r.dispose();
        continue;
      }
      ready.push({ peer, p: r });
    } catch (e) {
      row.entries[peer.id] = { status: 'failed', reason: reasonOf(e) };
      ctx.log(`  ${peer.label.padEnd(26)} ${describe(row.entries[peer.id]!)}`);
    }
  }
  const outcomes = await measureInterleaved(
    ready.map(({ peer, p }) => ({ key: peer.id, label: `${peer.label} ${what}`, run: (k: number) => p.run(k) })),
    opts,
  );
  for (const { peer, p } of ready) {
    const o = outcomes.get(peer.id);
    const e: Entry = o?.ok ? timedEntry(o.m, value, { check: p.check }) : { status: 'failed', reason: o?.ok === false ? o.reason : 'not measured', check: p.check };
    if (e.status === 'ok' && p.after) {
      try {
        await withTimeout(p.after(e), opts.timeoutMs * 2, `${peer.label} ${what} (after timing)`);
      } catch (err) {
        e.note = `${e.note ? e.note + '; ' : ''}post-timing step failed: ${reasonOf(err)}`;
      }
    }
    try {
      await p.dispose();
    } catch {
      // the numbers are in; a failing cleanup changes nothing
    }
    row.entries[peer.id] = e;
    ctx.log(`  ${peer.label.padEnd(26)} ${describe(e)}`);
  }
}
