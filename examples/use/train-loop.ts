import * as wg from 'webgrad';

await wg.init(); // WebGPU when there is an adapter, else the CPU backend (init's result says why)

// Data: any arrays with one entry per example. 1,024 points on a grid in [-1, 1]², labelled 1
// where x0·x1 > 0 (two opposite quadrants), which no linear model can separate.
const points = Array.from({ length: 1024 }, (_, i) => [(i % 32) / 15.5 - 1, Math.floor(i / 32) / 15.5 - 1]);
const labels = Int32Array.from(points, ([a, b]) => (a * b > 0 ? 1 : 0));
const loader = new wg.DataLoader([points, labels], { batchSize: 64, shuffle: true });

const model = new wg.nn.Sequential(
  new wg.nn.Linear(2, 32), new wg.nn.ReLU(),
  new wg.nn.Linear(32, 32), new wg.nn.ReLU(),
  new wg.nn.Linear(32, 2),
);
const optimizer = new wg.optim.Adam(model.parameters(), { lr: 0.01 });
console.log(model); // the architecture, as PyTorch prints it

for (let epoch = 1; epoch <= 15; epoch++) {
  let total = 0;
  for await (const [x, y] of loader) {
    const loss = wg.tidy(() => {   // every tensor made in the step is disposed at its end...
      optimizer.zeroGrad();
      const loss = wg.nn.crossEntropy(model.forward(x), y);
      loss.backward();
      optimizer.step();
      return loss;                   // ...except the one it returns
    });
    total += await loss.item();      // the step's one wait for the GPU: reading is async
    wg.dispose([x, y, loss]);
  }
  console.log(`epoch ${epoch}: loss ${(total / loader.length).toFixed(4)}`);
}

// Evaluation: no tape, batch norm and dropout (if any) in eval mode.
model.eval();
const probe = wg.tensor([[0.5, 0.5], [0.5, -0.5], [-0.5, -0.5]]);
const probabilities = wg.noGrad(() => model.forward(probe).softmax());
await probabilities.print(); // rows near [0, 1], [1, 0], [0, 1]
const all = wg.tensor(points);
const target = wg.tensor(labels, { dtype: 'int32' });
const accuracy = wg.noGrad(() => model.forward(all).argmax(1).eq(target).cast('float32').mean());
console.log(`accuracy: ${((await accuracy.item()) * 100).toFixed(1)} %`); // argmax: the predicted class
wg.dispose([probe, probabilities, all, target, accuracy]);
