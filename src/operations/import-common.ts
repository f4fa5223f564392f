import { join } from 'node:path';
import {
  newUID,
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
 * Moves the object's files (`[workspace path, name in the object's directory]`) into a fresh
 * directory, then stores the object there: once stored, an object always has its files, so a
 * concurrent import that finds it (or loses the race to store it) can use it at once. A concurrent
 * import of the same name wins: its object is returned, and this one's directory removed.
 */
export async function storeWithFiles<T extends Image | Kernel>(
  s: Pick<ImportServices, 'client' | 'logger' | 'layout' | 'importWorkspace'>,
  kind: T['kind'],
  obj: T,
  work: string,
  files: [string, string][],
  options: ImportOptions,
): Promise<Stored<T>> {
  const kc = kind === 'Image' ? s.client.images : s.client.kernels;
  const name = obj.metadata.name ?? '';
  const uid = newUID();
  const dir = s.layout.objectDir(kind, uid);
  let created: Stored<T>;
  try {
    await s.importWorkspace.claim(work, dir);
    for (const [src, file] of files) await s.importWorkspace.moveInto(src, join(dir, file));
    if (obj.kind === 'Image') obj.status = { ...obj.status, ext4Path: s.layout.imageExt4(uid) };
    created = (await kc.create({
      ...obj,
      metadata: { ...obj.metadata, uid },
    } as never)) as Stored<T>;
  } catch (err) {
    await s.importWorkspace.remove(dir).catch(() => undefined);
    if (AppError.is(err, 'AlreadyExists')) {
      const winner = await kc.findByName(name);
      if (winner) return winner as Stored<T>;
    }
    throw err;
  }
  options.progress?.phase?.('done');
  s.logger.info(
    { [kind.toLowerCase()]: name, uid },
    `Imported ${kind.toLowerCase()} "${name}" as ${uid}`,
  );
  return created;
}
