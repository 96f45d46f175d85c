/**
 * The loss/accuracy chart written next to the model: a Vega-Lite spec rendered to SVG headless
 * (vega is an optional dependency of the CLI, not of the library).
 */
import type { EpochMetrics } from './trainer.js';

export async function renderMetricsSvg(history: readonly EpochMetrics[], title: string): Promise<string> {
  const vega = await import('vega');
  const { compile } = await import('vega-lite');
  const rows = history.flatMap((m) => [
    { epoch: m.epoch, value: m.loss, series: 'train loss', panel: 'loss' },
    { epoch: m.epoch, value: m.testLoss, series: 'test loss', panel: 'loss' },
    { epoch: m.epoch, value: 100 * m.trainAccuracy, series: 'train accuracy', panel: 'accuracy (%)' },
    { epoch: m.epoch, value: 100 * m.testAccuracy, series: 'test accuracy', panel: 'accuracy (%)' },
  ]);
  const layer = (panel: string) => ({
    width: 360,
    height: 220,
    title: panel,
    transform: [{ filter: `datum.panel === '${panel}'` }],
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative', scale: { zero: false }, title: panel },
      color: { field: 'series', type: 'nominal', title: null },
    },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: rows },
    hconcat: [layer('loss'), layer('accuracy (%)')],
    resolve: { scale: { color: 'independent' } },
    background: 'white',
  };
  // The compiled spec is plain JSON; vega's parse takes it as is.
  const view = new vega.View(vega.parse(compile(spec as never).spec), { renderer: 'none' });
  return view.toSVG();
}
