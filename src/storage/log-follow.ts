import { once } from 'node:events';
import { open, stat } from 'node:fs/promises';

/**
 * Writes what is appended to `file` to `out` until `signal` aborts, polling every `intervalMs`.
 * A rotation (the file replaced, or shorter than what was read) starts over at the new file's
 * beginning, so nothing written after the rotation is lost. A file not there yet is waited for.
 */
export async function followFile(
  file: string,
  from: number,
  out: NodeJS.WritableStream,
  signal: AbortSignal,
  intervalMs = 250,
): Promise<void> {
  let offset = from;
  let inode = await stat(file).then(
    (s) => s.ino,
    () => undefined,
  );
  const buf = Buffer.alloc(64 * 1024);
  while (!signal.aborted) {
    const st = await stat(file).catch(() => undefined);
    if (st !== undefined && (st.ino !== inode || st.size < offset)) {
      inode = st.ino;
      offset = 0;
    }
    if (st !== undefined && st.size > offset) {
      const fh = await open(file, 'r');
      try {
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          if (bytesRead === 0 || signal.aborted) break;
          offset += bytesRead;
          if (!out.write(Buffer.from(buf.subarray(0, bytesRead))))
            await once(out, 'drain', { signal }).catch(() => undefined);
        }
      } finally {
        await fh.close();
      }
      continue;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, intervalMs);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
}
