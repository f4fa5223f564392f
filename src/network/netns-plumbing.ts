import { failedPrecondition } from '../errors.js';
import { run } from '../system/exec.js';

/**
 * The links inside a VM's network namespace, set up with one `ip` and one `tc` process each
 * reading a batch, instead of an `ip netns exec` per command: each of those was a process pair,
 * and together they were most of a VM's network set-up time.
 */
export interface TapPlumbing {
  /** The namespace's CNI interface, whose MAC and address the guest takes over. */
  uplink: string;
  tap: string;
  mtu: number;
  /** A link-local address on the tap for the DHCP server, which the guest never routes to. */
  serverIP: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;

/** Batch lines carry no quoting: every value in them is checked to be one plain word. */
function checked(p: TapPlumbing): TapPlumbing {
  if (!NAME.test(p.uplink) || !NAME.test(p.tap) || !IPV4.test(p.serverIP))
    throw failedPrecondition(`network: bad interface plumbing ${JSON.stringify(p)}`);
  if (!Number.isInteger(p.mtu) || p.mtu < 68 || p.mtu > 65535)
    throw failedPrecondition(`network: bad MTU ${p.mtu}`);
  return p;
}

/** `ip -batch` lines: loopback up, the uplink's address dropped, the tap made and addressed. */
export function ipBatch(plumbing: TapPlumbing): string {
  const p = checked(plumbing);
  return [
    'link set lo up',
    `addr flush dev ${p.uplink}`,
    `tuntap add dev ${p.tap} mode tap`,
    `link set ${p.tap} mtu ${p.mtu} up`,
    `addr add ${p.serverIP}/32 dev ${p.tap}`,
    '',
  ].join('\n');
}

/**
 * `tc -batch` lines: every frame from the uplink goes to the tap and back, except DHCP requests
 * from the guest, which a u32 match without an action keeps in the namespace for the server.
 */
export function tcBatch(plumbing: TapPlumbing): string {
  const p = checked(plumbing);
  const redirect = (from: string, to: string, prio: number) =>
    `filter add dev ${from} parent ffff: prio ${prio} protocol all u32 match u8 0 0 action mirred egress redirect dev ${to}`;
  return [
    `qdisc add dev ${p.uplink} ingress`,
    redirect(p.uplink, p.tap, 1),
    `qdisc add dev ${p.tap} ingress`,
    `filter add dev ${p.tap} parent ffff: prio 1 protocol ip u32 match ip protocol 17 0xff match ip dport 67 0xffff flowid ffff:1`,
    redirect(p.tap, p.uplink, 2),
    '',
  ].join('\n');
}

/** Joins the tap to the uplink inside `netns`. */
export async function plumbTap(netns: string, plumbing: TapPlumbing): Promise<void> {
  await run('ip', ['-n', netns, '-batch', '-'], { input: ipBatch(plumbing) });
  await run('tc', ['-n', netns, '-batch', '-'], { input: tcBatch(plumbing) });
}

/** A link's MAC address and MTU, read inside `netns` by one `ip -json` call. */
export async function linkInfo(netns: string, dev: string): Promise<{ mac: string; mtu: number }> {
  const { stdout } = await run('ip', ['-n', netns, '-json', 'link', 'show', 'dev', dev]);
  const [link] = JSON.parse(stdout) as { address?: string; mtu?: number }[];
  if (link?.address === undefined || link.mtu === undefined)
    throw failedPrecondition(`network: ${dev} in ${netns} has no MAC address or MTU`);
  return { mac: link.address, mtu: link.mtu };
}
