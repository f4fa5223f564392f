import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { internal, unavailable } from '../../errors.js';
import { sleep } from '../../system/linux-processes.js';
import { checkDigest, writeDigested, type FileDigest, type StatePart } from '../saved-state.js';
import type { QMPClient } from './qmp-client.js';

/**
 * QEMU's device and memory state to and from a file, through QMP migration. QEMU 7.2 has no
 * `file:` migration URI, and `exec:` runs its command through `/bin/sh`, which would parse the
 * file's path. To save, the stream goes through a unix socket in a private temporary directory:
 * QEMU connects to it, and this side writes what comes to the file, hashing on the way (a
 * pathname socket reaches QEMU inside the VM's network namespace as its control socket does). To
 * restore, QEMU gets the file itself, open as its fd 3 (`-incoming fd:3`), and loads it as it
 * starts, while this side hashes the file. Measured under TCG (docs/snapshots.md).
 */

/** Migration statuses after which nothing more happens. */
const DONE = new Set(['completed', 'failed', 'cancelled']);

/** QEMU's default cap (128 MiB/s) paces a live migration; a paused guest's save need not wait. */
const UNCAPPED_BYTES_PER_SECOND = 64 * 1024 * 1024 * 1024;

export interface MigrationOptions {
  label: string;
  timeoutMs?: number;
  /**
   * A private (0700) directory for the migration's socket, `migrate.sock`: the VM's run dir, so
   * that an ordinary user's sockets all stay in the user's runtime dir. Without it, a fresh
   * directory under the system's temporary dir.
   */
  socketDir?: string;
}

/**
 * Saves the (paused) VM's state into `dest`. Resolves once QEMU reports the migration completed
 * and every byte is synced, with the file's size and SHA-256. QEMU is left in `postmigrate`,
 * its disks flushed and released, until `cont` or `quit`.
 */
export async function migrateToFile(
  qmp: QMPClient,
  dest: string,
  options: MigrationOptions,
): Promise<FileDigest> {
  const { socketPath, release } = await privateSocketPath(options.socketDir);
  let server: Server | undefined;
  try {
    let written: Promise<FileDigest> | undefined;
    server = createServer((conn) => {
      // One stream only: a second connection is not QEMU's.
      if (written !== undefined) return void conn.destroy();
      written = writeDigested(conn, dest);
    });
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(socketPath, resolve);
    });
    await qmp.execute('migrate-set-parameters', { 'max-bandwidth': UNCAPPED_BYTES_PER_SECOND });
    await qmp.execute('migrate', { uri: `unix:${socketPath}` });
    await waitForMigration(qmp, 'save', options);
    if (written === undefined) throw internal(`${options.label}: qemu saved no state`);
    return await written;
  } finally {
    server?.close();
    await release();
  }
}

/** QEMU's arguments to load a saved state from the file it gets open as fd 3 (see below). */
export const INCOMING_FD_ARGS = ['-incoming', 'fd:3'];

/**
 * Waits until a QEMU started with INCOMING_FD_ARGS, the state `file` open as its fd 3, has loaded
 * it, and checks `digest` (the same file, hashed meanwhile) against the sidecar's `expected`
 * SHA-256. QEMU reads the file itself, with no copy through this process. The guest stays paused
 * (it was saved paused) for the caller to let it run once this resolves. Damage is reported as
 * such, also when it made QEMU's load fail.
 */
export async function awaitIncoming(
  qmp: QMPClient,
  file: string,
  expected: StatePart,
  digest: Promise<FileDigest>,
  options: MigrationOptions,
): Promise<void> {
  const [hashed, loaded] = await Promise.allSettled([
    digest,
    waitForMigration(qmp, 'restore', options),
  ]);
  if (hashed.status === 'rejected') throw hashed.reason;
  checkDigest(expected, hashed.value, file, options.label);
  if (loaded.status === 'rejected') throw loaded.reason;
}

async function waitForMigration(
  qmp: QMPClient,
  what: 'save' | 'restore',
  options: MigrationOptions,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await qmp.queryMigrate();
    if (info.status !== undefined && DONE.has(info.status)) {
      if (info.status === 'completed') return;
      throw internal(
        `${options.label}: qemu ${what} ${info.status}: ${info['error-desc'] ?? 'no reason given'}`,
      );
    }
    if (Date.now() > deadline) {
      throw unavailable(`${options.label}: qemu ${what} did not finish within ${timeoutMs} ms`);
    }
    await sleep(10);
  }
}

/**
 * A socket path that fits sun_path (108 bytes) in a private directory: `socketDir` if given, else
 * a fresh 0700 one. `release` removes what was made.
 */
async function privateSocketPath(
  socketDir: string | undefined,
): Promise<{ socketPath: string; release: () => Promise<void> }> {
  if (socketDir !== undefined) {
    const socketPath = join(socketDir, 'migrate.sock');
    await rm(socketPath, { force: true });
    return { socketPath, release: () => rm(socketPath, { force: true }) };
  }
  const dir = await mkdtemp(join(tmpdir(), 'ignite-state-'));
  return {
    socketPath: join(dir, 'migration.sock'),
    release: () => rm(dir, { recursive: true, force: true }),
  };
}
