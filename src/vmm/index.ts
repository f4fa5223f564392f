export type {
  Availability,
  BlockStats,
  Capability,
  ExitInfo,
  RunningVM,
  SavedStateInfo,
  VMConfig,
  VMMCapabilities,
  VMMDriver,
  VMMName,
  VMStartOptions,
} from './vmm-driver.js';
export { removeSavedState, SIDECAR_SUFFIX, type StateSidecar } from './saved-state.js';
export { createCloneOverlay, freezeOverlay } from './disk/overlay-snapshot.js';
export { QemuDriver, type QemuDriverOptions } from './qemu/qemu-driver.js';
export { chooseAccel, type AccelChoice } from './qemu/accel-probe.js';
export type { Accel } from './qemu/qemu-command.js';
export {
  FirecrackerDriver,
  type FirecrackerDriverOptions,
} from './firecracker/firecracker-driver.js';
