import { spawn, type ChildProcess } from 'node:child_process';
import { IGNITE_BIN } from './cli.js';

/** A long-running `ignite` command (gitops, metrics serve) whose log lines the test waits for. */
export interface BackgroundCli extends AsyncDisposable {
  child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  log(): string;
  /** Waits until stderr matches `pattern` (searched from `from`); returns the match's end offset. */
  waitFor(pattern: RegExp, timeoutMs: number, from?: number): Promise<number>;
  /** Resolves with the exit code once it has exited. */
  exited(): Promise<number | null>;
}

export function backgroundIgnite(args: readonly string[], env: NodeJS.ProcessEnv): BackgroundCli {
  const child = spawn(process.execPath, [IGNITE_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout?.resume();
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    log: () => stderr,
    async waitFor(pattern, timeoutMs, from = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(stderr.slice(from));
        if (m) return from + m.index + m[0].length;
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(
            `no ${String(pattern)} in the log of ignite ${args.join(' ')} (exit ${child.exitCode}):\n${stderr.slice(-4000)}`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    exited: () => exit,
    [Symbol.asyncDispose]: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}
