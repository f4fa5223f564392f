import { randomBytes } from 'node:crypto';

/** Accepted on input: Ignite allowed any 16 lower-case letters or digits. */
export const UID_PATTERN = /^[a-z0-9]{16}$/;

/** New UIDs are 8 random bytes in lower-case hex, as in Ignite. */
export function newUID(): string {
  return randomBytes(8).toString('hex');
}

export function isUID(s: string): boolean {
  return UID_PATTERN.test(s);
}
