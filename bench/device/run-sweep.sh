#!/usr/bin/env bash
# Device call 2: every matmul design x shape on the NVIDIA adapter (with and without the readback),
# the autotune's choices, and the design test files.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/run-sweep.log") 2>&1
T0=$(date +%s); say() { printf '[sweep %3ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
say "$(date -u)"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
source bench/device/setup.sh
P="timeout -k 5 100 node --import tsx bench/matmul-probe.ts --sweep --products=8 --rounds=3"
say "square sizes, three patterns"
$P --patterns=NN,NT,TN 1024x1024x1024 2048x2048x2048 4096x4096x4096 > "$OUT/sweep-square.log" 2>&1; say "exit $?"
grep -v Warning "$OUT/sweep-square.log" | awk '{c[$1" "$2]++} c[$1" "$2]<=6' | head -80
say "MLP shapes"
{ $P --patterns=NT 128x784x512 128x512x512; $P --patterns=NN 128x512x784 128x512x512; $P --patterns=TN 512x128x784 512x128x512; } > "$OUT/sweep-mlp.log" 2>&1; say "exit $?"
grep -v Warning "$OUT/sweep-mlp.log" | awk '{c[$1" "$2]++} c[$1" "$2]<=5' | head -60
say "autotune"
timeout -k 5 60 node --import tsx bench/matmul-probe.ts 1024 4096 2>&1 | grep -v Warning
say "design tests"
timeout -k 5 90 node node_modules/vitest/vitest.mjs run test/webgpu-matmul-designs-sg.test.ts test/webgpu-matmul-designs.test.ts test/webgpu-matmul-designs-sgrows.test.ts > "$OUT/tests-designs.log" 2>&1
say "tests exit $?"; grep -E 'Test Files|Tests  |FAIL' "$OUT/tests-designs.log" | head -20
say done
