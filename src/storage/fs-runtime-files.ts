import lockfile from 'proper-lockfile';
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import {
  access,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { unavailable } from '../errors.js';
import { ensurePrivateDir } from '../system/private-dir.js';
import { followFile } from './log-follow.js';
import { isUID, VMStatusSchema, type VMStatus } from '../api/index.js';
import type { DataLayout } from './layout.js';
import type { FoundRootDisk, RuntimeFiles } from './runtime-files.js';

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/** The runtime files on the data directory's filesystem. */
export class FsRuntimeFiles implements RuntimeFiles {
  constructor(private readonly layout: DataLayout) {}

  async makeVMDir(uid: string): Promise<void> {
    await mkdir(this.layout.objectDir('VM', uid), { recursive: true, mode: 0o700 });
  }

  async listVMDirs(): Promise<string[]> {
    const entries = await readdir(this.layout.kindDir('VM'), {
      withFileTypes: true,
    }).catch(() => []);
    return entries.filter((e) => e.isDirectory() && isUID(e.name)).map((e) => e.name);
  }

  async makeRunDir(uid: string): Promise<void> {
    if (this.layout.runDir !== undefined) await ensurePrivateDir(this.layout.runDir);
    await mkdir(this.layout.vmRunDir(uid), { recursive: true, mode: 0o700 });
  }

  async listRunDirs(): Promise<string[]> {
    const base = this.layout.runDir;
    if (base === undefined) return [];
    const entries = await readdir(base, { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory() && isUID(e.name)).map((e) => e.name);
  }

  async removeRunDir(uid: string): Promise<void> {
    const base = this.layout.runDir;
    if (base === undefined) return;
    await rm(this.layout.vmRunDir(uid), { recursive: true, force: true });
    await rmdir(base).catch(() => undefined);
  }

  async removeVMDir(uid: string): Promise<void> {
    await rm(this.layout.objectDir('VM', uid), { recursive: true, force: true });
  }

  async markSupervised(uid: string, pid: number): Promise<void> {
    const file = this.layout.vm(uid).supervisedBy;
    const tmp = `${file}.${pid}.tmp`;
    await writeFile(tmp, `${pid}\n`, { mode: 0o600 });
    await rename(tmp, file);
  }

  async unmarkSupervised(uid: string, pid: number): Promise<void> {
    if (this.supervisedBy(uid) === pid) await rm(this.layout.vm(uid).supervisedBy, { force: true });
  }

  supervisedBy(uid: string): number | undefined {
    if (!isUID(uid)) return undefined;
    let text: string;
    try {
      text = readFileSync(this.layout.vm(uid).supervisedBy, 'utf8');
    } catch {
      return undefined;
    }
    const pid = Number(text.trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  }

  readRunRecord(uid: string): VMStatus | undefined {
    const path = this.layout.runRecord(uid);
    // A stat that finds nothing returns; a read that finds nothing throws, and the exception's
    // stack costs more than the lookup. Synchronous: one failed open costs far less than a
    // thread-pool round trip.
    if (statSync(path, { throwIfNoEntry: false }) === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = VMStatusSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  mayHaveRunRecords(): ReadonlySet<string> | undefined {
    const base = this.layout.runDir;
    if (base === undefined) return undefined;
    try {
      return new Set(readdirSync(base));
    } catch (err) {
      // No run dir yet (or since a reboot): no VM has a run record.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
      return undefined;
    }
  }

  async writeRunRecord(uid: string, status: VMStatus): Promise<void> {
    const path = this.layout.vm(uid).runRecord;
    const tmp = `${path}.tmp`;
    await writeFile(tmp, `${JSON.stringify(status)}\n`, { mode: 0o600 });
    await rename(tmp, path);
  }

  async removeRunRecord(uid: string): Promise<void> {
    await rm(this.layout.vm(uid).runRecord, { force: true });
  }

  withStartLock<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    const dir = this.layout.objectDir('VM', uid);
    return this.withLock(dir, '.start.lock', `vm ${uid}: another start of it`, fn);
  }

  withVolumeLock<T>(fn: () => Promise<T>): Promise<T> {
    const dir = this.layout.kindDir('Volume');
    return this.withLock(dir, '.attach.lock', 'volumes: another VM start', fn);
  }

  private async withLock<T>(
    dir: string,
    file: string,
    what: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let release: () => Promise<void>;
    try {
      // A start waits for the supervisor for up to two minutes: wait as long for another's.
      release = await lockfile.lock(dir, {
        realpath: false,
        lockfilePath: join(dir, file),
        stale: 10_000,
        update: 2_000,
        retries: { retries: 1500, factor: 1, minTimeout: 100, maxTimeout: 100 },
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED')
        throw unavailable(`${what} did not finish in time`, { cause: err });
      throw err;
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }

  async removeRunFiles(uid: string): Promise<void> {
    const f = this.layout.vm(uid);
    await Promise.all(
      [f.consoleSocket, f.controlSocket, f.metricsSocket, f.supervisorSocket, f.runRecord].map(
        (p) => rm(p, { force: true }),
      ),
    );
    const base = this.layout.runDir;
    if (base === undefined) return;
    // The VM's run dir goes once its network's files have gone too, and the user's runtime dir
    // with the last VM's: a user who runs none keeps nothing there.
    await rmdir(f.runDir).catch(() => undefined);
    await rmdir(base).catch(() => undefined);
  }

  async rootDisk(uid: string): Promise<FoundRootDisk | undefined> {
    const f = this.layout.vm(uid);
    if (await exists(f.rootDiskQcow2)) return { path: f.rootDiskQcow2, format: 'qcow2' };
    if (await exists(f.rootDiskRaw)) return { path: f.rootDiskRaw, format: 'raw' };
    return undefined;
  }

  readSpawnLog(uid: string): Promise<string | undefined> {
    return readFile(this.layout.vm(uid).spawnLog, 'utf8').catch(() => undefined);
  }

  async readConsoleTail(uid: string, bytes: number): Promise<string | undefined> {
    let file;
    try {
      file = await open(this.layout.vm(uid).consoleLog, 'r');
    } catch {
      return undefined;
    }
    try {
      const { size } = await file.stat();
      const length = Math.min(size, bytes);
      const buf = Buffer.alloc(length);
      await file.read(buf, 0, length, size - length);
      return buf.toString('utf8');
    } finally {
      await file.close();
    }
  }

  async copyLog(
    uid: string,
    log: 'console' | 'spawn',
    out: NodeJS.WritableStream,
  ): Promise<boolean> {
    const f = this.layout.vm(uid);
    const file = log === 'spawn' ? f.spawnLog : f.consoleLog;
    if (!(await exists(file))) return false;
    if (log === 'console')
      await pipeline(createReadStream(`${file}.1`), out, { end: false }).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      });
    await pipeline(createReadStream(file), out, { end: false });
    return true;
  }

  async followLog(
    uid: string,
    log: 'console' | 'spawn',
    out: NodeJS.WritableStream,
    signal: AbortSignal,
  ): Promise<void> {
    const f = this.layout.vm(uid);
    const file = log === 'spawn' ? f.spawnLog : f.consoleLog;
    // The rotated part first; the live file is then read from its start, so no line written
    // meanwhile is missed.
    if (log === 'console')
      await pipeline(createReadStream(`${file}.1`), out, { end: false }).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      });
    await followFile(file, 0, out, signal);
  }

  exists(path: string): Promise<boolean> {
    return exists(path);
  }

  diskUsage(path: string): Promise<number> {
    return stat(path).then(
      (s) => s.blocks * 512,
      () => 0,
    );
  }
}
