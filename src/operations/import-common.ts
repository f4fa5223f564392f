import { join } from 'node:path';
import {
  parseImageRef,
  type Image,
  type Kernel,
  type Stored,
  type StoredKindMap,
  type ParsedImageRef,
} from '../api/index.js';
import { AppError, invalidArgument } from '../errors.js';
import { importLimits, type ImportLimits } from '../image/index.js';
import type { ImportOptions, Services } from './services.js';

export type ImportServices = Pick<
  Services,
  'client' | 'logger' | 'layout' | 'config' | 'registry' | 'importWorkspace'
>;

export function parseRef(ref: string): ParsedImageRef {
  try {
    return parseImageRef(ref);
  } catch (err) {
    throw invalidArgument(`image "${ref}": ${(err as Error).message}`);
  }
}

/** The unpack limits of this host (checked here, when an import needs them). */
export function limitsOf(s: Pick<Services, 'config'>): ImportLimits {
  return importLimits(s.config.importLimits, {});
}

/**
 * What every import of an image or kernel does first: removes what killed imports left (also
 * when the object turns out to be there: an import killed after storing it, while it cleaned up,
 * left its directory, and its retry takes this path), then looks for the object already stored
 * under `name`, which makes the import a no-op.
 */
export async function importPrologue<K extends 'Image' | 'Kernel'>(
  s: Pick<ImportServices, 'client' | 'logger' | 'importWorkspace'>,
  kind: K,
  name: string,
): Promise<StoredKindMap[K] | undefined> {
  await s.importWorkspace.sweep();
  const existing = await s.client.of(kind).findByName(name);
  if (existing)
    s.logger.info(
      { [kind.toLowerCase()]: name },
      `${kind.toLowerCase()} "${name}": already imported`,
    );
  return existing;
}

/**
 * Creates the object, moves its files (`[workspace path, name in the object's directory]`) into
 * its directory, and removes the object again if that fails. A concurrent import of the same name
 * wins: its object is returned.
 */
export async function storeWithFiles<T extends Image | Kernel>(
  s: Pick<ImportServices, 'client' | 'logger' | 'layout' | 'importWorkspace'>,
  kind: T['kind'],
  obj: T,
  files: [string, string][],
  options: ImportOptions,
): Promise<Stored<T>> {
  const kc = kind === 'Image' ? s.client.images : s.client.kernels;
  const name = obj.metadata.name ?? '';
  let created: Stored<T>;
  try {
    created = (await kc.create(obj as never)) as Stored<T>;
  } catch (err) {
    if (AppError.is(err, 'AlreadyExists')) return (await kc.findByName(name)) as Stored<T>;
    throw err;
  }
  const uid = created.metadata.uid;
  try {
    const dir = s.layout.objectDir(kind, uid);
    for (const [src, file] of files) await s.importWorkspace.moveInto(src, join(dir, file));
    if (created.kind === 'Image') {
      const ext4Path = s.layout.imageExt4(uid);
      await s.client.images.update(uid, (img) => void (img.status = { ...img.status, ext4Path }));
      created.status = { ...created.status, ext4Path };
    }
  } catch (err) {
    await kc.delete(uid).catch(() => undefined);
    throw err;
  }
  options.progress?.phase?.('done');
  s.logger.info(
    { [kind.toLowerCase()]: name, uid },
    `Imported ${kind.toLowerCase()} "${name}" as ${uid}`,
  );
  return created;
}
