import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');
export const IGNITED_BIN = join(ROOT, 'bin/ignited.js');

/** A running `ignited daemon`, started from the built bin as a user (or systemd) would. */
export interface TestDaemon extends AsyncDisposable {
  child: ChildProcess;
  /** Its unix socket. */
  socket: string;
  /** Everything it logged so far. */
  log(): string;
  /** Ends it with `signal` (SIGTERM, or SIGKILL as a crash would) and waits for it to go. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Whether a GET /healthz on the socket answers 200. */
function healthy(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/healthz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.end();
  });
}

/**
 * Starts `ignited daemon --listen unix://<socket> --data-dir <dataDir> ...extra` and waits until
 * it answers on the socket. The environment is the test's (its kernel image, TCG).
 */
export async function startIgnited(
  socket: string,
  dataDir: string,
  env: NodeJS.ProcessEnv,
  extra: readonly string[] = [],
): Promise<TestDaemon> {
  const child = spawn(
    process.execPath,
    [IGNITED_BIN, 'daemon', '--listen', `unix://${socket}`, '--data-dir', dataDir, ...extra],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!(await healthy(socket))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`ignited did not start (exit ${child.exitCode}):\n${log.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { child, socket, log: () => log, stop, [Symbol.asyncDispose]: () => stop('SIGKILL') };
}
