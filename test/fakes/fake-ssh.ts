import type { SSHClient, SSHStreams } from '../../src/system/ssh-client.js';
import type { SSHKeys } from '../../src/system/ssh-keys.js';

/** SSH key pairs that are only strings: each generate is recorded and returns a distinct key. */
export class FakeSSHKeys implements SSHKeys {
  readonly generated: { dir: string; uid: string }[] = [];
  fail?: Error;

  generate(dir: string, uid: string): Promise<string> {
    if (this.fail !== undefined) return Promise.reject(this.fail);
    this.generated.push({ dir, uid });
    return Promise.resolve(`ssh-ed25519 AAAAfake${uid} ignite-${uid}`);
  }
}

/**
 * A guest's SSH server that answers when `answering` says so. scp is not run, and ssh only when
 * `guest` is set and streams are given: it then plays the guest's side of the command.
 */
export class FakeSSHClient implements SSHClient {
  readonly probes: string[] = [];
  readonly sshArgs: string[][] = [];
  answering: (host: string) => boolean = () => true;
  guest?: (args: readonly string[], io: SSHStreams, signal?: AbortSignal) => Promise<number>;

  answers(host: string, port: number): Promise<boolean> {
    this.probes.push(`${host}:${port}`);
    return Promise.resolve(this.answering(host));
  }

  async ssh(
    args: readonly string[],
    stdio: 'inherit' | 'pipe' | SSHStreams,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    if (this.guest === undefined || typeof stdio !== 'object')
      throw new Error('FakeSSHClient: ssh is not run in process');
    this.sshArgs.push([...args]);
    return { code: await this.guest(args, stdio, options.signal), stdout: '', stderr: '' };
  }

  scp(): Promise<{ code: number | null; stderr: string }> {
    return Promise.reject(new Error('FakeSSHClient: scp is not run in process'));
  }
}
