// Exits 0 when Dawn (the `webgpu` package) finds a WebGPU adapter on this machine, 1 otherwise.
// Used by install-vulkan-driver.sh to install a driver only when none works.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const adapter = await create([]).requestAdapter();
if (!adapter) {
  console.error('probe-adapter: no WebGPU adapter');
  process.exit(1);
}
const info = adapter.info ?? {};
console.log(`probe-adapter: ${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'adapter found'}`);
process.exit(0);
