export type {
  Availability,
  BlockStats,
  ExitInfo,
  RunningVM,
  VMConfig,
  VMMDriver,
  VMMName,
} from './vmm-driver.js';
export { QemuDriver, type QemuDriverOptions } from './qemu/qemu-driver.js';
export { chooseAccel, type AccelChoice } from './qemu/accel-probe.js';
export type { Accel } from './qemu/qemu-command.js';
export {
  FirecrackerDriver,
  type FirecrackerDriverOptions,
} from './firecracker/firecracker-driver.js';
