import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { failedPrecondition } from '../errors.js';
import { fileIdentity, sameIdentity, type FileIdentity } from './file-identity.js';
import type { SavedStateInfo, VMConfig, VMMName } from './vmm-driver.js';

/**
 * A saved VM state on disk, as RunningVM.saveState() writes it and start({ restoreFrom }) reads
 * it:
 * - `<file>`: the hypervisor's state (QEMU: its migration stream, device and memory state;
 *   Firecracker: its vmstate);
 * - `<file><suffix>` for each further part (Firecracker: `<file>.mem`, the guest memory);
 * - `<file>.json`: the sidecar, written last. It lists every part with its size and SHA-256, and
 *   what the state is bound to: a guest resumed on another kernel, memory size, vCPU count,
 *   machine or device set would crash or misbehave, and QEMU accepts a stream cut short at its
 *   end without a word, so both are checked before a restore trusts the files.
 * Parts are written as `<name>.partial` and renamed once complete; a state without its sidecar
 * is not a state.
 */
export interface StateBinding {
  hypervisor: VMMName;
  /** The hypervisor's version: its device state is not promised to load in another. */
  hypervisorVersion: string;
  /** The machine and accelerator (QEMU: `microvm,…` and `tcg`). */
  machine: string;
  vcpus: number;
  memoryMiB: number;
  /** The vmlinux the guest booted: it is in the saved memory, not read again. */
  kernel: FileDigest;
  /** The number of NICs: each is a device in the state. */
  nics: number;
  rootDiskFormat: 'qcow2' | 'raw';
}

export interface FileDigest {
  size: number;
  sha256: string;
}

export interface StatePart extends FileDigest {
  /** '' for `<file>` itself, else the suffix of `<file><suffix>`. */
  suffix: string;
}

export interface StateSidecar {
  version: 1;
  binding: StateBinding;
  /**
   * The vmlinux's identity when `binding.kernel` was hashed from it: a restore whose vmlinux
   * still has it takes the recorded digest instead of hashing tens of MB again.
   */
  kernelFile?: FileIdentity;
  parts: StatePart[];
  created: string;
  saveMs: number;
}

export type { FileIdentity };

export const SIDECAR_SUFFIX = '.json';
const PARTIAL = '.partial';

/** Where a part is written before it is complete. */
export function partialPath(file: string, suffix = ''): string {
  return `${file}${suffix}${PARTIAL}`;
}

/** Size and SHA-256 of a file, read as a stream. */
export async function digestFile(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, {
    highWaterMark: 1 << 20,
  }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** Writes `source` to `path`, hashing it on the way, and syncs it to disk. */
export async function writeDigested(source: Readable, path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  const f = await open(path, 'w', 0o600);
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      await f.write(chunk);
    }
    await f.sync();
  } finally {
    await f.close();
  }
  return { size, sha256: hash.digest('hex') };
}

/** What a state saved from, or restored into, this config is bound to. */
export async function bindingFor(
  config: VMConfig,
  hypervisor: Pick<StateBinding, 'hypervisor' | 'hypervisorVersion' | 'machine'>,
): Promise<StateBinding> {
  return bindingWith(config, hypervisor, await digestFile(config.kernel.vmlinuxPath));
}

/**
 * bindingFor(), with the identity of the vmlinux it hashed (none when the file changed while it
 * was read), for the sidecar's `kernelFile`.
 */
export async function bindingWithKernelFile(
  config: VMConfig,
  hypervisor: Pick<StateBinding, 'hypervisor' | 'hypervisorVersion' | 'machine'>,
): Promise<{ binding: StateBinding; kernelFile?: FileIdentity }> {
  const path = config.kernel.vmlinuxPath;
  const before = await fileIdentity(path);
  const digest = await digestFile(path);
  const after = await fileIdentity(path);
  return {
    binding: bindingWith(config, hypervisor, digest),
    ...(sameIdentity(before, after) ? { kernelFile: after } : {}),
  };
}

/**
 * The digest of the vmlinux at `path` to check a saved state's binding with: the recorded one
 * when the file still has the identity recorded with it (`kernelFile`), else hashed now.
 */
export async function kernelDigestFor(path: string, saved: StateSidecar): Promise<FileDigest> {
  const recorded = saved.kernelFile;
  if (recorded !== undefined && sameIdentity(recorded, await fileIdentity(path)))
    return saved.binding.kernel;
  return digestFile(path);
}

/** bindingFor() with the kernel's digest given. */
export function bindingWith(
  config: VMConfig,
  hypervisor: Pick<StateBinding, 'hypervisor' | 'hypervisorVersion' | 'machine'>,
  kernel: FileDigest,
): StateBinding {
  return {
    ...hypervisor,
    vcpus: config.vcpus,
    memoryMiB: config.memoryMiB,
    kernel,
    nics: config.nics.length,
    rootDiskFormat: config.rootDisk.format,
  };
}

/**
 * Renames the written parts into place, then writes the sidecar (itself through a temporary
 * name): the sidecar's presence is what makes the state complete.
 */
export async function commitSavedState(
  file: string,
  sidecar: Omit<StateSidecar, 'version' | 'created'>,
  now: Date = new Date(),
): Promise<SavedStateInfo> {
  const full: StateSidecar = { version: 1, created: now.toISOString(), ...sidecar };
  await rm(`${file}${SIDECAR_SUFFIX}`, { force: true });
  for (const p of sidecar.parts) await rename(partialPath(file, p.suffix), `${file}${p.suffix}`);
  const tmp = partialPath(file, SIDECAR_SUFFIX);
  const f = await open(tmp, 'w', 0o600);
  try {
    await f.writeFile(`${JSON.stringify(full, null, 2)}\n`);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, `${file}${SIDECAR_SUFFIX}`);
  const files = [...sidecar.parts.map((p) => `${file}${p.suffix}`), `${file}${SIDECAR_SUFFIX}`];
  const bytes =
    sidecar.parts.reduce((n, p) => n + p.size, 0) + (await stat(`${file}${SIDECAR_SUFFIX}`)).size;
  return { files, bytes, saveMs: sidecar.saveMs };
}

/** Removes a saved state: its parts, its sidecar and anything a failed save left. */
export async function removeSavedState(
  file: string,
  suffixes: readonly string[] = [],
): Promise<void> {
  const sidecar = await readFile(`${file}${SIDECAR_SUFFIX}`, 'utf8')
    .then((t) => JSON.parse(t) as Partial<StateSidecar>)
    .catch(() => undefined);
  const all = new Set(['', ...suffixes, ...(sidecar?.parts ?? []).map((p) => p.suffix)]);
  all.add(SIDECAR_SUFFIX);
  for (const s of all) {
    await rm(`${file}${s}`, { force: true });
    await rm(partialPath(file, s), { force: true });
  }
}

/**
 * Reads the sidecar of a state and checks that every part is there at its recorded size: a
 * missing sidecar, a truncated or grown part fails here, before anything is started.
 */
export async function readSavedState(file: string, label: string): Promise<StateSidecar> {
  const where = `${label}: saved state ${file}`;
  let sidecar: StateSidecar;
  try {
    sidecar = JSON.parse(await readFile(`${file}${SIDECAR_SUFFIX}`, 'utf8')) as StateSidecar;
  } catch (err) {
    throw failedPrecondition(`${where}: incomplete or unreadable (${file}${SIDECAR_SUFFIX})`, {
      cause: err,
      hint: 'the save did not finish; discard the state and boot afresh',
    });
  }
  if (
    sidecar.version !== 1 ||
    !Array.isArray(sidecar.parts) ||
    typeof sidecar.binding !== 'object'
  ) {
    throw failedPrecondition(`${where}: ${file}${SIDECAR_SUFFIX} is not a saved-state sidecar`);
  }
  for (const p of sidecar.parts) {
    const size = await stat(`${file}${p.suffix}`).then(
      (s) => s.size,
      () => undefined,
    );
    if (size !== p.size) {
      throw failedPrecondition(
        `${where}: damaged: ${file}${p.suffix} is ${size === undefined ? 'missing' : `${size} bytes`}, ${p.size} bytes were saved`,
        { hint: 'discard the state and boot afresh' },
      );
    }
  }
  return sidecar;
}

/** Fails when `expected` differs from what the state is bound to, naming every difference. */
export function checkBinding(
  recorded: StateBinding,
  expected: Partial<StateBinding>,
  label: string,
  file: string,
): void {
  const differences: string[] = [];
  const show = (k: keyof StateBinding, v: unknown): string => {
    if (k === 'memoryMiB') return `${String(v)} MiB`;
    if (k === 'kernel') {
      const d = v as FileDigest;
      return `a vmlinux of ${d.size} bytes, sha256 ${d.sha256.slice(0, 12)}`;
    }
    return String(v);
  };
  for (const key of Object.keys(expected) as (keyof StateBinding)[]) {
    const want = expected[key];
    const got = recorded[key];
    if (JSON.stringify(want) === JSON.stringify(got)) continue;
    differences.push(`${NAMES[key]}: saved with ${show(key, got)}, this VM has ${show(key, want)}`);
  }
  if (differences.length === 0) return;
  throw failedPrecondition(
    `${label}: saved state ${file} does not match: ${differences.join('; ')}`,
    {
      hint: 'restore it with the settings it was saved with, or discard it and boot afresh',
    },
  );
}

const NAMES: Record<keyof StateBinding, string> = {
  hypervisor: 'hypervisor',
  hypervisorVersion: 'hypervisor version',
  machine: 'machine',
  vcpus: 'vCPUs',
  memoryMiB: 'memory',
  kernel: 'kernel',
  nics: 'NICs',
  rootDiskFormat: 'root disk format',
};

/** Fails when a part read back does not hash to what was saved. */
export function checkDigest(part: StatePart, got: FileDigest, file: string, label: string): void {
  if (got.size === part.size && got.sha256 === part.sha256) return;
  throw failedPrecondition(
    `${label}: saved state ${file}: damaged: ${file}${part.suffix} does not match its recorded SHA-256`,
    { hint: 'discard the state and boot afresh' },
  );
}
