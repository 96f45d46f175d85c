/**
 * The one way error tests check a refused call: it throws a WebgradError whose message matches
 * every pattern, and memory() is the same before and after (live tensors, storages and bytes), so
 * a leak on an error path fails the test that exercises it. Optionally a valid op on `device` is
 * run afterwards to show the engine still works.
 */
import { expect } from 'vitest';
import * as wg from '../../src/index.js';
import { WebgradError } from '../../src/errors.js';
import type { BackendName } from '../../src/backend/types.js';

export interface ExpectErrorOptions {
  /** Run a small valid op on this backend afterwards and check its result. */
  device?: BackendName;
  /** The error class expected (default WebgradError). */
  type?: abstract new (...args: never[]) => Error;
}

function snapshot(): { liveTensors: number; liveStorages: number; liveBytes: number } {
  const m = wg.memory();
  return { liveTensors: m.liveTensors, liveStorages: m.liveStorages, liveBytes: m.liveBytes };
}

type Outcome = { threw: true; caught: unknown } | { threw: false };
type Memory = ReturnType<typeof snapshot>;

/** The checks both forms make on a refused call: it threw the expected type, matching every pattern, and memory() is unchanged. */
function checkRefusal(outcome: Outcome, patterns: RegExp | RegExp[], before: Memory, type: ExpectErrorOptions['type']): Error {
  expect(outcome.threw, 'the call should have thrown').toBe(true);
  const caught = outcome.threw ? outcome.caught : undefined;
  expect(caught, `expected a ${(type ?? WebgradError).name}, got ${String(caught)}`).toBeInstanceOf(type ?? WebgradError);
  const message = (caught as Error).message;
  for (const p of Array.isArray(patterns) ? patterns : [patterns]) expect(message).toMatch(p);
  expect(snapshot(), `memory() changed across the refused call (${message})`).toEqual(before);
  return caught as Error;
}

/** Runs `bad` (sync or async), expecting a WebgradError matching every pattern and no leak. Returns the error. */
export async function expectError(bad: () => unknown, patterns: RegExp | RegExp[], opts: ExpectErrorOptions = {}): Promise<Error> {
  const before = snapshot();
  let outcome: Outcome = { threw: false };
  try {
    await bad();
  } catch (e) {
    outcome = { threw: true, caught: e };
  }
  const error = checkRefusal(outcome, patterns, before, opts.type);
  if (opts.device) {
    const a = wg.tensor([[1, 2], [3, 4]], { device: opts.device });
    const b = wg.tensor([10, 20], { device: opts.device });
    const c = a.add(b);
    expect(Array.from(await c.data())).toEqual([11, 22, 13, 24]);
    wg.dispose([a, b, c]);
  }
  return error;
}

/** The synchronous form, for calls that must throw before returning (no await in between). */
export function expectErrorSync(bad: () => unknown, patterns: RegExp | RegExp[], opts: Pick<ExpectErrorOptions, 'type'> = {}): Error {
  const before = snapshot();
  let outcome: Outcome = { threw: false };
  try {
    bad();
  } catch (e) {
    outcome = { threw: true, caught: e };
  }
  return checkRefusal(outcome, patterns, before, opts.type);
}
