import { execFile } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');
export const IGNITE_BIN = join(ROOT, 'bin/ignite.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `ignite` CLI as a user would, with its own data dir. Never throws on exit codes. */
export function ignite(
  args: readonly string[],
  options: {
    dataDir?: string;
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    /** Written to the CLI's stdin, which is then closed. */
    input?: string;
  } = {},
): Promise<CliResult> {
  const env = { ...process.env, ...options.env };
  if (options.dataDir !== undefined) env['IGNITE_DATA_DIR'] = options.dataDir;
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [IGNITE_BIN, ...args],
      { env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number' && err.code !== undefined)
          return reject(new Error(err.message, { cause: err }));
        resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs any program with an argv and a clean environment plus `env`; never throws on exit codes. */
export function runProgram(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 300_000,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: { PATH: process.env['PATH'], ...env }, timeout: timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The uid and gid of `nobody`, the ordinary user tests run the CLI as. */
export const NOBODY = 65534;

/** Runs the CLI as `nobody` (setpriv drops root's ids and groups), as an ordinary user would. */
export function igniteAsNobody(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs?: number,
): Promise<CliResult> {
  return runProgram(
    'setpriv',
    [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      process.execPath,
      IGNITE_BIN,
      ...args,
    ],
    { HOME: '/nonexistent', ...env },
    timeoutMs,
  );
}

/** `ignite exec`, retried while sshd in the guest is still starting. */
export async function execWhenUp(name: string, args: string[], env: NodeJS.ProcessEnv) {
  let r: CliResult = await ignite(['exec', name, '--', ...args], { env });
  for (let i = 0; i < 90 && r.code !== 0; i++) {
    await new Promise((res) => setTimeout(res, 2000));
    r = await ignite(['exec', name, '--', ...args], { env });
  }
  return r;
}

/**
 * `ignite run IMAGE --name NAME …flags`, which must succeed. Disposing of the result removes the
 * VM (`rm -f`), whether the test passed or not.
 */
export async function runTestVM(
  image: string,
  name: string,
  flags: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<CliResult & AsyncDisposable> {
  const remove = async () => {
    await ignite(['rm', '-f', name], { env });
  };
  const run = await ignite(['run', image, '--name', name, ...flags], { env });
  if (run.code !== 0) {
    await remove();
    throw new Error(`ignite run ${image} --name ${name}: exit ${run.code}\n${run.stderr}`);
  }
  return { ...run, [Symbol.asyncDispose]: remove };
}
