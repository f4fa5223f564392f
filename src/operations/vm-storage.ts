import {
  volumeSource,
  type VMStorageSpec,
  type VMVolume,
  type VMVolumeSource,
  type VolumeMount,
} from '../api/index.js';
import { invalidArgument } from '../errors.js';

/**
 * How a VM's volumes are attached and mounted, decided once from `spec.storage` so the root
 * disk's `/etc/fstab` (written at create) and the hypervisor's devices (at each start) agree:
 * disks in the order of `volumes`, the first as `/dev/vdb` (the root disk is `/dev/vda`), and
 * host directories as virtio-9p shares tagged `share0`, `share1`, ….
 */
export interface AttachedVolume {
  /** The volume's name in the VM's spec. */
  name: string;
  source: VMVolumeSource;
  readOnly: boolean;
  /** Where the guest mounts it; none for a volume without a mount. */
  mountPath?: string;
  /** `/dev/vdb`…, for a disk. */
  device?: string;
  /** The 9p mount tag, for a host directory. */
  tag?: string;
}

/** Checks `spec.storage` on its own; a problem names the VM (`label`) and the volume. */
export function checkStorage(storage: VMStorageSpec | undefined, label: string): void {
  const names = new Set<string>();
  for (const v of storage?.volumes ?? []) {
    if (names.has(v.name)) throw invalidArgument(`${label}: volume "${v.name}" is given twice`);
    names.add(v.name);
    if (volumeSource(v) === undefined)
      throw invalidArgument(
        `${label}: volume "${v.name}": give exactly one of blockDevice, volume, file or directory`,
      );
  }
  const mounted = new Set<string>();
  const paths = new Set<string>();
  for (const m of storage?.volumeMounts ?? []) {
    if (!names.has(m.name))
      throw invalidArgument(`${label}: volume mount ${m.mountPath}: no volume "${m.name}"`);
    if (mounted.has(m.name)) throw invalidArgument(`${label}: volume "${m.name}" is mounted twice`);
    mounted.add(m.name);
    const path = m.mountPath.replace(/\/+$/, '');
    if (path === '' || m.mountPath.split('/').includes('..'))
      throw invalidArgument(`${label}: volume "${m.name}": cannot mount at ${m.mountPath}`);
    if (paths.has(path)) throw invalidArgument(`${label}: two volumes are mounted at ${path}`);
    paths.add(path);
  }
}

/** The VM's volumes in attach order, with their devices, tags and mounts. */
export function attachedVolumes(storage: VMStorageSpec | undefined): AttachedVolume[] {
  const mounts = new Map<string, VolumeMount>();
  for (const m of storage?.volumeMounts ?? []) mounts.set(m.name, m);
  let disk = 0;
  let share = 0;
  const out: AttachedVolume[] = [];
  for (const v of storage?.volumes ?? []) {
    const source = volumeSource(v);
    if (source === undefined) continue;
    const m = mounts.get(v.name);
    const a: AttachedVolume = { name: v.name, source, readOnly: m?.readOnly === true };
    if (m !== undefined) a.mountPath = m.mountPath.replace(/(.)\/+$/, '$1');
    if (source.kind === 'directory') a.tag = `share${share++}`;
    else a.device = `/dev/vd${String.fromCharCode(98 + disk++)}`;
    out.push(a);
  }
  if (disk > 24) throw invalidArgument(`too many disks: ${disk} (at most 24)`);
  return out;
}

/** The `/etc/fstab` lines that mount the VM's volumes; empty when none is mounted. */
export function fstabLines(volumes: readonly AttachedVolume[]): string[] {
  const lines: string[] = [];
  for (const v of volumes) {
    if (v.mountPath === undefined) continue;
    const ro = v.readOnly ? ',ro' : '';
    if (v.tag !== undefined)
      lines.push(`${v.tag} ${v.mountPath} 9p trans=virtio,version=9p2000.L${ro} 0 0`);
    else if (v.device !== undefined)
      lines.push(`${v.device} ${v.mountPath} auto ${v.readOnly ? 'ro' : 'defaults'} 0 0`);
  }
  return lines;
}

/** The named volumes a VM's spec uses, with whether it mounts each read-only. */
export function namedVolumes(
  storage: VMStorageSpec | undefined,
): { volume: string; readOnly: boolean }[] {
  return attachedVolumes(storage).flatMap((a) =>
    a.source.kind === 'volume' ? [{ volume: a.source.name, readOnly: a.readOnly }] : [],
  );
}

/**
 * The volume sharing rule: a volume may be attached to several running VMs only when every one
 * of them mounts it read-only. Returns the first volume of `mine` that `theirs` holds against it.
 */
export function volumeConflict(
  mine: readonly { volume: string; readOnly: boolean }[],
  theirs: readonly { volume: string; readOnly: boolean }[],
): string | undefined {
  for (const a of mine) {
    for (const b of theirs) {
      if (a.volume === b.volume && !(a.readOnly && b.readOnly)) return a.volume;
    }
  }
  return undefined;
}

/** Adds `more` to a spec's storage (checkStorage then refuses a name both give). */
export function mergeStorage(
  base: VMStorageSpec | undefined,
  more: VMStorageSpec | undefined,
): VMStorageSpec | undefined {
  if (more === undefined) return base;
  const volumes: VMVolume[] = [...(base?.volumes ?? []), ...(more.volumes ?? [])];
  const volumeMounts = [...(base?.volumeMounts ?? []), ...(more.volumeMounts ?? [])];
  return { volumes, volumeMounts };
}
