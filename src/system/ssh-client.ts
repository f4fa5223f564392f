/** Where ssh's stdin, stdout and stderr go when they are not this process's own. */
export interface SSHStreams {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** How a use case reaches a guest's SSH server: a probe, and the ssh and scp programs. */
export interface SSHClient {
  /**
   * Whether an SSH server answers at `host:port` (its identification line arrives) within
   * `connectMs` to connect and `bannerMs` to greet.
   */
  answers(host: string, port: number, o: { connectMs: number; bannerMs: number }): Promise<boolean>;
  /**
   * Runs ssh with `args`. With `inherit` it shares this process's terminal, and with streams it
   * reads and writes those; either way nothing is captured. `signal` ends ssh. Rejects only when
   * ssh cannot be started.
   */
  ssh(
    args: readonly string[],
    stdio: 'inherit' | 'pipe' | SSHStreams,
    options?: { signal?: AbortSignal },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Runs scp with `args`; resolves with its exit code (null when killed) and its stderr. */
  scp(args: readonly string[]): Promise<{ code: number | null; stderr: string }>;
}
