import { chmod, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { internal } from '../errors.js';
import { run } from './exec.js';
import type { SSHKeys } from './ssh-keys.js';

/**
 * Generates a VM's SSH key pair, `<dir>/id_<uid>` (mode 0600) and `.pub`, with ssh-keygen, and
 * returns the public key. An existing pair is replaced.
 */
export async function generateSSHKeyPair(dir: string, uid: string): Promise<string> {
  const key = join(dir, `id_${uid}`);
  await rm(key, { force: true });
  await rm(`${key}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `ignite-${uid}`, '-f', key]);
  await chmod(key, 0o600);
  if (((await stat(key)).mode & 0o077) !== 0)
    throw internal(`${key}: private key is readable by others`);
  return (await readFile(`${key}.pub`, 'utf8')).trim();
}

/** Key pairs made with OpenSSH's ssh-keygen. */
export const sshKeygen: SSHKeys = { generate: generateSSHKeyPair };
