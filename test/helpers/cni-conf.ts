import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes a CNI network of a test's own into `confDir`: the default network's plugins (bridge with
 * host-local IPAM, portmap, firewall) on a bridge and subnet that no other test uses.
 */
export async function writeBridgeNetwork(
  confDir: string,
  net: { name: string; bridge: string; subnet: string },
): Promise<void> {
  await writeFile(
    join(confDir, `10-${net.name}.conflist`),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: net.name,
      plugins: [
        {
          type: 'bridge',
          bridge: net.bridge,
          isGateway: true,
          ipMasq: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: net.subnet }]] },
        },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
        { type: 'firewall' },
      ],
    }),
  );
}
