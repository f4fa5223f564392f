import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon } from './daemon.js';

let viaDaemon = false;

/**
 * Makes the shared e2e cases drive ignite through an `ignited` of their own (IGNITE_HOST) rather
 * than on the data dir. test/e2e/through-daemon.test.ts calls it, then imports the cases.
 */
export function driveThroughDaemon(): void {
  viaDaemon = true;
}

/** Whether the cases of this process run through a daemon. */
export function throughDaemon(): boolean {
  return viaDaemon;
}

export interface CliMode extends AsyncDisposable {
  /** The environment for `ignite`: the one given, with IGNITE_HOST when through a daemon. */
  env: NodeJS.ProcessEnv;
  /** The daemon's log, when there is one (for failure messages). */
  daemonLog(): string;
}

/**
 * The environment a case runs `ignite` with. Through a daemon, starts `ignited daemon` with the
 * same environment (data dir, kernel, accelerator) on a socket of its own, and adds its address
 * as IGNITE_HOST; disposing stops it, leaving its VMs to the case's own cleanup.
 */
export async function cliMode(env: NodeJS.ProcessEnv): Promise<CliMode> {
  if (!viaDaemon)
    return { env, daemonLog: () => '', [Symbol.asyncDispose]: () => Promise.resolve() };
  const dir = await mkdtemp(join(tmpdir(), 'ignited-e2e-'));
  // At debug level it logs every request: the check below that the case went through it.
  const daemon = await startTestDaemon(env, { dir, args: ['--log-level', 'debug'] }).catch(
    async (err: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw err;
    },
  );
  return {
    env: { ...env, IGNITE_HOST: daemon.host },
    daemonLog: () => daemon.log(),
    [Symbol.asyncDispose]: async () => {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
      if (!/"url":"\/apis\/[^\n]*"msg":"api: request"/.test(daemon.log()))
        throw new Error('through-daemon case: no API request reached the daemon');
    },
  };
}
