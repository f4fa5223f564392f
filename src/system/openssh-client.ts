import { spawn } from 'node:child_process';
import { unavailable } from '../errors.js';
import type { SSHClient } from './ssh-client.js';
import { sshAnswers } from './tcp-probe.js';

/** OpenSSH's ssh and scp, run with an argv (never through a shell). */
export const opensshClient: SSHClient = {
  answers: (host, port, o) => sshAnswers(host, port, o),
  ssh: (args, stdio) =>
    new Promise((resolve, reject) => {
      const child = spawn('ssh', [...args], {
        stdio: stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (err) =>
        reject(unavailable(`ssh: ${err.message}`, { cause: err, hint: 'install openssh-client' })),
      );
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
