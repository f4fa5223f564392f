import { createHash } from 'node:crypto';

/** A locally administered unicast MAC derived from `seed`: the same seed gives the same MAC. */
export function stableMac(seed: string): string {
  const b = createHash('sha256').update(seed).digest().subarray(0, 6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The MAC of a VM's guest NIC whose interface key is `key`, when the network does not set one. */
export function guestMac(key: string): string {
  return stableMac(`ignite guest ${key}`);
}
