#!/usr/bin/env bash
# Installs a software Vulkan driver that Dawn accepts, so WebGPU runs on a machine without a GPU.
# Does nothing when Dawn already finds an adapter. Needs root (or sudo) and Debian/Ubuntu's apt.
#
#   bash scripts/install-vulkan-driver.sh
#
# Debian 12 (bookworm) ships Mesa 22, whose lavapipe Dawn rejects ("shaderUniform*ArrayDynamicIndexing
# required"), so there Mesa 25's lavapipe comes from bookworm-backports. Newer releases (Debian 13,
# Ubuntu 24.04) ship a Mesa that works as is. lavapipe is 3-4x faster than SwiftShader here and
# compiles pipelines far faster, which matters for a test suite that builds many pipelines.
set -euo pipefail
cd "$(dirname "$0")/.."

probe() { node scripts/probe-adapter.mjs; }

if [ -d node_modules/webgpu ] && probe 2>/dev/null; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-vulkan-driver: needs root (or sudo) to run apt-get" >&2; exit 1; }
  SUDO=sudo
fi
command -v apt-get >/dev/null || { echo "install-vulkan-driver: no apt-get; install a Vulkan driver (Mesa >= 23 lavapipe) and libvulkan1 by hand" >&2; exit 1; }

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
export DEBIAN_FRONTEND=noninteractive
if [ "$codename" = bookworm ]; then
  list=/etc/apt/sources.list.d/webgrad-backports.sources
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Derive the backports entry from the machine's own mirror rather than writing one in here.
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      awk 'BEGIN{RS="";ORS="\n\n"} /Suites: bookworm bookworm-updates/' /etc/apt/sources.list.d/debian.sources \
        | sed 's/^Suites: .*/Suites: bookworm-backports/' | $SUDO tee "$list" >/dev/null
    fi
    if [ ! -s "$list" ]; then
      mirror=$(awk '/^deb .* bookworm main/{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
      [ -n "$mirror" ] || { echo "install-vulkan-driver: cannot find the Debian mirror in apt's sources" >&2; exit 1; }
      echo "deb $mirror bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/webgrad-backports.list >/dev/null
      $SUDO rm -f "$list"
    fi
  fi
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1
else
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends mesa-vulkan-drivers libvulkan1
fi

if [ -d node_modules/webgpu ]; then
  probe || { echo "install-vulkan-driver: installed Mesa's lavapipe, but Dawn still finds no adapter" >&2; exit 1; }
fi
