import type { HostConfig } from '../system/host-config.js';
import type { RegistryClientOptions } from './registry-client.js';

/** The registry client's options from the host's settings: insecure registries, credentials. */
export function registryOptions(
  config: Pick<HostConfig, 'insecureRegistries' | 'dockerConfigDir'>,
): RegistryClientOptions {
  return {
    insecureRegistries: config.insecureRegistries,
    ...(config.dockerConfigDir !== undefined ? { dockerConfigDir: config.dockerConfigDir } : {}),
  };
}
