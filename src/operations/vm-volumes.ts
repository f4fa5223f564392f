import type { StoredVM, VM } from '../api/index.js';
import { failedPrecondition, invalidArgument, notFound } from '../errors.js';
import type { VMConfig } from '../vmm/vmm-driver.js';
import type { Services } from './services.js';
import { vmLabel } from './vm-paths.js';
import { isVMRunning } from './vm-state.js';
import { attachedVolumes, namedVolumes, volumeConflict } from './vm-storage.js';

/**
 * Checks on the host what a VM's volumes name, before the VM is stored: named volumes exist,
 * block devices are block devices, image files regular files, shared directories directories,
 * and the hypervisor has a device for each.
 */
export async function checkVolumeSources(
  s: Pick<Services, 'client' | 'hostFiles'>,
  vm: VM,
  vmm: 'qemu' | 'firecracker',
): Promise<void> {
  const label = vmLabel(vm);
  for (const a of attachedVolumes(vm.spec.storage)) {
    const what = `${label}: volume "${a.name}"`;
    const src = a.source;
    if (src.kind === 'volume') {
      const found = await s.client.volumes.tryFind(src.name);
      if (found === undefined || found.metadata.name !== src.name)
        throw notFound(`${what}: no volume named "${src.name}"`, {
          hint: `create it with: ignite volume create ${src.name} --size 1GB`,
        });
    } else if (src.kind === 'blockDevice') {
      if (!(await s.hostFiles.isBlockDevice(src.path)))
        throw invalidArgument(`${what}: ${src.path} is not a block device on the host`);
    } else if (src.kind === 'file') {
      if (!(await s.hostFiles.isFile(src.path)))
        throw invalidArgument(`${what}: ${src.path} is not a regular file on the host`);
    } else {
      if (vmm === 'firecracker')
        throw invalidArgument(`${what}: firecracker has no shared-directory device`, {
          hint: 'share it with a QEMU VM (--vmm qemu), or put the files on a volume',
        });
      if (!(await s.hostFiles.isDirectory(src.path)))
        throw invalidArgument(`${what}: ${src.path} is not a directory on the host`);
    }
  }
}

/** The extra disks and shared directories of a VM's hypervisor config, in attach order. */
export async function volumeDevices(
  s: Pick<Services, 'client' | 'layout'>,
  vm: StoredVM,
): Promise<Pick<VMConfig, 'disks' | 'shares'>> {
  const disks: NonNullable<VMConfig['disks']> = [];
  const shares: NonNullable<VMConfig['shares']> = [];
  for (const a of attachedVolumes(vm.spec.storage)) {
    const src = a.source;
    if (src.kind === 'directory') {
      shares.push({ tag: a.tag ?? '', path: src.path, readOnly: a.readOnly });
      continue;
    }
    let path: string;
    if (src.kind === 'volume') {
      const vol = await s.client.volumes.tryFind(src.name);
      if (vol === undefined || vol.metadata.name !== src.name)
        throw failedPrecondition(`${vmLabel(vm)}: volume "${src.name}" no longer exists`);
      path = s.layout.volumeFile(vol.metadata.uid);
    } else {
      path = src.path;
    }
    disks.push({ path, readOnly: a.readOnly });
  }
  return { ...(disks.length > 0 ? { disks } : {}), ...(shares.length > 0 ? { shares } : {}) };
}

/**
 * Refuses to run `vm` while another running VM holds one of its named volumes, unless both
 * mount it read-only. `except` is left out (the VM itself). Returns the named volumes other
 * running VMs hold.
 */
export async function checkVolumeConflicts(
  s: Pick<Services, 'client' | 'processes' | 'runtimeFiles'>,
  vm: VM,
  except?: string,
): Promise<Set<string>> {
  const held = new Set<string>();
  const mine = namedVolumes(vm.spec.storage);
  if (mine.length === 0) return held;
  for (const other of await s.client.vms.list()) {
    if (other.metadata.uid === except || !isVMRunning(s, other)) continue;
    const theirs = namedVolumes(other.spec.storage);
    for (const t of theirs) held.add(t.volume);
    const volume = volumeConflict(mine, theirs);
    if (volume !== undefined) {
      throw failedPrecondition(
        `${vmLabel(vm)}: volume "${volume}" is attached to running vm "${other.metadata.name}"`,
        { hint: 'a volume is shared between running VMs only when all mount it read-only (:ro)' },
      );
    }
  }
  return held;
}

/**
 * Replays the journal of each ext4 volume `vm` mounts read-only that no other running VM holds
 * (`held`): its read-only device could not, and a VM killed while writing leaves one to replay.
 * Run under the host's volume lock, so no VM attaches the volume meanwhile.
 */
export async function recoverReadOnlyVolumes(
  s: Pick<Services, 'client' | 'layout' | 'volumeFiles'>,
  vm: VM,
  held: ReadonlySet<string>,
): Promise<void> {
  for (const m of namedVolumes(vm.spec.storage)) {
    if (!m.readOnly || held.has(m.volume)) continue;
    const vol = await s.client.volumes.tryFind(m.volume);
    if (vol === undefined || vol.metadata.name !== m.volume || vol.spec.format === 'raw') continue;
    await s.volumeFiles.recover(
      s.layout.volumeFile(vol.metadata.uid),
      `${vmLabel(vm)}: volume "${m.volume}"`,
    );
  }
}
