# Sourced by the run-*.sh scripts here (from the repo root, with `say` defined): node and
# node_modules from the carried .device/ (bench/prepare-device.sh), the Vulkan loader where the
# machine lacks it, NVIDIA's manifest, and a probe of the adapter (stops if no NVIDIA adapter shows).
unxz_to() { if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi; }
mkdir -p /tmp/nodebin node_modules
if ! node --version 2>/dev/null | grep -q '^v2'; then unxz_to .device/node.xz >/tmp/nodebin/node && chmod +x /tmp/nodebin/node; export PATH=/tmp/nodebin:$PATH; fi
unxz_to .device/bench-node-modules.tar.xz | tar -x -C node_modules
unxz_to .device/test-node-modules.tar.xz | tar -x -C node_modules --strip-components=1
say "node $(node --version); node_modules: $(ls node_modules | wc -l) entries"
# Vulkan loader (borrowed if missing) and NVIDIA's manifest, for every phase.
mkdir -p /tmp/vklib; LP=""
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && LP="$LP:$d"; done
for lib in libvulkan.so.1 libGLdispatch.so.0 libGLX.so.0 libEGL.so.1 libGL.so.1 libOpenGL.so.0; do
  ldconfig -p 2>/dev/null | grep -q "[[:space:]]$lib " && continue
  [ -e ".device/vulkan/usr/lib/x86_64-linux-gnu/$lib" ] && ln -sf "$(readlink -f .device/vulkan/usr/lib/x86_64-linux-gnu/$lib)" "/tmp/vklib/$lib"
done
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}$LP:/tmp/vklib"
for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  [ -f "$f" ] && { export VK_DRIVER_FILES=$f VK_ICD_FILENAMES=$f; break; }
done
say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}; borrowed: $(ls /tmp/vklib | tr '\n' ' ')"
timeout 30 node bench/device/probe.mjs | tee /tmp/probe.txt || say "probe failed ($?)"
if ! grep -qi 'nvidia' /tmp/probe.txt; then
  say "no NVIDIA adapter: installing the carried loader into / (as the device README does) and probing again"
  ls -la /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1 | head; ldconfig -p | grep -i 'vulkan\|GLX\|EGL' | head
  cp -an .device/vulkan/usr/lib/x86_64-linux-gnu/. /usr/lib/x86_64-linux-gnu/ && ldconfig
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  timeout 30 node bench/device/probe.mjs | tee /tmp/probe.txt || say "probe failed again ($?)"
  grep -qi nvidia /tmp/probe.txt || { say "still no NVIDIA adapter; stopping"; exit 3; }
fi
