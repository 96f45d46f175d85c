#!/usr/bin/env bash
# One device call: unpack node and node_modules, probe the adapter, PyTorch's matmul, bench/gpu.sh
# (the GPU table), then the GPU test files on the NVIDIA adapter. Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD; OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/run-all.log") 2>&1
T0=$(date +%s); say() { printf '[run-all %3ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
say "$(date -u) $(uname -srm) $(nproc) cores"; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
source bench/device/setup.sh
# PyTorch float32 matmul, TF32 off
SIZES=1024,2048,4096,8192
PYTHONUNBUFFERED=1 timeout 60 python3 bench/torch_matmul.py --sizes $SIZES --device cuda --budget 3 --out "$OUT/torch-matmul.json" || say "torch failed ($?)"
say "bench/gpu.sh"
EXT=(); [ -s "$OUT/torch-matmul.json" ] && EXT=(--external="$OUT/torch-matmul.json")
GPU_SH_BUDGET=${GPU_BUDGET:-290} bash bench/gpu.sh --sizes=$SIZES --no-cpu --reps=5 --budget=6 --peers=webgrad,tfjs,jaxjs "${EXT[@]}"
say "gpu.sh exit $?"
run_tests() { # name limit files...
  local name=$1 lim=$2; shift 2
  say "tests $name: $*"
  timeout -k 5 "$lim" node node_modules/vitest/vitest.mjs run --reporter=verbose "$@" >"$OUT/tests-$name.log" 2>&1
  say "tests $name exit $? ($(grep -c '✓' "$OUT/tests-$name.log") ok lines, $(grep -c '×' "$OUT/tests-$name.log") failed lines)"
  grep -E 'Test Files|Tests  |FAIL' "$OUT/tests-$name.log" | head -30
}
run_tests a ${TA:-70} test/float16.test.ts test/amp.test.ts test/webgpu-subgroups.test.ts test/webgpu-matmul-designs-sg.test.ts test/webgpu-reduce-subgroup.test.ts test/nan-numerics.test.ts test/webgpu-kernel-paths.test.ts test/webgpu-large-dispatch.test.ts test/webgpu-bn2d.test.ts
run_tests b ${TB:-80} test/op-suite.test.ts test/core-ops-suite.test.ts test/conv-suite.test.ts test/webgpu-matmul-designs.test.ts test/webgpu-backend.test.ts test/webgpu-training.test.ts test/run-ahead.test.ts test/webgpu-reduce-designs.test.ts
say "done"
