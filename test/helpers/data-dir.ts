import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUID } from '../../src/api/index.js';

/** A fresh data dir, removed by `await using`. */
export async function tempDataDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'ignite-data-'));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Stores a manifest file byte for byte as a VM's metadata, the way an Ignite v0.4.0 host would
 * have it on disk, and returns its UID (the manifest's own, or a new one).
 */
export async function storeManifestAsIs(
  dataDir: string,
  kindDir: string,
  manifestPath: string,
  uid = newUID(),
): Promise<string> {
  const text = await readFile(manifestPath, 'utf8');
  const m = /^\s*uid:\s*"?([a-z0-9]{16})"?\s*$/m.exec(text);
  const id = m?.[1] ?? uid;
  const dir = join(dataDir, kindDir, id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'metadata.json'), text);
  return id;
}
