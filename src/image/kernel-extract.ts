import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Readable, Transform } from 'node:stream';
import { invalidArgument } from '../errors.js';

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

/** A vmlinux is tens of MiB; a payload that inflates past this is a bomb, not a kernel. */
export const MAX_VMLINUX_BYTES = 512 * 1024 * 1024;

class TooLarge extends Error {}

/** Passes bytes through until `limit`, then fails the pipeline with TooLarge. */
function capped(limit: number): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      if (total > limit) cb(new TooLarge());
      else cb(null, chunk);
    },
  });
}

/**
 * Extracts the ELF vmlinux from a bzImage by decompressing its payload (gzip, xz or zstd) and
 * checking the result is an ELF. Each compression's magic is tried in file order. The output is
 * capped at `maxBytes` (512 MiB): a payload that inflates past it fails the import.
 */
export async function extractVmlinux(
  bzImage: string,
  dest: string,
  label: string,
  options: {
    maxBytes?: number;
    /** How messages name the file: its path in the image. */ shownAs?: string;
  } = {},
): Promise<void> {
  const maxBytes = options.maxBytes ?? MAX_VMLINUX_BYTES;
  const shown = options.shownAs ?? posix.basename(bzImage);
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
          capped(maxBytes),
          createWriteStream(dest, { mode: 0o600 }),
        ).catch((err: unknown) => {
          // A gzip stream with trailing bytes still yields its kernel; only the cap is fatal.
          if (err instanceof TooLarge) throw err;
        });
      } else {
        await decompressWith(p.tool, payload, dest, maxBytes);
      }
      if (await isELF(dest)) return;
    } catch (err) {
      if (err instanceof TooLarge) {
        await rm(dest, { force: true });
        throw invalidArgument(
          `${label}: ${shown}: its ${p.name} payload inflates past ${maxBytes} bytes; the kernel is rejected`,
        );
      }
      // Otherwise try the next candidate: a magic can appear by chance.
    }
  }
  await rm(dest, { force: true });
  throw invalidArgument(`${label}: ${shown}: no gzip, xz or zstd payload that holds an ELF kernel`);
}

function decompressWith(
  argv: string[],
  input: Buffer,
  dest: string,
  maxBytes: number,
): Promise<void> {
  const [bin = '', ...args] = argv;
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdin.on('error', () => undefined); // the tool stops reading at the end of its stream
  child.stdin.end(input);
  const done = pipeline(child.stdout, capped(maxBytes), createWriteStream(dest, { mode: 0o600 }));
  return new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    done.then(resolve, (err: Error) => {
      child.kill('SIGKILL');
      reject(err);
    });
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
