/**
 * The lab's configuration ↔ URL (examples/browser/src/config.ts), in Node: every knob survives a
 * round trip, bad values fall back to defaults, and the presets are what their titles say.
 */
import { describe, expect, it } from 'vitest';
import { ACTIVATIONS, DEFAULTS, PRESETS, URL_KEYS, fromParams, sameConfig, toParams, usesCnn } from '../../examples/browser/src/config.js';
import type { LabConfig } from '../../examples/browser/src/config.js';

const custom: LabConfig = {
  dataset: 'xor', model: 'cnn', activation: 'tanh', init: 'naive', sigma: 0.05, depth: 3, width: 8, batchNorm: true, dropout: 0.1,
  clip: 'value', clipAt: 0.5, l1: 0.001, l2: 0.01, lr: 0.02, optimizer: 'momentum', batch: 32, seed: 9,
};

describe('lab configuration in the URL', () => {
  it('round-trips every knob, and differs from the defaults in every knob', () => {
    const p = toParams(custom);
    expect(fromParams(new URLSearchParams(p.toString()))).toEqual(custom);
    for (const k of Object.keys(URL_KEYS) as (keyof LabConfig)[]) expect(custom[k], k).not.toBe(DEFAULTS[k]);
  });

  it('keeps other parameters and writes one per knob', () => {
    const p = toParams(custom, new URLSearchParams('backend=cpu&steps=5'));
    expect(p.get('backend')).toBe('cpu');
    expect(p.get('steps')).toBe('5');
    expect([...p.keys()].length).toBe(Object.keys(URL_KEYS).length + 2);
  });

  it('falls back to the default for a missing, unknown or out-of-range value', () => {
    const c = fromParams(new URLSearchParams('act=swish&depth=21&width=2.5&lr=-1&dropout=0.95&bn=yes&clipAt=0&opt=rmsprop&data=&model=rnn'));
    expect(c).toEqual({ ...DEFAULTS, batchNorm: false });
    expect(fromParams(new URLSearchParams('depth=20')).depth).toBe(20);
    expect(fromParams(new URLSearchParams('depth=1')).depth).toBe(1);
    for (const a of ACTIVATIONS) expect(fromParams(new URLSearchParams(`act=${a}`)).activation).toBe(a);
    expect(sameConfig(fromParams(new URLSearchParams('')), DEFAULTS)).toBe(true);
  });

  it('trains the CNN only on the digits (model=cnn on a 2-D set keeps the MLP)', () => {
    expect(usesCnn(fromParams(new URLSearchParams('data=digits&model=cnn')))).toBe(true);
    expect(usesCnn(fromParams(new URLSearchParams('data=spiral&model=cnn')))).toBe(false);
    expect(usesCnn(fromParams(new URLSearchParams('data=digits')))).toBe(false);
  });

  it('has the four classic presets, each as its title says', () => {
    const byId = Object.fromEntries(PRESETS.map((p) => [p.id, p]));
    expect(Object.keys(byId).sort()).toEqual(['clipped', 'exploding', 'healthy', 'vanishing']);
    expect(byId.vanishing!.config).toMatchObject({ activation: 'sigmoid', init: 'naive', depth: 12, batchNorm: false });
    expect(byId.healthy!.config).toMatchObject({ activation: 'relu', init: 'he', batchNorm: true });
    expect(byId.exploding!.config.clip).toBe('off');
    // "The same with clipping": only the clipping differs.
    expect({ ...byId.clipped!.config, clip: 'off', clipAt: byId.exploding!.config.clipAt }).toEqual(byId.exploding!.config);
    expect(byId.clipped!.config.clip).not.toBe('off');
    for (const p of PRESETS) expect(sameConfig(fromParams(toParams(p.config)), p.config)).toBe(true);
  });
});
