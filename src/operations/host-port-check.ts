import type { VM } from '../api/index.js';
import { alreadyExists } from '../errors.js';
import type { Services } from './services.js';
import { vmLabel } from './vm-paths.js';

/**
 * Refuses a host port that another VM or a host process already uses. A stored VM holds the host
 * ports it maps from create to rm, whatever its state, as it holds its address: a stopped VM
 * gets them back when it starts. With `afterStore`, `vm` is already stored, and only VMs stored
 * before it count: of two creates racing for a port, the later one gives way.
 */
export async function checkHostPortsFree(
  s: Pick<Services, 'client' | 'hostPorts'>,
  vm: VM,
  o: { afterStore?: boolean } = {},
): Promise<void> {
  const ports = vm.spec.network?.ports ?? [];
  if (ports.length === 0 || vm.spec.network?.mode === 'none') return;
  const label = vm.metadata.name ? vmLabel(vm) : 'new vm';
  const key = (p: { hostPort: number; protocol?: string | undefined }) =>
    `${p.hostPort}/${p.protocol ?? 'tcp'}`;
  const others = (await s.client.vms.list()).filter(
    (v) =>
      v.metadata.uid !== vm.metadata.uid &&
      v.spec.network?.mode !== 'none' &&
      (!o.afterStore || storedBefore(v, vm)),
  );
  const byOtherVM = new Map<string, VM>();
  for (const v of others) for (const p of v.spec.network?.ports ?? []) byOtherVM.set(key(p), v);
  for (const p of ports) {
    const other = byOtherVM.get(key(p));
    if (other)
      throw alreadyExists(`${label}: host port ${key(p)} is already used by ${vmLabel(other)}`);
  }
  if (o.afterStore) return;
  const used = await s.hostPorts.inUse();
  for (const p of ports) {
    if (used.has(key(p)))
      throw alreadyExists(`${label}: host port ${key(p)} is already used by a host process`);
  }
}

function storedBefore(a: VM, b: VM): boolean {
  const ta = a.metadata.created ?? '';
  const tb = b.metadata.created ?? '';
  return ta !== tb ? ta < tb : (a.metadata.uid ?? '') < (b.metadata.uid ?? '');
}
