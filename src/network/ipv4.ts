import { invalidArgument } from '../errors.js';

/** An IPv4 subnet as numbers: its first address, its size and prefix length. */
export interface Subnet4 {
  /** The subnet's network address, as a 32-bit number. */
  base: number;
  prefix: number;
  size: number;
}

const OCTETS = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An IPv4 address as a 32-bit number, or undefined when `s` is not one. */
export function parseIPv4(s: string): number | undefined {
  const m = OCTETS.exec(s);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((a, o) => a * 256 + o, 0);
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/**
 * Parses `A.B.C.D/N` for a network of VMs: a prefix from /8 to /29, so there is room for a
 * gateway and guests. The address may have host bits set; they are dropped.
 */
export function parseSubnet(cidr: string, what = `subnet "${cidr}"`): Subnet4 {
  const [address = '', prefixText = '', ...rest] = cidr.split('/');
  const ip = parseIPv4(address);
  const prefix = Number(prefixText);
  if (rest.length > 0 || ip === undefined || !/^\d{1,2}$/.test(prefixText))
    throw invalidArgument(`${what}: expected an IPv4 subnet such as 10.70.0.0/24`);
  if (prefix < 8 || prefix > 29)
    throw invalidArgument(`${what}: expected a prefix length from /8 to /29, got /${prefix}`);
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), prefix, size };
}

export function formatSubnet(s: Subnet4): string {
  return `${formatIPv4(s.base)}/${s.prefix}`;
}

/** Whether two subnets share any address. */
export function overlaps(a: Subnet4, b: Subnet4): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

/** Whether `ip` is one of the subnet's host addresses (neither its network nor its broadcast). */
export function isHostOf(s: Subnet4, ip: number): boolean {
  return ip > s.base && ip < s.base + s.size - 1;
}

/** The subnet's first host address: host-local's default gateway. */
export function firstHost(s: Subnet4): number {
  return s.base + 1;
}
