#!/usr/bin/env bash
# Runs the benchmark harness with --large on a Linux x86-64 machine with a GPU, where Node, the npm
# packages and the Vulkan loader may all be missing and nothing can be downloaded. Everything comes
# from .device/ (built by bench/prepare-device.sh and carried along):
#
#   1. node: the one on PATH if it is v20 or newer, else .device/node.xz unpacked to a temp folder;
#   2. node_modules: the repo's if complete, else .device/bench-node-modules.tar.xz unpacked to a
#      temp folder and linked as <repo>/node_modules (the link is removed at exit);
#   3. the Vulkan loader (and libglvnd, which NVIDIA's Vulkan driver links against): the system's
#      where ldconfig knows them, else Debian's from .device/vulkan (dpkg-deb -x'ed there) through
#      LD_LIBRARY_PATH; /usr/local/nvidia/lib{64,} joins LD_LIBRARY_PATH when present;
#   4. the driver: VK_DRIVER_FILES (and VK_ICD_FILENAMES) set to NVIDIA's manifest when neither is
#      set and one exists, else left to the loader (on a machine without a GPU: lavapipe);
#   5. PyTorch's float32 matmul (TF32 off) at the same sizes, if python3 imports torch (CUDA if it
#      sees a GPU, else CPU), merged into the table as one more column;
#   6. the harness, `bench/run.ts --large` plus any arguments given to this script.
# All of it within GPU_SH_BUDGET seconds (default 470, under 8 minutes). Results (latest.json,
# latest.md, torch-matmul.json, gpu-run.log) go to $OUT if set, else bench/results/.
#
#   bash bench/gpu.sh                    # on the GPU machine, .device/ carried along
#   bash bench/gpu.sh --quick            # extra arguments go to bench/run.ts
set -uo pipefail

START=$(date +%s)
BUDGET=${GPU_SH_BUDGET:-470}
DEADLINE=$((START + BUDGET))
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEV=${DEVICE_DIR:-$ROOT/.device}
RESULTS=${OUT:-$ROOT/bench/results}
mkdir -p "$RESULTS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/webgrad-gpu.XXXXXX")
LINKED_NM=""
cleanup() {
  [ -n "$LINKED_NM" ] && [ -L "$LINKED_NM" ] && rm -f "$LINKED_NM"
  rm -rf "$WORK"
}
trap cleanup EXIT
exec > >(tee "$RESULTS/gpu-run.log") 2>&1

say() { printf '[gpu.sh %3ds] %s\n' "$(($(date +%s) - START))" "$*"; }
die() { say "ERROR: $*"; exit 1; }
left() { echo $((DEADLINE - $(date +%s))); }

PYTHONS=()
for p in python3 /usr/bin/python3; do command -v "$p" >/dev/null 2>&1 && PYTHONS+=("$(command -v "$p")"); done

# xz-compressed file -> file, with xz or, failing that, Python's lzma.
unxz_to() {
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" >"$2"
  elif [ ${#PYTHONS[@]} -gt 0 ]; then "${PYTHONS[0]}" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  else die "neither xz nor python3 is here to unpack $1"; fi
}
# .tar.xz -> folder
untar_xz() {
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" | tar -x -C "$2"
  elif [ ${#PYTHONS[@]} -gt 0 ]; then "${PYTHONS[0]}" -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$1" "$2"
  else die "neither xz nor python3 is here to unpack $1"; fi
}
ldcache() { { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true; }; }

say "machine: $(uname -srm); $(nproc 2>/dev/null || echo '?') cores; $( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || echo 'unknown OS')"
command -v nvidia-smi >/dev/null 2>&1 && say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
[ -d "$DEV" ] || say "note: $DEV is missing; everything must already be on this machine"

# ---- 1. node ----
NODE=""
# GPU_SH_FORCE_CARRIED=1 ignores this machine's node and libraries (to test the carried ones anywhere).
FORCE=${GPU_SH_FORCE_CARRIED:-0}
if [ "$FORCE" != 1 ] && command -v node >/dev/null 2>&1; then
  case "$(node --version 2>/dev/null)" in v2[0-9].*|v[3-9][0-9].*) NODE=$(command -v node) ;; esac
fi
if [ -z "$NODE" ]; then
  [ -f "$DEV/node.xz" ] || die "no node >= 20 on PATH and no $DEV/node.xz (run bench/prepare-device.sh where there is a network)"
  mkdir -p "$WORK/bin"
  unxz_to "$DEV/node.xz" "$WORK/bin/node" || die "could not unpack $DEV/node.xz"
  chmod +x "$WORK/bin/node"
  NODE=$WORK/bin/node
  "$NODE" --version >/dev/null 2>&1 || die "the unpacked node does not run here (glibc older than 2.28?): $("$NODE" --version 2>&1 | head -2)"
fi
NODE_DIR=$(dirname "$NODE")
export PATH="$NODE_DIR:$PATH"
say "node $("$NODE" --version) at $NODE"

# ---- 2. node_modules ----
NEEDED="webgpu/index.js webgpu/dist/linux-x64/dawn.node tsx/dist/cli.mjs esbuild/lib/main.js @jax-js/jax/package.json
  @tensorflow/tfjs/dist/tf.node.js @tensorflow/tfjs-core/dist/tf-core.node.js @tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js"
complete() { local f; for f in $NEEDED; do [ -e "$1/$f" ] || return 1; done; }
if [ "$FORCE" != 1 ] && complete "$ROOT/node_modules"; then
  say "node_modules: the repo's own"
else
  [ -f "$DEV/bench-node-modules.tar.xz" ] || die "node_modules is incomplete and $DEV/bench-node-modules.tar.xz is missing"
  if [ "$FORCE" = 1 ] && [ -e "$ROOT/node_modules" ] && [ ! -L "$ROOT/node_modules" ]; then
    die "GPU_SH_FORCE_CARRIED=1 needs a checkout without node_modules (copy the tree elsewhere first)"
  elif [ -e "$ROOT/node_modules" ] && [ ! -L "$ROOT/node_modules" ]; then
    say "node_modules: incomplete; unpacking the carried packages into it"
    untar_xz "$DEV/bench-node-modules.tar.xz" "$ROOT/node_modules" || die "unpacking node_modules failed"
  else
    rm -f "$ROOT/node_modules"
    mkdir -p "$WORK/node_modules"
    untar_xz "$DEV/bench-node-modules.tar.xz" "$WORK/node_modules" || die "unpacking node_modules failed"
    ln -s "$WORK/node_modules" "$ROOT/node_modules"
    LINKED_NM=$ROOT/node_modules
    say "node_modules: unpacked from $DEV into $WORK/node_modules (linked from the repo for this run)"
  fi
  complete "$ROOT/node_modules" || die "node_modules still lacks some of: $NEEDED"
fi

# ---- 3. the Vulkan loader and libglvnd ----
PRIVATE=$DEV/vulkan/usr/lib/x86_64-linux-gnu
LIBPATH=""
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && LIBPATH="$LIBPATH:$d"; done
mkdir -p "$WORK/lib"
BORROWED=""
for lib in libvulkan.so.1 libGLdispatch.so.0 libGLX.so.0 libEGL.so.1 libGL.so.1 libOpenGL.so.0; do
  if [ "$FORCE" != 1 ] && ldcache | grep -q "[[:space:]]$lib "; then continue; fi
  found=""
  for d in ${LIBPATH//:/ }; do [ -e "$d/$lib" ] && found=$d; done
  [ -n "$found" ] && continue
  if [ -e "$PRIVATE/$lib" ]; then
    ln -s "$(readlink -f "$PRIVATE/$lib")" "$WORK/lib/$lib"
    BORROWED="$BORROWED $lib"
  elif [ "$lib" = libvulkan.so.1 ]; then
    say "WARNING: no libvulkan.so.1 on this machine nor in $PRIVATE: Dawn will find no adapter"
  fi
done
[ -n "$BORROWED" ] && LIBPATH="$LIBPATH:$WORK/lib" && say "borrowed from $DEV/vulkan (Debian's):$BORROWED"
if [ -n "$LIBPATH" ]; then
  LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}$LIBPATH"
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH#:}"
  say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
fi

# ---- 4. the driver ----
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then
      export VK_DRIVER_FILES=$f VK_ICD_FILENAMES=$f
      break
    fi
  done
fi
if [ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  ICD=${VK_DRIVER_FILES:-$VK_ICD_FILENAMES}
  say "Vulkan driver manifest: $ICD ($(grep -o '"library_path"[^,}]*' "$ICD" 2>/dev/null | head -1))"
else
  manifests=""
  for f in /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; do [ -e "$f" ] && manifests="$manifests $(basename "$f")"; done
  say "no NVIDIA Vulkan manifest found; the loader picks among:${manifests:- none}"
fi

# ---- 5. PyTorch ----
EXTRA=()
SIZES=256,512,1024,2048,4096
for a in "$@"; do case "$a" in --sizes=*) SIZES=${a#--sizes=} ;; esac; done
TORCH_PY=""
for p in "${PYTHONS[@]}"; do
  if timeout 60 "$p" -c 'import torch' >/dev/null 2>&1; then TORCH_PY=$p; break; fi
done
if [ -n "$TORCH_PY" ]; then
  TDEV=$(timeout 60 "$TORCH_PY" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")' 2>/dev/null || echo cpu)
  T=$(( $(left) - 300 ))
  [ "$T" -gt 120 ] && T=120
  if [ "$T" -ge 20 ]; then
    say "PyTorch ($TORCH_PY, device $TDEV): float32 matmul at $SIZES, TF32 off, up to ${T}s"
    PYTHONUNBUFFERED=1 timeout --kill-after=5 "$T" "$TORCH_PY" bench/torch_matmul.py --sizes "$SIZES" --device "$TDEV" \
      --budget 4 --out "$RESULTS/torch-matmul.json"
    rc=$?
    if [ -s "$RESULTS/torch-matmul.json" ]; then EXTRA+=("--external=$RESULTS/torch-matmul.json")
    else say "PyTorch timing failed (exit $rc)"; fi
  else
    say "PyTorch skipped: too little time left"
  fi
else
  say "PyTorch skipped: no python3 here imports torch"
fi

# ---- 6. the harness ----
T=$(( $(left) - 10 ))
[ "$T" -ge 60 ] || die "only ${T}s left for the harness"
say "harness: bench/run.ts --large --timeout=90 $* (up to ${T}s)"
# tsx as a loader in this same process (no child process), so that timeout's signal reaches it.
timeout --kill-after=10 "$T" "$NODE" --import tsx bench/run.ts --large --timeout=90 --out="$RESULTS" "${EXTRA[@]}" "$@"
rc=$?
[ "$rc" -eq 124 ] && say "the harness ran out of time; $RESULTS/latest.* hold what it measured until then"
say "done (harness exit $rc); in $RESULTS:$(for f in "$RESULTS"/*; do printf ' %s' "$(basename "$f")"; done)"
exit "$rc"
