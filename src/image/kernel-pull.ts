import type { ImportLimits } from './import-limits.js';
import { constants } from 'node:fs';
import { copyFile, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import type { ParsedImageRef } from '../api/index.js';
import { invalidArgument } from '../errors.js';
import { ModulesTar, planModules } from './kernel-modules.js';
import { addKernelEntry, chooseKernelFiles, newKernelTree } from './kernel-tree.js';
import { tarStream } from './layer-stream.js';
import type { PullProgress } from './pull.js';
import type { RegistryClient } from './registry-client.js';

/**
 * Kernel images are read straight from their verified layer streams: the tree is kept in memory
 * and only the kernel, the initrd and a tar of `/lib/modules` are written, into the import's own
 * directory. Nothing else of the image touches the host, no name from it becomes a host path,
 * and a FIFO or device where the kernel should be is an error, not a read that never ends.
 */
/**
 * A kernel image holds a kernel, an initrd and perhaps modules: whatever the import's limits,
 * reading one stops past 4 GiB of tar (over all layers and both passes) or 500,000 entries.
 */
export const KERNEL_IMAGE_LIMITS: Readonly<ImportLimits> = Object.freeze({
  maxBytes: 4 * 1024 * 1024 * 1024,
  maxEntries: 500_000,
});

export interface PulledKernel {
  manifestDigest: string;
  configDigest: string;
  /**
   * The kernel file, in `workDir`: an ELF vmlinux, or a bzImage to extract one from; `name` is
   * its path in the image, for messages.
   */
  kernel: { path: string; kind: 'elf' | 'bzImage'; name: string };
  /** The initrd, in `workDir`, when the image has one. */
  initrd?: string;
  /**
   * The image's `/lib/modules` as a tar in `workDir` (entries `<release>/…`, owners, modes and
   * times as in the image), when it has any; `releases` are its top directories.
   */
  modules?: { path: string; releases: string[] };
}

/** Counts the bytes of every tar stream read, failing past the limit. */
class Budget {
  private bytes = 0;
  private entries = 0;
  constructor(
    private readonly limits: ImportLimits,
    private readonly label: string,
  ) {}

  meter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.bytes += chunk.length;
        if (this.bytes > this.limits.maxBytes)
          cb(
            invalidArgument(
              `${this.label}: the image unpacks to more than ${this.limits.maxBytes} bytes; it is rejected`,
            ),
          );
        else cb(null, chunk);
      },
    });
  }

  entry(): void {
    if (++this.entries > this.limits.maxEntries)
      throw invalidArgument(
        `${this.label}: the image has more than ${this.limits.maxEntries} entries; it is rejected`,
      );
  }
}

/** Calls `fn` for each entry of a layer file, in order, with its number; drains what it leaves. */
async function eachEntry(
  file: string,
  budget: Budget,
  fn: (h: Header, body: Readable, index: number) => Promise<void>,
): Promise<void> {
  const ex = extract();
  const consume = async () => {
    let index = 0;
    for await (const entry of ex) {
      try {
        budget.entry();
        await fn(entry.header, entry as unknown as Readable, index++);
      } finally {
        entry.resume();
      }
    }
  };
  await Promise.all([
    pipeline(await tarStream(file), budget.meter(), ex).catch((err: unknown) => {
      ex.destroy(err as Error);
      throw err;
    }),
    consume(),
  ]);
}

async function firstBytes(body: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (have < n) {
      chunks.push(chunk);
      have += chunk.length;
    }
  }
  return Buffer.concat(chunks).subarray(0, n);
}

/** Writes an entry's bytes to a new file of ours: never through a symlink, never over a file. */
async function writeNew(dest: string, body: Readable): Promise<void> {
  const fh = await open(
    dest,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  await pipeline(body, fh.createWriteStream());
}

/**
 * Pulls a kernel image: every layer is downloaded and verified against its digest first, then
 * indexed from its tar headers, and the kernel and initrd copied into `workDir`. The caller owns
 * `workDir` and removes it.
 */
export async function pullKernelFiles(options: {
  client: RegistryClient;
  ref: ParsedImageRef;
  workDir: string;
  label: string;
  progress?: PullProgress;
  limits?: ImportLimits;
}): Promise<PulledKernel> {
  const { client, ref, workDir, progress, label } = options;
  const { manifest, digest } = await client.resolve(ref);
  await client.blobBytes(ref, manifest.config);
  const blobs = join(workDir, 'blobs');
  await mkdir(blobs, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  for (const layer of manifest.layers) {
    const file = join(blobs, layer.digest.slice('sha256:'.length));
    progress?.layer?.(layer.digest, layer.size);
    await client.downloadBlob(ref, layer, file, (n) => progress?.bytes?.(layer.digest, n));
    files.push(file);
  }
  progress?.phase?.('unpacking');
  const limits = options.limits ?? KERNEL_IMAGE_LIMITS;
  const budget = new Budget(
    {
      maxBytes: Math.min(limits.maxBytes, KERNEL_IMAGE_LIMITS.maxBytes),
      maxEntries: Math.min(limits.maxEntries, KERNEL_IMAGE_LIMITS.maxEntries),
    },
    label,
  );
  const tree = newKernelTree();
  for (const [layer, file] of files.entries()) {
    tree.beginLayer({ label, digest: manifest.layers[layer]?.digest ?? '' });
    await eachEntry(file, budget, async (h, body, entry) => {
      const magic =
        h.type === 'file' || h.type === 'contiguous-file'
          ? await firstBytes(body, 4)
          : Buffer.alloc(0);
      const header = {
        name: h.name,
        type: h.type ?? 'file',
        linkname: h.linkname ?? '',
        size: h.size,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        mtime: h.mtime,
      };
      addKernelEntry(tree, header, { layer, entry, magic });
    });
  }
  const choice = chooseKernelFiles(tree, label);
  const wanted = [
    {
      node: choice.kernel.node,
      dest: join(workDir, choice.kernel.kind === 'elf' ? 'vmlinux' : 'bzImage'),
    },
    ...(choice.initrd ? [{ node: choice.initrd.node, dest: join(workDir, 'initrd') }] : []),
  ];
  const plan = planModules(tree, label);
  const modulesPath = join(workDir, 'modules.tar');
  const modules = plan ? new ModulesTar(plan, modulesPath) : undefined;
  const moduleLayers = new Set(
    plan?.entries.flatMap((e) => (e.kind === 'file' ? [e.node.layer] : [])),
  );
  try {
    for (const [layer, file] of files.entries()) {
      const here = wanted.filter((w) => w.node.layer === layer);
      if (here.length === 0 && !moduleLayers.has(layer)) continue;
      await eachEntry(file, budget, async (_h, body, entry) => {
        const module = modules?.fileAt(layer, entry);
        if (module !== undefined) await modules?.addFile(module, body);
        // The kernel and initrd may be one file (a hardlink): each destination gets a copy.
        const dests = here.filter((w) => w.node.entry === entry).map((w) => w.dest);
        if (dests.length === 0 || module !== undefined) return;
        const [first = '', ...more] = dests;
        await writeNew(first, body);
        for (const d of more) await copyFile(first, d, constants.COPYFILE_EXCL);
      });
    }
    await modules?.finish();
  } catch (err) {
    modules?.abort();
    throw err;
  }
  await rm(blobs, { recursive: true, force: true });
  return {
    manifestDigest: digest,
    configDigest: manifest.config.digest,
    kernel: {
      path: wanted[0]?.dest ?? '',
      kind: choice.kernel.kind,
      name: `/${choice.kernel.name}`,
    },
    ...(choice.initrd ? { initrd: join(workDir, 'initrd') } : {}),
    ...(plan ? { modules: { path: modulesPath, releases: plan.releases } } : {}),
  };
}
