import type { DefaultedVM } from '../api/index.js';
import { failedPrecondition, invalidArgument, notFound } from '../errors.js';
import { formatIPv4, isHostOf, parseIPv4, parseSubnet } from '../network/ipv4.js';
import { conflistFor, gatewayOf } from '../network/named-network.js';
import type { NamedNetworkTarget } from '../network/vm-network.js';
import { networkConfigOf } from './networks.js';
import type { Services } from './services.js';

export type NetworkTargetServices = Pick<Services, 'client' | 'layout' | 'namedNetworks'>;

/**
 * The named network of a VM's interface, from its Network object, with the static address
 * checked against the subnet; undefined for a VM on its mode's network. With `ensure` (at
 * start), the network's CNI file and rules are put in place again, as after a host reboot.
 */
export async function networkTargetOf(
  s: NetworkTargetServices,
  vm: Pick<DefaultedVM, 'spec' | 'metadata'>,
  options: { ensure?: boolean } = {},
): Promise<NamedNetworkTarget | undefined> {
  const label = `vm "${vm.metadata.name ?? ''}"`;
  const networks = vm.spec.network.networks ?? [];
  const [first, ...more] = networks;
  if (first === undefined) return undefined;
  if (more.length > 0)
    throw failedPrecondition(
      `${label}: ${networks.length} networks asked; one interface per VM is supported`,
      { hint: 'give one --network' },
    );
  const net = await s.client.networks.findByName(first.name);
  if (net === undefined)
    throw notFound(`network "${first.name}": not found`, {
      hint: `create it with: ignite network create ${first.name} --subnet CIDR`,
    });
  const config = networkConfigOf(net);
  if (first.ip !== undefined) {
    const subnet = parseSubnet(net.spec.subnet);
    const ip = parseIPv4(first.ip);
    if (ip === undefined || !isHostOf(subnet, ip))
      throw invalidArgument(
        `${label}: address ${first.ip} is outside network "${first.name}" (${net.spec.subnet})`,
      );
    if (formatIPv4(ip) === gatewayOf(config))
      throw invalidArgument(
        `${label}: address ${first.ip} is the gateway of network "${first.name}"`,
      );
  }
  if (options.ensure === true)
    await s.namedNetworks.ensure(config, s.layout.networkConflist(config.name));
  return {
    name: first.name,
    list: conflistFor(config),
    isolated: config.isolated,
    ...(first.ip !== undefined ? { ip: first.ip } : {}),
    ...(first.mac !== undefined ? { mac: first.mac.toLowerCase() } : {}),
  };
}
