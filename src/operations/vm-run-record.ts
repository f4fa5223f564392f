import { readFileSync, statSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { VMStatusSchema, type VMStatus } from '../api/index.js';

/**
 * The status of a VM's current run, kept by its supervisor in `<dataDir>/vm/<uid>/run.json` from
 * the moment it records the VM Running until it exits (removed before it records Stopped). It is
 * apart from the VM's record on purpose: a record restored from a backup, or a write lost in a
 * crash, can say Stopped while the VM runs, and this file still tells which processes run it.
 */
export async function writeRunRecord(path: string, status: VMStatus): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(status)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** The run's status, or undefined when there is no run file (the usual case) or it is unreadable. */
export function readRunRecord(path: string): Promise<VMStatus | undefined> {
  return Promise.resolve(readRunRecordSync(path));
}

/**
 * Synchronous: `ps` asks this of every VM that is not running, and almost always finds no file;
 * one failed open costs far less than a thread-pool round trip.
 */
function readRunRecordSync(path: string): VMStatus | undefined {
  // A stat that finds nothing returns; a read that finds nothing throws, and the exception's
  // stack costs more than the lookup.
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

export async function removeRunRecord(path: string): Promise<void> {
  await rm(path, { force: true });
}
