import { connect } from 'node:net';

export interface SSHProbeOptions {
  /** How long the TCP connection may take; an address that does not answer yet fails fast. */
  connectMs: number;
  /** How long a server that accepted the connection gets to send its identification line. */
  bannerMs: number;
}

/**
 * Whether an SSH server answers at `host:port`: a TCP connection, sending the client's
 * identification line, that receives the server's (`SSH-2.0-…`). A refused or unreachable address, a timeout, or another
 * protocol answering are all `false`.
 */
export function sshAnswers(host: string, port: number, options: SSHProbeOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let got = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    let timer = setTimeout(() => done(false), options.connectMs);
    sock.on('connect', () => {
      // Both sides send their identification at once (RFC 4253 4.2), as OpenSSH's client does:
      // some forwarders (Debian 12's passt) pass the server's greeting on only once the
      // client has spoken.
      sock.write('SSH-2.0-ignite-probe\r\n');
      // A busy guest (emulated, with sshd starting a process per connection) is slow to greet.
      clearTimeout(timer);
      timer = setTimeout(() => done(false), options.bannerMs);
    });
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.startsWith('SSH-')) done(true);
      else if (got.length >= 4 || got.includes('\n')) done(false);
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}
