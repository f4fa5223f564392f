import { mkdir, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkConfigList } from './cni/cni-runner.js';

/**
 * ignite's default network: bridge `ignite0` on 10.61.0.0/16 (as later Ignite versions chose),
 * host-local addresses, masquerade to the outside, host ports through portmap, and the firewall
 * plugin so forwarded traffic is allowed. It serves `docker-bridge` (Docker's network, without
 * Docker) and is installed for `cni` when /etc/cni/net.d has no configuration.
 */
export const DEFAULT_NETWORK: NetworkConfigList = {
  cniVersion: '1.0.0',
  name: 'ignite-cni-bridge',
  plugins: [
    {
      type: 'bridge',
      bridge: 'ignite0',
      isGateway: true,
      isDefaultGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.61.0.0/16' }]],
      },
    },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    { type: 'firewall' },
  ],
};

export const DEFAULT_CONFLIST_NAME = '10-ignite.conflist';

/** Writes the default network to `<dir>/10-ignite.conflist` (atomically). */
export async function installDefaultNetwork(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, DEFAULT_CONFLIST_NAME);
  await writeFile(`${path}.tmp`, `${JSON.stringify(DEFAULT_NETWORK, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
  return path;
}
