// A minimal Vite page: `npm create vite@latest my-app -- --template vanilla-ts`, `npm install webgrad`,
// put this in src/main.ts. No Dawn, no shims: the browser's own WebGPU (or the CPU backend) runs it.
import * as wg from 'webgrad';

async function main(): Promise<string> {
  const { backend, fallbackReason } = await wg.init();

  // Fit y = 2x - 1 with one Linear layer.
  const xs = Array.from({ length: 64 }, (_, i) => [i / 32 - 1]);
  const ys = Float32Array.from(xs, ([x]) => 2 * x - 1);
  const model = new wg.nn.Linear(1, 1);
  const optimizer = new wg.optim.SGD(model.parameters(), { lr: 0.1 });
  const loader = new wg.DataLoader([xs, ys], { batchSize: 16, shuffle: true });

  let loss = NaN;
  for (let epoch = 0; epoch < 50; epoch++) {
    for await (const [x, y] of loader) {
      const l = wg.tidy(() => {
        optimizer.zeroGrad();
        const l = wg.mse(model.forward(x).reshape([-1]), y);
        l.backward();
        optimizer.step();
        return l;
      });
      loss = await l.item();
      wg.dispose([x, y, l]);
    }
  }
  await model.weight.data(); // read once: the string form now shows the values
  return `backend: ${backend}${fallbackReason ? ` (${fallbackReason})` : ''}\nloss: ${loss.toFixed(6)}\nweight: ${model.weight}`;
}

const out = document.querySelector<HTMLPreElement>('#out')!;
main().then((text) => (out.textContent = text), (e: unknown) => (out.textContent = `error: ${String(e)}`));
