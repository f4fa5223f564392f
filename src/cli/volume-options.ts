import type { VMStorageSpec, VMVolume, VolumeMount } from '../api/index.js';
import { invalidArgument } from '../errors.js';

const GUEST_PATH = /^\/[A-Za-z0-9._+@:=,/-]*$/;

/**
 * `-v SRC:/guest/path[:ro]`: SRC is a named volume, a host block device (`/dev/…`) or a host
 * image file (any other absolute path). The volume is named in the VM after the named volume, or
 * `disk<n>` for the n-th flag.
 */
export function parseVolumeFlag(
  value: string,
  n: number,
): { volume: VMVolume; mount: VolumeMount } {
  const parts = value.split(':');
  const ro = parts.length === 3 && parts[2] === 'ro';
  const [src, dst] = parts;
  if (
    src === undefined ||
    dst === undefined ||
    src === '' ||
    (parts.length === 3 && !ro) ||
    parts.length > 3
  )
    throw invalidArgument(`--volumes ${value}: expected SRC:/guest/path or SRC:/guest/path:ro`);
  if (!GUEST_PATH.test(dst))
    throw invalidArgument(`--volumes ${value}: ${dst}: expected an absolute guest path`);
  let volume: VMVolume;
  if (src.startsWith('/')) {
    const name = `disk${n}`;
    volume = src.startsWith('/dev/')
      ? { name, blockDevice: { path: src } }
      : { name, file: { path: src } };
  } else {
    if (!/^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/.test(src))
      throw invalidArgument(
        `--volumes ${value}: "${src}": expected a volume name or an absolute host path`,
      );
    volume = { name: src, volume: { name: src } };
  }
  return {
    volume,
    mount: { name: volume.name, mountPath: dst, ...(ro ? { readOnly: true } : {}) },
  };
}

/** `--mount type=bind,src=/host/dir,dst=/guest/dir[,ro]`: a host directory, named `share<n>`. */
export function parseMountFlag(value: string, n: number): { volume: VMVolume; mount: VolumeMount } {
  const fields = new Map<string, string>();
  let ro = false;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    if (key === 'ro' || key === 'readonly') {
      if (v !== '' && v !== 'true' && v !== '1')
        throw invalidArgument(`--mount ${value}: ${part}: expected ro or ro=true`);
      ro = true;
    } else if (
      ['type', 'src', 'source', 'dst', 'destination', 'target'].includes(key) &&
      v !== ''
    ) {
      const k = key === 'source' ? 'src' : key === 'destination' || key === 'target' ? 'dst' : key;
      if (fields.has(k)) throw invalidArgument(`--mount ${value}: ${k} is given twice`);
      fields.set(k, v);
    } else {
      throw invalidArgument(`--mount ${value}: "${part}": expected type=, src=, dst= or ro`);
    }
  }
  if ((fields.get('type') ?? 'bind') !== 'bind')
    throw invalidArgument(`--mount ${value}: only type=bind is supported`);
  const src = fields.get('src');
  const dst = fields.get('dst');
  if (src === undefined || !src.startsWith('/'))
    throw invalidArgument(`--mount ${value}: src= must be an absolute host path`);
  if (dst === undefined || !GUEST_PATH.test(dst))
    throw invalidArgument(`--mount ${value}: dst= must be an absolute guest path`);
  const name = `share${n}`;
  return {
    volume: { name, directory: { path: src } },
    mount: { name, mountPath: dst, ...(ro ? { readOnly: true } : {}) },
  };
}

/** The storage `-v` and `--mount` add to a VM, in the order given; undefined for none. */
export function storageFromFlags(volumes: string[], mounts: string[]): VMStorageSpec | undefined {
  if (volumes.length === 0 && mounts.length === 0) return undefined;
  const parsed = [
    ...volumes.map((v, i) => parseVolumeFlag(v, i + 1)),
    ...mounts.map((m, i) => parseMountFlag(m, i + 1)),
  ];
  return {
    volumes: parsed.map((p) => p.volume),
    volumeMounts: parsed.map((p) => p.mount),
  };
}
