import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** The host-local reservations of the default network that belong to `uid`: address → interface. */
export async function reservationsOf(uid: string): Promise<Map<string, string>> {
  const dir = '/var/lib/cni/networks/ignite-cni-bridge';
  const found = new Map<string, string>();
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const content = await readFile(join(dir, f), 'utf8').catch(() => '');
    if (content.includes(`ignite-${uid}`)) found.set(f, content.split(/\s+/)[1] ?? '');
  }
  return found;
}

/** What of a VM's network is still on the host. */
export async function leftovers(uid: string): Promise<string[]> {
  const found: string[] = [];
  if ((await pexec('ip', ['netns', 'list'])).stdout.includes(`ignite-${uid}`)) found.push('netns');
  if ((await pexec('iptables-save', [])).stdout.includes(uid)) found.push('iptables rules');
  for (const ip of (await reservationsOf(uid)).keys()) found.push(`host-local reservation ${ip}`);
  const links = (await pexec('ip', ['-o', 'link'])).stdout;
  for (const l of links.split('\n'))
    if (l.includes('veth') && l.includes(`ignite-${uid}`)) found.push('veth');
  if ((await pexec('pgrep', ['-af', uid]).catch(() => ({ stdout: '' }))).stdout.trim() !== '')
    found.push('processes');
  return found;
}
