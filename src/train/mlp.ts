/**
 * A serialisable description of an MLP (so a checkpoint records its architecture and can rebuild
 * it), and the builder that turns it into an nn.Sequential.
 */
import { Sequential, Linear, BatchNorm1d, Dropout, ReLU, ReLU6, Sigmoid, Tanh, LeakyReLU, GELU } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { kaimingNormal_, xavierNormal_, normal_, zeros_ } from '../nn/init.js';
import { fail } from '../errors.js';

export type ActivationName = 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'leakyRelu' | 'gelu';
/** 'default' is PyTorch's Linear default; 'naive' is the old habit of small N(0, 0.01²) weights, which starves deep sigmoid nets of gradient. */
export type InitName = 'default' | 'he' | 'xavier' | 'naive';

export interface MlpSpec {
  inputs: number;
  hidden: number[];
  outputs: number;
  activation: ActivationName;
  batchNorm: boolean;
  dropout: number;
  init: InitName;
}

function activationLayer(name: ActivationName): Module {
  switch (name) {
    case 'relu': return new ReLU();
    case 'relu6': return new ReLU6();
    case 'sigmoid': return new Sigmoid();
    case 'tanh': return new Tanh();
    case 'leakyRelu': return new LeakyReLU();
    case 'gelu': return new GELU();
  }
}

function initLinear(layer: Linear, init: InitName, activation: ActivationName): void {
  if (init === 'default') return;
  if (init === 'he') kaimingNormal_(layer.weight, { nonlinearity: activation === 'leakyRelu' ? 'leakyRelu' : 'relu' });
  if (init === 'xavier') xavierNormal_(layer.weight, { gain: 1 });
  if (init === 'naive') normal_(layer.weight, 0, 0.01);
  if (layer.bias) zeros_(layer.bias);
}

/** Linear → [BatchNorm1d] → activation → [Dropout] per hidden layer, then a Linear head. */
export function buildMlp(spec: MlpSpec): Sequential {
  if (!(spec.dropout >= 0 && spec.dropout < 1)) fail('buildMlp', `dropout must be in [0, 1), got ${spec.dropout}`);
  const layers: Module[] = [];
  let width = spec.inputs;
  for (const h of spec.hidden) {
    const linear = new Linear(width, h);
    initLinear(linear, spec.init, spec.activation);
    layers.push(linear);
    if (spec.batchNorm) layers.push(new BatchNorm1d(h));
    layers.push(activationLayer(spec.activation));
    if (spec.dropout > 0) layers.push(new Dropout(spec.dropout));
    width = h;
  }
  const head = new Linear(width, spec.outputs);
  initLinear(head, spec.init === 'naive' ? 'naive' : spec.init === 'default' ? 'default' : 'xavier', spec.activation);
  layers.push(head);
  return new Sequential(...layers);
}

export function describeMlp(spec: MlpSpec): string {
  const parts = [spec.inputs, ...spec.hidden, spec.outputs].join('-');
  return `MLP ${parts}, ${spec.activation}${spec.batchNorm ? ', batch norm' : ''}${spec.dropout > 0 ? `, dropout ${spec.dropout}` : ''}, ${spec.init} init`;
}
