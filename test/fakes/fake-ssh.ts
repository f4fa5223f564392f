import type { SSHClient } from '../../src/system/ssh-client.js';
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

/** A guest's SSH server that answers when `answering` says so; ssh and scp are not run. */
export class FakeSSHClient implements SSHClient {
  readonly probes: string[] = [];
  answering: (host: string) => boolean = () => true;

  answers(host: string, port: number): Promise<boolean> {
    this.probes.push(`${host}:${port}`);
    return Promise.resolve(this.answering(host));
  }

  ssh(): Promise<{ code: number; stdout: string; stderr: string }> {
    return Promise.reject(new Error('FakeSSHClient: ssh is not run in process'));
  }

  scp(): Promise<{ code: number | null; stderr: string }> {
    return Promise.reject(new Error('FakeSSHClient: scp is not run in process'));
  }
}
