import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';

export const IGNITED_BIN = new URL('../../bin/ignited.js', import.meta.url).pathname;
export const API = '/apis/ignite.weave.works/v1alpha1';

/** An answer of the daemon's API, with its body as text and parsed when it is JSON. */
export interface APIResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** One request over a unix socket; `body` objects are sent as JSON. */
export function apiRequest(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<APIResponse> {
  return new Promise((resolve, reject) => {
    const data =
      body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: {
          ...(data !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** A running `ignited daemon` on a socket of its own, for a test or a benchmark. */
export interface TestDaemon extends AsyncDisposable {
  child: ChildProcess;
  socket: string;
  /** `unix://<socket>`, as IGNITE_HOST takes it. */
  host: string;
  log(): string;
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<APIResponse>;
  /** Kills it with `signal` (SIGTERM by default) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGKILLs its whole process group and session, and waits for it to exit. */
  killGroup(): Promise<void>;
}

/**
 * Starts `ignited daemon` listening on `<dir>/ignited.sock` (or `socket`) with `env` (its data
 * dir from IGNITE_DATA_DIR), and waits until `/healthz` answers.
 */
export async function startTestDaemon(
  env: NodeJS.ProcessEnv,
  o: { dir: string; socket?: string; args?: readonly string[]; timeoutMs?: number },
): Promise<TestDaemon> {
  const socket = o.socket ?? join(o.dir, 'ignited.sock');
  const child = spawn(
    process.execPath,
    [IGNITED_BIN, 'daemon', '--listen', `unix://${socket}`, ...(o.args ?? [])],
    // Its own session, as a service manager would start it: a test can kill its whole group.
    { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exit;
    }
  };
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    const ok = await apiRequest(socket, 'GET', '/healthz').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop('SIGKILL');
      throw new Error(`ignited did not start (exit ${child.exitCode}):\n${stderr.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    socket,
    host: `unix://${socket}`,
    log: () => stderr,
    request: (method, path, body, headers) => apiRequest(socket, method, path, body, headers),
    stop,
    async killGroup() {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        process.kill(-child.pid, 'SIGKILL');
        await exit;
      }
    },
    [Symbol.asyncDispose]: () => stop('SIGTERM'),
  };
}

/** `ignited daemon` on `socket` over `dataDir`, with extra flags. */
export function startIgnited(
  socket: string,
  dataDir: string,
  env: NodeJS.ProcessEnv,
  extra: readonly string[] = [],
): Promise<TestDaemon> {
  return startTestDaemon(env, { dir: dataDir, socket, args: ['--data-dir', dataDir, ...extra] });
}
