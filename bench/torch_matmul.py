"""PyTorch float32 matmul (TF32 off) at the harness's sizes, timed the harness's way.

Each timed repetition runs k products back to back and ends with a copy of the last result to the
host (so queued GPU work is inside the time); k is chosen from the warm-up so a repetition holds
about 100 ms of work (1..32). Median of the repetitions. The result is checked on a sample of
entries against float64 dot products, like bench/workloads/matmul.ts does. Writes a JSON file that
`bench/run.ts --external=FILE` merges into its table as one more peer.

    python3 bench/torch_matmul.py --sizes 256,512,1024 --out torch.json [--device cuda|cpu] [--reps 5]
"""
import argparse
import json
import statistics
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('--sizes', default='256,512,1024')
    ap.add_argument('--out', required=True)
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--budget', type=float, default=10.0, help='seconds of timed work per size at most')
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(',') if s]

    result = {'id': 'pytorch', 'label': 'PyTorch (TF32 off)', 'rows': []}
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any import failure is reported, not raised
        result.update(status='failed', reason=f'python3 could not import torch: {e}')
        json.dump(result, open(args.out, 'w'), indent=1)
        return 0
    result['version'] = f'torch {torch.__version__}'
    if args.device == 'cuda' and not torch.cuda.is_available():
        result.update(status='failed', reason='torch.cuda.is_available() is False')
        json.dump(result, open(args.out, 'w'), indent=1)
        return 0
    dev = torch.device(args.device)
    if dev.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        result['adapter'] = torch.cuda.get_device_name(0)
        result['label'] = 'PyTorch CUDA (TF32 off)'
    else:
        result['adapter'] = f'CPU, {torch.get_num_threads()} threads'
        result['label'] = 'PyTorch CPU'
    if hasattr(torch, 'set_float32_matmul_precision'):
        torch.set_float32_matmul_precision('highest')
    result['status'] = 'ok'

    def sync() -> None:
        if dev.type == 'cuda':
            torch.cuda.synchronize()

    for n in sizes:
        row = {'workload': 'matmul', 'case': f'{n}x{n}x{n}'}
        try:
            g = torch.Generator().manual_seed(1000 + n)
            a_h = torch.rand(n, n, generator=g, dtype=torch.float32) * 2 - 1
            b_h = torch.rand(n, n, generator=g, dtype=torch.float32) * 2 - 1
            a, b = a_h.to(dev), b_h.to(dev)
            c = (a @ b).cpu()
            # Check a sample against float64, relative to sum |a||b| (as the harness does).
            gi = torch.Generator().manual_seed(n)
            idx = torch.randint(0, n, (64, 2), generator=gi).tolist() + [[0, 0], [0, n - 1], [n - 1, 0], [n - 1, n - 1]]
            a64, b64 = a_h.double(), b_h.double()
            worst = 0.0
            for i, j in idx:
                prod = a64[i, :] * b64[:, j]
                err = abs(float(c[i, j]) - float(prod.sum())) / max(float(prod.abs().sum()), 1e-30)
                worst = max(worst, err)
            tol = 2 * n * 2.0 ** -24
            row['check'] = {'ok': worst <= tol, 'maxErr': worst, 'tol': tol,
                            'detail': f'{len(idx)} sampled entries vs float64: max error {worst:.2e} of sum|a*b| (tolerance {tol:.2e})'}

            def rep(k: int) -> float:
                t0 = time.perf_counter()
                for _ in range(k):
                    out = a @ b
                out.cpu()  # the readback ends the timing
                return (time.perf_counter() - t0) / k

            warm = [rep(1) for _ in range(3)]
            one = min(warm)
            k = max(1, min(32, round(0.1 / max(one, 1e-9))))
            reps = max(3, min(args.reps, int(args.budget / max(one * k, 1e-9))))
            times = [rep(k) for _ in range(reps)]

            def sync_rep(k: int) -> float:
                sync()
                t0 = time.perf_counter()
                for _ in range(k):
                    a @ b
                sync()
                return (time.perf_counter() - t0) / k

            sync_times = [sync_rep(k) for _ in range(reps)]
            med = statistics.median(times)
            row.update(value=2 * n ** 3 / (med * 1e9), medianMs=med * 1e3, minMs=min(times) * 1e3, maxMs=max(times) * 1e3,
                       timesMs=[round(t * 1e3, 5) for t in times], warmupMs=[round(t * 1e3, 5) for t in warm], k=k, reps=reps,
                       note=f'without the readback (synchronize only): {2 * n ** 3 / (statistics.median(sync_times) * 1e9):.1f} GFLOP/s')
        except Exception as e:  # noqa: BLE001
            row['error'] = f'{type(e).__name__}: {e}'
        result['rows'].append(row)
        print(f"pytorch matmul {n}: {row.get('value', float('nan')):.1f} GFLOP/s  {row.get('note', row.get('error', ''))}", flush=True)
    json.dump(result, open(args.out, 'w'), indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
