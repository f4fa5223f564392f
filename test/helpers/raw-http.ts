import { connect, type Socket } from 'node:net';

/** What came back on a raw connection: the parsed answer, if any, and when the connection ended. */
export interface RawAnswer {
  status?: number;
  headers: Record<string, string>;
  body: string;
  /** Everything received. */
  raw: string;
  /** How long after connecting the daemon closed the connection. */
  ms: number;
}

/**
 * One HTTP/1.1 exchange written by hand on a unix socket, for what a well-behaved client never
 * sends: `head` at once, then `body` after `bodyDelayMs` (in pieces, until an answer comes), then
 * `trickle` one byte every `intervalMs`. Ends
 * when the daemon closes the connection (or after `giveUpMs`), with whatever it answered.
 */
export function rawExchange(
  socketPath: string,
  o: {
    head: string;
    body?: Buffer;
    bodyDelayMs?: number;
    trickle?: string;
    intervalMs?: number;
    giveUpMs?: number;
  },
): Promise<RawAnswer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const sock = connect({ path: socketPath });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => sock.destroy(), o.giveUpMs ?? 60_000);
    sock.on('data', (b: Buffer) => chunks.push(b));
    sock.on('error', () => undefined);
    sock.once('close', () => {
      clearTimeout(giveUp);
      clearInterval(timer);
      resolve(parse(Buffer.concat(chunks).toString('utf8'), Math.round(performance.now() - t0)));
    });
    sock.once('connect', () => {
      if (o.head !== '') sock.write(o.head);
      if (o.body) {
        const body = o.body;
        // As curl does with a large body, give the daemon a moment to refuse it by its length.
        setTimeout(
          () => void writeUntilAnswered(sock, body, () => chunks.length > 0),
          o.bodyDelayMs ?? 0,
        );
      }
      const trickle = o.trickle ?? '';
      let i = 0;
      if (trickle === '') return;
      timer = setInterval(() => {
        if (i >= trickle.length || sock.destroyed) clearInterval(timer);
        else sock.write(trickle[i++] ?? '');
      }, o.intervalMs ?? 1000);
    });
  });
}

/**
 * Writes a large body in pieces and stops once an answer arrives, as an HTTP client does: a
 * daemon that refuses the body answers early and closes, and a client that kept writing would
 * meet a broken pipe before reading the answer.
 */
async function writeUntilAnswered(sock: Socket, body: Buffer, answered: () => boolean) {
  for (let at = 0; at < body.length && !answered() && !sock.destroyed; at += 64 << 10) {
    await new Promise<void>((resolve) => {
      sock.write(body.subarray(at, at + (64 << 10)), () => resolve());
    });
  }
}

function parse(raw: string, ms: number): RawAnswer {
  const end = raw.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(raw);
  if (end < 0 || !m?.[1]) return { headers: {}, body: '', raw, ms };
  const headers: Record<string, string> = {};
  for (const line of raw.slice(0, end).split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers, body: raw.slice(end + 4), raw, ms };
}
