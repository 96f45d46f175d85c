// A minimal Node program: `npm install webgrad webgpu`, then `node main.mjs`.
import * as wg from 'webgrad';

const { backend, adapter, fallbackReason } = await wg.init();
console.log(`backend: ${backend}${adapter ? ` (${adapter})` : ''}${fallbackReason ? ` (${fallbackReason})` : ''}`);

// Fit y = 2x - 1 with one Linear layer.
const xs = Array.from({ length: 64 }, (_, i) => [i / 32 - 1]);
const ys = Float32Array.from(xs, ([x]) => 2 * x - 1);
const model = new wg.nn.Linear(1, 1);
const optimizer = new wg.optim.SGD(model.parameters(), { lr: 0.1 });
const loader = new wg.DataLoader([xs, ys], { batchSize: 16, shuffle: true });

for (let epoch = 0; epoch < 50; epoch++) {
  for await (const [x, y] of loader) {
    wg.tidy(() => {
      optimizer.zeroGrad();
      const loss = wg.mse(model.forward(x).reshape([-1]), y);
      loss.backward();
      optimizer.step();
    });
    wg.dispose([x, y]);
  }
}
await model.weight.print(); // close to [[2.]]
await model.bias.print();   // close to [-1.]
