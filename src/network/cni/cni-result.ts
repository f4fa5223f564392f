import { failedPrecondition } from '../../errors.js';
import type { CNIResult, NetworkConfigList } from './cni-runner.js';

/** A CNI result's IPv4 address, its prefix length and gateway. */
export function ipv4Of(
  result: CNIResult,
): { address: string; prefixLength: number; gateway: string | undefined } | undefined {
  const ip = result.ips?.find((i) => !i.address.includes(':'));
  if (ip === undefined) return undefined;
  const [address = '', prefix = '32'] = ip.address.split('/');
  const gateway = ip.gateway ?? result.routes?.find((r) => r.dst === '0.0.0.0/0')?.gw;
  return { address, prefixLength: Number(prefix), gateway };
}

/** The host end of the VM's veth pair: the result's interface outside any sandbox, not a bridge. */
export function hostVeth(list: NetworkConfigList, result: CNIResult): string {
  const bridges = new Set(list.plugins.map((p) => p['bridge']));
  const veth = result.interfaces?.find((i) => i.sandbox === undefined && !bridges.has(i.name));
  if (veth === undefined) throw failedPrecondition('network: the bridge plugin named no host veth');
  return veth.name;
}
