import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { invalidArgument, unavailable } from '../errors.js';
import type { Descriptor } from './oci-manifest.js';

/** Reads a response body into memory, stopping (and cancelling it) past `limit` bytes. */
export async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > limit) {
    await res.body?.cancel();
    throw invalidArgument(`${what} is too large (${len} bytes, at most ${limit})`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body === null) return Buffer.alloc(0);
  // Leaving the loop early cancels the body: nothing past the limit is buffered.
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > limit) throw invalidArgument(`${what} is too large (more than ${limit} bytes)`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export function parseJSON(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalidArgument(`${what}: not valid JSON`);
  }
}

/**
 * A blob response's body, checked as it passes: it fails as soon as it grows past the
 * descriptor's size, and at its end if it is shorter or its sha256 differs. Whatever a consumer
 * made of it counts only once the body was read to the end.
 */
export async function* verifiedBody(
  res: Response,
  desc: Descriptor,
  what: string,
  onBytes?: (n: number) => void,
): AsyncGenerator<Buffer> {
  if (res.body === null) throw unavailable(`${what}: empty response for blob ${desc.digest}`);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of Readable.fromWeb(res.body as WebReadableStream<Uint8Array>)) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > desc.size)
      throw invalidArgument(
        `${what}: blob ${desc.digest} is larger than its manifest says (${desc.size} bytes)`,
      );
    hash.update(buf);
    onBytes?.(buf.length);
    yield buf;
  }
  if (size !== desc.size)
    throw invalidArgument(
      `${what}: blob ${desc.digest} is truncated (${size} of ${desc.size} bytes)`,
    );
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== desc.digest)
    throw invalidArgument(`${what}: digest mismatch for blob ${desc.digest} (got ${got})`);
}
