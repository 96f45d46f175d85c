#!/usr/bin/env bash
# The closing device call: the autotune's choices and webgrad's matmul with and without the
# readback, every peer's matmul without the readback, PyTorch, bench/gpu.sh (the GPU table), and
# the GPU test files on NVIDIA.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/run-final.log") 2>&1
T0=$(date +%s); say() { printf '[final %3ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
say "$(date -u)"; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
source bench/device/setup.sh
say "webgrad autotune and matmul (NN), with and without the readback"
timeout -k 5 90 node --import tsx bench/matmul-probe.ts --products=8 1024 2048 4096 8192 2>&1 | grep -v Warning
SIZES=1024,2048,4096,8192
say "every peer's matmul without the readback (bench/matmul-queued.ts)"
timeout -k 5 120 node --import tsx bench/matmul-queued.ts --sizes=$SIZES --products=8 --rounds=5 > "$OUT/queued.log" 2>&1; say "exit $?"
grep -v Warning "$OUT/queued.log"
PYTHONUNBUFFERED=1 timeout 60 python3 bench/torch_matmul.py --sizes $SIZES --device cuda --budget 3 --out "$OUT/torch-matmul.json" || say "torch failed ($?)"
EXT=(); [ -s "$OUT/torch-matmul.json" ] && EXT=(--external="$OUT/torch-matmul.json")
GPU_SH_BUDGET=200 bash bench/gpu.sh --sizes=$SIZES --no-cpu --reps=5 --budget=6 --peers=webgrad,tfjs,jaxjs "${EXT[@]}"
say "gpu.sh exit $?"
run_tests() {
  local name=$1 lim=$2; shift 2
  timeout -k 5 "$lim" node node_modules/vitest/vitest.mjs run --reporter=verbose "$@" >"$OUT/tests-$name.log" 2>&1
  say "tests $name exit $?"; grep -E 'Test Files|Tests  |FAIL' "$OUT/tests-$name.log" | head -20
}
run_tests a 90 test/float16.test.ts test/amp.test.ts test/webgpu-subgroups.test.ts test/webgpu-matmul-designs-sg.test.ts test/webgpu-matmul-designs-sgrows.test.ts test/webgpu-matmul-designs.test.ts test/webgpu-reduce-subgroup.test.ts test/nan-numerics.test.ts test/webgpu-kernel-paths.test.ts test/webgpu-large-dispatch.test.ts test/webgpu-bn2d.test.ts test/autotune-cache.test.ts
run_tests b 90 test/op-suite.test.ts test/core-ops-suite.test.ts test/conv-suite.test.ts test/webgpu-backend.test.ts test/webgpu-training.test.ts test/run-ahead.test.ts test/webgpu-reduce-designs.test.ts test/mlp-parity.test.ts
say done
