import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUID } from '../../src/api/index.js';
import { isProcessAlive } from '../../src/system/linux-processes.js';

/** A fresh data dir, removed by `await using`, its host supervisor (if one is left) ended first. */
export async function tempDataDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'ignite-data-'));
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      await endHostSupervisor(path);
      await rm(path, { recursive: true, force: true });
    },
  };
}

/**
 * Ends the host supervisor of a data dir, as its PID file names it (with its flag in the
 * command line, so a reused PID is left alone), and waits for it to go.
 */
export async function endHostSupervisor(dataDir: string, runDir = dataDir): Promise<void> {
  const holder = await readFile(join(runDir, 'supervisor.pid'), 'utf8').catch(() => undefined);
  const pid = holder !== undefined ? (JSON.parse(holder) as { pid?: number }).pid : undefined;
  if (pid === undefined || !isProcessAlive(pid, '--supervise-host')) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200 && isProcessAlive(pid, '--supervise-host'); i++)
    await new Promise((r) => setTimeout(r, 50));
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
