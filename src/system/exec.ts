import { execFile as execFileCb } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, unavailable } from '../errors.js';

/**
 * Runs programs with an argv, never through a shell, so user input can never be interpreted as
 * shell syntax. Every external tool the project uses goes through here.
 */
export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Largest stdout/stderr kept, in bytes. */
  maxBuffer?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs `file args…` and returns its output; throws AppError when it cannot start or exits non-zero. */
export async function run(
  file: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const result = await runUnchecked(file, args, options);
  if (result.exitCode !== 0) {
    const detail =
      result.stderr.trim().split('\n').slice(-3).join(' | ') || `exit code ${result.exitCode}`;
    // A tool that ran out of disk space failed for a reason the user can fix, not a bug.
    const code = /No space left on device|Disk quota exceeded/i.test(result.stderr)
      ? 'Unavailable'
      : 'Internal';
    throw new AppError(code, `${file}: failed (exit ${result.exitCode}): ${detail}`, {
      cause: { file, args, ...result },
    });
  }
  return result;
}

/** Runs `file args…` and returns its output and exit code, whatever the code. */
export function runUnchecked(
  file: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFileCb(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutMs,
        maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code === 'string') {
          if (err.code === 'ENOENT') {
            reject(
              unavailable(`${file}: not installed or not on PATH`, {
                cause: err,
                hint: 'run scripts/setup.sh',
              }),
            );
          } else {
            reject(new AppError('Internal', `${file}: ${err.message}`, { cause: err }));
          }
          return;
        }
        if (err && err.killed) {
          reject(unavailable(`${file}: timed out after ${options.timeoutMs} ms`, { cause: err }));
          return;
        }
        const exitCode = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ stdout, stderr, exitCode });
      },
    );
    // A program may exit without reading all its input; that is its answer, not our crash.
    child.stdin?.on('error', () => undefined);
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/**
 * The executable `file` resolves to, as execvp would find it: a path as given, a bare name on
 * PATH; undefined when there is none. A file-system lookup, not a trial run: asking whether an
 * optional program is installed should not cost a process start.
 */
export function findProgram(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const executable = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (file.includes('/')) return executable(file) ? file : undefined;
  for (const dir of (env['PATH'] ?? '').split(':')) {
    const p = join(dir || '.', file);
    if (executable(p)) return p;
  }
  return undefined;
}

/** Where Debian keeps administration tools that an ordinary user may run as well. */
const ADMIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/**
 * `path` with the administration directories after its own: an ordinary user's PATH lacks them,
 * yet debugfs and mkfs.ext4, which a rootless import and root disk need, live there.
 */
export function withAdminDirs(path: string | undefined): string {
  const dirs = (path ?? '').split(':').filter((d) => d !== '');
  return [...dirs, ...ADMIN_DIRS.filter((d) => !dirs.includes(d))].join(':');
}

/** Whether `file` can be found on PATH (or is an executable path). */
export function hasProgram(file: string): boolean {
  return findProgram(file) !== undefined;
}
