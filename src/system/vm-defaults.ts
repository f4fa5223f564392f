import { IGNITE_V04_DEFAULTS, normalizeImageRef, type VMDefaults } from '../api/index.js';
import type { HostConfig } from './host-config.js';

/**
 * Defaults for new VMs: Ignite v0.4.0's, except the kernel image where IGNITE_KERNEL_IMAGE sets
 * one (Ignite's is on Docker Hub, which not every host reaches), and the network without root:
 * `user`, the only mode that needs no privilege.
 */
export function hostVMDefaults(
  config: Pick<HostConfig, 'kernelImage'> & Partial<Pick<HostConfig, 'rootless'>>,
): VMDefaults {
  return {
    ...IGNITE_V04_DEFAULTS,
    ...(config.kernelImage !== undefined
      ? { kernelImage: normalizeImageRef(config.kernelImage) }
      : {}),
    ...(config.rootless === true ? { networkMode: 'user' as const } : {}),
  };
}
