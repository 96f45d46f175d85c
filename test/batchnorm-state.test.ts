/**
 * BatchNorm1d's state under PyTorch's names: running_mean, running_var and num_batches_tracked
 * (an int32 scalar here, int64 in PyTorch), counted on the device once per training forward, not
 * in eval, not by a call that throws; on every backend.
 */
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { expectNoLeak } from './helpers/oracle.js';
import { nn, noGrad, randn } from '../src/index.js';
import { dispose } from '../src/lifetime.js';

describeEachBackend('BatchNorm1d state dict (PyTorch names)', (device) => {
  it('num_batches_tracked counts training forwards only', async () => {
    await expectNoLeak('num_batches_tracked', async () => {
      const bn = new nn.BatchNorm1d(3, { device });
      expect([...bn.stateDict().keys()]).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
      const count = bn.stateDict().get('num_batches_tracked')!;
      expect(count.shape).toEqual([]);
      expect(count.dtype).toBe('int32');
      const x = randn([4, 3], { seed: 1, device });
      for (let i = 0; i < 3; i++) noGrad(() => bn.forward(x)).dispose();
      expect(Array.from(await bn.numBatchesTracked!.data())).toEqual([3]);
      const bad = randn([4, 5], { seed: 2, device });
      expect(() => bn.forward(bad)).toThrow(/batchNorm/);
      bn.eval();
      noGrad(() => bn.forward(x)).dispose();
      expect(Array.from(await bn.numBatchesTracked!.data())).toEqual([3]);
      const untracked = new nn.BatchNorm1d(3, { device, trackRunningStats: false });
      expect([...untracked.stateDict().keys()]).toEqual(['weight', 'bias']);
      dispose([x, bad]);
      bn.dispose();
      untracked.dispose();
    });
  });
});
