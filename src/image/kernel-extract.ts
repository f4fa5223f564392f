import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { lstat, open, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { invalidArgument, notFound } from '../errors.js';

const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const PAYLOADS: { name: string; magic: Buffer; tool?: string[] }[] = [
  { name: 'gzip', magic: Buffer.from([0x1f, 0x8b, 0x08]) },
  {
    name: 'xz',
    magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
    tool: ['xz', '-dc', '--single-stream'],
  },
  { name: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: ['zstd', '-dcq'] },
];

/** What a kernel image holds, found in its unpacked root. */
export interface KernelFiles {
  /** `/boot/vmlinux` (an ELF), or a bzImage to extract one from. */
  kernel: { path: string; kind: 'elf' | 'bzImage' };
  initrd?: string;
  modulesDir?: string;
}

/** Resolves a path inside `root`, following symlinks only while they stay inside it. */
async function resolveInside(root: string, rel: string, depth = 0): Promise<string | undefined> {
  if (depth > 8) return undefined;
  const parts = rel.split('/').filter(Boolean);
  let cur = '';
  for (let i = 0; i < parts.length; i++) {
    const next = cur ? `${cur}/${parts[i] ?? ''}` : (parts[i] ?? '');
    const st = await lstat(join(root, next)).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      const target = await readlink(join(root, next));
      const joined = posix.normalize(
        target.startsWith('/') ? target : posix.join(posix.dirname(`/${next}`), target),
      );
      if (joined.startsWith('/..')) return undefined;
      const rest = parts.slice(i + 1).join('/');
      return resolveInside(root, `${joined}/${rest}`, depth + 1);
    }
    cur = next;
  }
  return join(root, cur);
}

export async function findKernelFiles(root: string, label: string): Promise<KernelFiles> {
  const boot = (await readdir(join(root, 'boot')).catch(() => [] as string[])).sort();
  let kernel: KernelFiles['kernel'] | undefined;
  for (const candidate of [
    'boot/vmlinux',
    ...boot.filter((n) => n.startsWith('vmlinux')).map((n) => `boot/${n}`),
  ]) {
    const p = await resolveInside(root, candidate);
    if (p && (await isELF(p))) {
      kernel = { path: p, kind: 'elf' };
      break;
    }
  }
  if (!kernel) {
    for (const n of boot.filter((n) => n.startsWith('vmlinuz') || n.startsWith('bzImage'))) {
      const p = await resolveInside(root, `boot/${n}`);
      if (p) {
        kernel = { path: p, kind: 'bzImage' };
        break;
      }
    }
  }
  if (!kernel) throw notFound(`${label}: no /boot/vmlinux or /boot/vmlinuz in the image`);
  const files: KernelFiles = { kernel };
  for (const n of boot.filter((n) => n.startsWith('initrd') || n.startsWith('initramfs'))) {
    const p = await resolveInside(root, `boot/${n}`);
    if (p && (await lstat(p)).isFile()) {
      files.initrd = p;
      break;
    }
  }
  const mods = await resolveInside(root, 'lib/modules');
  if (mods) files.modulesDir = mods;
  return files;
}

async function isELF(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return false;
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    return buf.equals(ELF);
  } finally {
    await fh.close();
  }
}

/**
 * Extracts the ELF vmlinux from a bzImage by decompressing its payload (gzip, xz or zstd) and
 * checking the result is an ELF. Each compression's magic is tried in file order.
 */
export async function extractVmlinux(bzImage: string, dest: string, label: string): Promise<void> {
  const data = await readFile(bzImage);
  const hits = PAYLOADS.map((p) => ({ p, at: data.indexOf(p.magic) }))
    .filter((h) => h.at >= 0)
    .sort((a, b) => a.at - b.at);
  for (const { p, at } of hits) {
    await rm(dest, { force: true });
    try {
      const payload = data.subarray(at);
      if (p.tool === undefined) {
        await pipeline(
          Readable.from([payload]),
          createGunzip({ finishFlush: 2 }),
          createWriteStream(dest),
        ).catch(() => undefined);
      } else {
        await decompressWith(p.tool, payload, dest);
      }
      if (await isELF(dest)) return;
    } catch {
      // Try the next candidate: a magic can appear by chance.
    }
  }
  await rm(dest, { force: true });
  throw invalidArgument(
    `${label}: ${posix.basename(bzImage)}: no gzip, xz or zstd payload that holds an ELF kernel`,
  );
}

function decompressWith(argv: string[], input: Buffer, dest: string): Promise<void> {
  const [bin = '', ...args] = argv;
  return new Promise((resolve, reject) => {
    const out = createWriteStream(dest);
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    child.on('error', reject);
    child.stdout.pipe(out);
    child.stdin.on('error', () => undefined); // the tool stops reading at the end of its stream
    child.stdin.end(input);
    child.on('close', () => out.end(() => resolve()));
  });
}

/** The release from the `Linux version X (…)` banner inside a vmlinux, or "<unknown>". */
export async function kernelVersion(vmlinux: string): Promise<string> {
  const data = await readFile(vmlinux);
  // The banner's format string ("Linux version %s") may come first; the filled-in one follows.
  for (
    let at = data.indexOf('Linux version ');
    at >= 0;
    at = data.indexOf('Linux version ', at + 1)
  ) {
    const m = /^Linux version ([0-9][^\s]*)/.exec(data.subarray(at, at + 200).toString('latin1'));
    if (m?.[1] !== undefined) return m[1];
  }
  return '<unknown>';
}
