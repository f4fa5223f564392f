import { execFile } from 'node:child_process';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IGNITE_BIN, runProgram, type CliResult } from './cli.js';

const pexec = promisify(execFile);

/** An ordinary user of the host, made by the rootless tests. */
export interface TestUser {
  name: string;
  uid: number;
  home: string;
}

/**
 * The ordinary users rootless tests run as: no sudo, no groups beyond their own. Test files run
 * in parallel, so each file has users of its own: the third is the hostile-layer test's.
 */
export const ROOTLESS_USERS = ['ignite-rootless1', 'ignite-rootless2', 'ignite-rootless3'] as const;

/** The user `name`, made (with a home) if missing. */
export async function ensureUser(name: string): Promise<TestUser> {
  const have = await pexec('id', ['-u', name]).catch(() => undefined);
  if (have === undefined) await pexec('useradd', ['-m', '-s', '/bin/sh', name]);
  const [, , uid, , , home] = (await pexec('getent', ['passwd', name])).stdout.trim().split(':');
  return { name, uid: Number(uid), home: home ?? `/home/${name}` };
}

/** A fresh 0700 dir under /tmp owned by `user`: the user's XDG_RUNTIME_DIR in a test. */
export async function runtimeDirOf(user: TestUser): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-rootless-rt-'));
  await pexec('chown', [`${user.uid}:${user.uid}`, dir]);
  await chmod(dir, 0o700);
  return dir;
}

/**
 * Debian's PATH for an ordinary user's login (login.defs ENV_PATH): no sbin directories, where
 * tools such as debugfs and mkfs.ext4 live.
 */
const USER_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games';

/** The built CLI as `user`, with only the environment a login would give plus `env`. */
export function asUser(
  user: Pick<TestUser, 'name' | 'home'>,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 180_000,
): Promise<CliResult> {
  const vars = Object.entries({ HOME: user.home, USER: user.name, ...env }).map(
    ([k, v]) => `${k}=${v}`,
  );
  return runProgram(
    'runuser',
    ['-u', user.name, '--', 'env', '-i', `PATH=${USER_PATH}`, ...vars].concat([
      process.execPath,
      IGNITE_BIN,
      ...args,
    ]),
    {},
    timeoutMs,
  );
}

/** The live processes of `user` (`pid stat args`), zombies left out. */
/**
 * The user's processes once its host supervisor has ended (it does by itself, 10 s after its
 * last VM): what is left then is what a run left behind.
 */
export async function processesOnceIdle(user: string): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  let left = await processesOf(user);
  while (left.some((l) => l.includes('--supervise-host')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    left = await processesOf(user);
  }
  return left;
}

export async function processesOf(user: string): Promise<string[]> {
  const r = await pexec('ps', ['-u', user, '-o', 'pid=,stat=,args=']).catch(() => ({
    stdout: '',
  }));
  // Zombies hold nothing and end with their parent (runuser's, here).
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^\d+\s+Z/.test(l));
}
