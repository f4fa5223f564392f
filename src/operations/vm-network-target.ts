import type { DefaultedVM, VMNetworkAttachment } from '../api/index.js';
import { failedPrecondition, invalidArgument, notFound } from '../errors.js';
import { formatIPv4, isHostOf, parseIPv4, parseSubnet } from '../network/ipv4.js';
import { conflistFor, gatewayOf } from '../network/named-network.js';
import type { NamedNetworkTarget } from '../network/vm-network.js';
import { networkConfigOf } from './networks.js';
import type { Services } from './services.js';

export type NetworkTargetServices = Pick<Services, 'client' | 'layout' | 'namedNetworks'>;

/**
 * The named networks of a VM's interfaces, in order (eth0, eth1, …), each from its Network
 * object with its static address checked against the subnet; empty for a VM on its mode's
 * network. A port that names a network must name one of them. With `ensure` (at start), each
 * network's CNI file and rules are put in place again, as after a host reboot.
 */
export async function networkTargetsOf(
  s: NetworkTargetServices,
  vm: Pick<DefaultedVM, 'spec' | 'metadata'>,
  options: { ensure?: boolean } = {},
): Promise<NamedNetworkTarget[]> {
  const label = `vm "${vm.metadata.name ?? ''}"`;
  const networks = vm.spec.network.networks ?? [];
  const names = networks.map((n) => n.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined)
    throw invalidArgument(`${label}: network "${twice}" is given twice`, {
      hint: 'a VM has one interface per network',
    });
  for (const p of vm.spec.network.ports ?? [])
    if (p.network !== undefined && !names.includes(p.network))
      throw invalidArgument(
        `${label}: port ${p.hostPort}:${p.vmPort} names network "${p.network}", which the VM does not join`,
        { hint: `add --network ${p.network}, or drop "${p.network}:" from the port` },
      );
  if (networks.length > 0 && vm.spec.network.mode === 'user')
    throw failedPrecondition(`${label}: named networks need bridges, which --net user has none of`);
  const targets: NamedNetworkTarget[] = [];
  for (const n of networks) targets.push(await targetOf(s, label, n, options.ensure === true));
  return targets;
}

async function targetOf(
  s: NetworkTargetServices,
  label: string,
  n: VMNetworkAttachment,
  ensure: boolean,
): Promise<NamedNetworkTarget> {
  const net = await s.client.networks.findByName(n.name);
  if (net === undefined)
    throw notFound(`network "${n.name}": not found`, {
      hint: `create it with: ignite network create ${n.name} --subnet CIDR`,
    });
  const config = networkConfigOf(net);
  if (n.ip !== undefined) {
    const subnet = parseSubnet(net.spec.subnet);
    const ip = parseIPv4(n.ip);
    if (ip === undefined || !isHostOf(subnet, ip))
      throw invalidArgument(
        `${label}: address ${n.ip} is outside network "${n.name}" (${net.spec.subnet})`,
      );
    if (formatIPv4(ip) === gatewayOf(config))
      throw invalidArgument(`${label}: address ${n.ip} is the gateway of network "${n.name}"`);
  }
  if (ensure) await s.namedNetworks.ensure(config, s.layout.networkConflist(config.name));
  return {
    name: n.name,
    list: conflistFor(config),
    isolated: config.isolated,
    ...(n.ip !== undefined ? { ip: n.ip } : {}),
    ...(n.mac !== undefined ? { mac: n.mac.toLowerCase() } : {}),
  };
}
