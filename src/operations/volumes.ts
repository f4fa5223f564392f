import {
  API_VERSION,
  NAME_PATTERN,
  volumeSource,
  type Size,
  type StoredVM,
  type StoredVolume,
  type VolumeFormat,
} from '../api/index.js';
import { failedPrecondition, invalidArgument } from '../errors.js';
import type { Services } from './services.js';

export type VolumeServices = Pick<Services, 'client' | 'layout' | 'clock' | 'volumeFiles'>;

export interface CreateVolumeOptions {
  name: string;
  size: Size;
  format?: VolumeFormat;
}

/**
 * `ignite volume create`: stores the Volume, then makes its sparse file (formatted ext4 unless
 * raw) at `<dataDir>/volume/<uid>/volume.img`. A failure removes both again.
 */
export async function createVolume(
  s: VolumeServices,
  options: CreateVolumeOptions,
): Promise<StoredVolume> {
  if (!NAME_PATTERN.test(options.name))
    throw invalidArgument(
      `volume "${options.name}": a name is lower-case letters, digits and ._- (at most 63)`,
    );
  if (options.size.bytes < 1 << 20)
    throw invalidArgument(`volume "${options.name}": size ${options.size.toString()} is below 1MB`);
  const format = options.format ?? 'ext4';
  const created = await s.client.volumes.create({
    apiVersion: API_VERSION,
    kind: 'Volume',
    metadata: { name: options.name },
    spec: { size: options.size, format },
    status: {},
  });
  const uid = created.metadata.uid;
  const path = s.layout.volumeFile(uid);
  try {
    await s.volumeFiles.create(path, options.size.bytes, format, `volume "${options.name}"`);
    return await s.client.volumes.update(uid, (v) => {
      v.status = { path, created: s.clock.now().toISOString() };
    });
  } catch (err) {
    await s.volumeFiles.removeDir(s.layout.objectDir('Volume', uid)).catch(() => undefined);
    await s.client.volumes.delete(uid).catch(() => undefined);
    throw err;
  }
}

/** The VMs whose spec names volume `name`, running or not. */
export function volumeUsers(vms: readonly StoredVM[], name: string): StoredVM[] {
  return vms.filter((vm) =>
    (vm.spec.storage?.volumes ?? []).some((v) => {
      const src = volumeSource(v);
      return src?.kind === 'volume' && src.name === name;
    }),
  );
}

/**
 * `ignite volume rm`: refuses a volume any VM names, running or not, unless `force`; then removes
 * the object and its file. Returns the UID.
 */
export async function removeVolume(
  s: VolumeServices,
  query: string,
  options: { force?: boolean } = {},
): Promise<string> {
  const vol = await s.client.volumes.find(query);
  const name = vol.metadata.name;
  const users = volumeUsers(await s.client.vms.list(), name);
  if (users.length > 0 && options.force !== true) {
    const list = users
      .map((v) => `vm "${v.metadata.name}"`)
      .sort()
      .join(', ');
    throw failedPrecondition(`volume "${name}": used by ${list}`, {
      hint: 'remove those VMs first, or use -f to remove it anyway',
    });
  }
  const uid = vol.metadata.uid;
  await s.client.volumes.delete(uid);
  await s.volumeFiles.removeDir(s.layout.objectDir('Volume', uid));
  return uid;
}
