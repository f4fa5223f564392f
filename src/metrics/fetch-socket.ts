import { get } from 'node:http';

/** Why a VM's exposition could not be had; the `reason` label of `ignite_scrape_errors_total`. */
export type FetchFailure = 'unreachable' | 'timeout' | 'invalid';

export type FetchResult =
  { ok: true; text: string } | { ok: false; reason: FetchFailure; message: string };

export interface FetchOptions {
  timeoutMs: number;
  /** Larger bodies are refused: a supervisor's exposition is a few tens of kB. */
  maxBytes?: number;
}

/** GETs `/metrics` over the unix socket `socketPath`; never throws. */
export function fetchFromSocket(socketPath: string, options: FetchOptions): Promise<FetchResult> {
  const maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: FetchResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const fail = (reason: FetchFailure, message: string): void =>
      finish({ ok: false, reason, message });
    // One deadline for connecting, the headers and the whole body.
    const timer = setTimeout(
      () => fail('timeout', `no answer in ${options.timeoutMs} ms`),
      options.timeoutMs,
    );
    const req = get({ socketPath, path: '/metrics', headers: { accept: 'text/plain' } }, (res) => {
      if (res.statusCode !== 200) {
        fail('invalid', `HTTP ${res.statusCode ?? '?'}`);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) fail('invalid', `exposition larger than ${maxBytes} bytes`);
        else chunks.push(chunk);
      });
      res.on('end', () => finish({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => fail('unreachable', err.message));
    });
    req.on('error', (err) => fail('unreachable', err.message));
  });
}
