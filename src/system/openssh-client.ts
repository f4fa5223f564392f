import { spawn, type StdioOptions } from 'node:child_process';
import { unavailable } from '../errors.js';
import type { SSHClient, SSHStreams } from './ssh-client.js';
import { sshAnswers } from './tcp-probe.js';

/** OpenSSH's ssh and scp, run with an argv (never through a shell). */
export const opensshClient: SSHClient = {
  answers: (host, port, o) => sshAnswers(host, port, o),
  ssh: (args, stdio, options = {}) =>
    new Promise((resolve, reject) => {
      const child = spawn('ssh', [...args], {
        stdio: stdioOf(stdio),
        ...(options.signal !== undefined ? { signal: options.signal, killSignal: 'SIGTERM' } : {}),
      });
      let stdout = '';
      let stderr = '';
      if (typeof stdio === 'object') {
        // A stream with a descriptor of its own was handed to ssh; the others are copied.
        if (child.stdin) stdio.stdin.pipe(child.stdin).on('error', () => undefined);
        child.stdout?.pipe(stdio.stdout, { end: false });
        child.stderr?.pipe(stdio.stderr, { end: false });
      } else {
        child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      }
      child.on('error', (err) => {
        if (err.name === 'AbortError') return;
        reject(unavailable(`ssh: ${err.message}`, { cause: err, hint: 'install openssh-client' }));
      });
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    }),
  scp: (args) =>
    new Promise((resolve, reject) => {
      let stderr = '';
      const child = spawn('scp', [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', (err) => reject(unavailable(`scp: ${err.message}`, { cause: err })));
      child.on('close', (code) => resolve({ code, stderr }));
    }),
};

function stdioOf(stdio: 'inherit' | 'pipe' | SSHStreams): StdioOptions {
  if (stdio === 'inherit') return 'inherit';
  if (stdio === 'pipe') return ['ignore', 'pipe', 'pipe'];
  return [stdio.stdin, stdio.stdout, stdio.stderr].map((s) => fdOf(s) ?? 'pipe');
}

/** The descriptor behind a stream (a terminal, file or pipe of this process), if it has one. */
function fdOf(stream: object): number | undefined {
  const fd = (stream as { fd?: unknown }).fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
