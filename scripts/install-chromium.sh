#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (test/browser/), only when it is missing.
# Headless Chromium runs WebGPU on its built-in SwiftShader, so no GPU is needed. Never downloads
# a browser build of its own: the tests drive the system Chromium through playwright-core.
#
#   bash scripts/install-chromium.sh
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || [ -n "${CHROMIUM_PATH:-}" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-chromium: needs root (or sudo) to run apt-get" >&2; exit 1; }
  SUDO=sudo
fi
command -v apt-get >/dev/null || { echo "install-chromium: no apt-get; install Chromium by hand and set CHROMIUM_PATH" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium
command -v chromium >/dev/null || { echo "install-chromium: chromium is still missing after apt-get install" >&2; exit 1; }
chromium --version || true
