import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { invalidArgument } from '../errors.js';

/** What a message about a layer names: `image "…"` and the layer's digest. */
export interface LayerLabel {
  label: string;
  digest: string;
}

/** Detects the compression of a layer from its first bytes. */
export async function detectCompression(file: string): Promise<'gzip' | 'zstd' | 'none'> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    if (buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (buf.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

/** A stream of the layer's tar bytes, decompressed. zstd goes through the zstd CLI (Node 20 has none). */
export async function tarStream(file: string): Promise<Readable> {
  const kind = await detectCompression(file);
  // Large chunks: each one is a thread-pool job in zlib, and a read and a write per entry here.
  const read = () => createReadStream(file, { highWaterMark: 1 << 20 });
  if (kind === 'gzip') return read().pipe(createGunzip({ chunkSize: 1 << 18 }));
  if (kind === 'none') return read();
  const child = spawn('zstd', ['-dcq', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', (err) => child.stdout.destroy(err));
  return child.stdout;
}

/** Checks an entry name and returns it relative to the root (no leading `./`), or throws. */
export function safeName(raw: string, opts: LayerLabel): string {
  const bad = (why: string) =>
    invalidArgument(
      `${opts.label}: layer ${opts.digest}: entry "${raw}": ${why}; the layer is rejected`,
    );
  if (raw.includes('\0')) throw bad('contains a NUL byte');
  if (raw.startsWith('/')) throw bad('is an absolute path');
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw bad('leaves the root through ".."');
  return parts.join('/');
}

/** OCI whiteout prefix, and the marker of an opaque directory. */
export const WHITEOUT = '.wh.';
export const OPAQUE = '.wh..wh..opq';

/**
 * A layer's tar bytes from its (compressed) bytes as they stream in: gzip, zstd (through the zstd
 * CLI) or plain, told by the first bytes. An error in `source`, such as a digest mismatch found at
 * its end, fails the iteration.
 */
export async function* decompressed(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done === true) return;
  const head: Buffer = first.value;
  const rest = async function* () {
    yield head;
    for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value;
  };
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    yield* through(rest(), createGunzip({ chunkSize: 1 << 18 }));
  } else if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) {
    const child = spawn('zstd', ['-dcq'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.on('error', (err) => child.stdout.destroy(err));
    const feeding = pipeline(Readable.from(rest()), child.stdin);
    feeding.catch(() => child.kill());
    for await (const chunk of child.stdout) yield chunk as Buffer;
    await feeding;
    if ((await exited) !== 0) throw new Error('zstd could not decompress the layer');
  } else {
    yield* rest();
  }
}

async function* through(source: AsyncIterable<Buffer>, stage: Duplex): AsyncGenerator<Buffer> {
  const done = pipeline(Readable.from(source), stage);
  done.catch(() => undefined);
  for await (const chunk of stage) yield chunk as Buffer;
  await done;
}
