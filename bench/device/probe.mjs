// Prints what Dawn sees: every adapter's info, its features and subgroup sizes.
import { create } from 'webgpu';
const gpu = create([]);
for (const pp of ['high-performance', 'low-power']) {
  const a = await gpu.requestAdapter({ powerPreference: pp });
  if (!a) { console.log(pp, ': no adapter'); continue; }
  const i = a.info ?? {};
  console.log(pp, ':', JSON.stringify({ vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
    subgroupMinSize: i.subgroupMinSize, subgroupMaxSize: i.subgroupMaxSize }));
  console.log('  features:', [...a.features].sort().join(' '));
  console.log('  maxComputeInvocationsPerWorkgroup', a.limits.maxComputeInvocationsPerWorkgroup, 'maxStorageBufferBindingSize', a.limits.maxStorageBufferBindingSize, 'maxBufferSize', a.limits.maxBufferSize);
}
process.exit(0);
