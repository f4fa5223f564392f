import { AppError, invalidArgument, unavailable } from '../errors.js';
import type { DecodedForm } from '../storage/decoded-form.js';
import { LOG_LEVELS, type LogLevel } from '../system/logger.js';
import type { HandledSignal } from '../system/program-io.js';
import type { ProcessRef } from '../system/processes.js';
import type { Services } from './services.js';
import {
  HOST_SUPERVISOR_FLAG,
  launchHostSupervisor,
  liveHostSupervisor,
  type LaunchServices,
} from './supervisor-launch.js';

/*
 * One supervisor per host (per data directory) supervises every VM started there: a Node
 * process costs some 80 MiB, which one per VM would pay again for each. `ignite-spawn
 * --supervise-host` is it (supervisor-launch.ts); it starts on demand and ends once it has had
 * no VM for a while.
 */
export { HOST_SUPERVISOR_FLAG, loggedLevel } from './supervisor-launch.js';

/** How long a host supervisor with no VM to supervise stays, for the next start to find it. */
export const HOST_SUPERVISOR_IDLE_MS = 10_000;

/**
 * What the host supervisor is asked over its socket (layout.ts `hostSupervisorSocket`):
 * - `supervise`: take the VM on, with its starter's environment; answered once the VM is
 *   recorded Running, or with the error that kept it from running. `known` is the VM as its
 *   starter read it, with the checksum it was stored at: while that is still the stored one, the
 *   supervisor need not decode it again (a new supervisor's first decode is its slowest);
 * - `signal`: SIGTERM asks the VM's guest to power off, SIGQUIT kills its hypervisor;
 * - `ping`: answered with the supervisor's PID.
 */
export type HostSupervisorRequest =
  | {
      op: 'supervise';
      uid: string;
      env: Record<string, string>;
      logLevel?: LogLevel;
      policyRestart?: boolean;
      stopTimeoutMs?: number;
      known?: { checksum: string; form: DecodedForm };
    }
  | { op: 'signal'; uid: string; signal: 'SIGTERM' | 'SIGQUIT' }
  | { op: 'ping' };

export interface PingAnswer {
  pid: number;
  /** Set while it ends (told to, or idle): it takes no VM, and a new one starts once it is gone. */
  ending?: boolean;
}

export function parseHostSupervisorRequest(value: unknown): HostSupervisorRequest {
  const r = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const uid = r['uid'];
  const bad = () => invalidArgument(`supervisor request ${JSON.stringify(value)}: not understood`);
  if (r['op'] === 'ping') return { op: 'ping' };
  if (typeof uid !== 'string' || uid === '') throw bad();
  if (r['op'] === 'signal' && (r['signal'] === 'SIGTERM' || r['signal'] === 'SIGQUIT'))
    return { op: 'signal', uid, signal: r['signal'] };
  if (r['op'] !== 'supervise') throw bad();
  const env = r['env'];
  if (typeof env !== 'object' || env === null) throw bad();
  const strings = Object.entries(env).filter(
    (e): e is [string, string] => typeof e[1] === 'string',
  );
  const level = r['logLevel'];
  const timeout = r['stopTimeoutMs'];
  const known = r['known'] as { checksum?: unknown; form?: unknown } | null | undefined;
  const form = known?.form;
  return {
    op: 'supervise',
    uid,
    env: Object.fromEntries(strings),
    ...(LOG_LEVELS.includes(level as LogLevel) ? { logLevel: level as LogLevel } : {}),
    ...(r['policyRestart'] === true ? { policyRestart: true } : {}),
    ...(typeof timeout === 'number' && timeout > 0 ? { stopTimeoutMs: timeout } : {}),
    // Its shape is checked where it is revived (reviveDecodedForm).
    ...(typeof known?.checksum === 'string' && typeof form === 'object' && form !== null
      ? { known: { checksum: known.checksum, form: form as DecodedForm } }
      : {}),
  };
}

/**
 * Whether the VM is supervised by the host supervisor `pid`: that process lives (recognised by
 * its flag, so a reused PID does not count) and the VM's mark names it. The mark stays until the
 * supervisor has cleaned up after the VM, so a VM being stopped counts as supervised until then.
 */
export function isSupervised(
  s: Pick<Services, 'processes' | 'runtimeFiles'>,
  uid: string,
  pid: number | undefined,
): boolean {
  if (pid === undefined || uid === '') return false;
  const mark = s.runtimeFiles.supervisedBy(uid);
  // A VM started by an earlier version has a supervisor of its own, with its UID in its command
  // line and no mark: it runs on until stopped, which ends it through its hypervisor.
  if (mark === undefined) return s.processes.isAlive(pid, { marker: uid });
  return mark === pid && s.processes.isAlive(pid, { marker: HOST_SUPERVISOR_FLAG });
}

/** Waits until the VM is no longer supervised by `pid`; false if it still is after `timeoutMs`. */
export async function waitUnsupervised(
  s: Pick<Services, 'processes' | 'runtimeFiles' | 'clock'>,
  uid: string,
  pid: number | undefined,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = s.clock.now().getTime() + timeoutMs;
  while (isSupervised(s, uid, pid)) {
    if (s.clock.now().getTime() >= deadline) return false;
    await s.clock.sleep(20);
  }
  return true;
}

/** Asks the VM's host supervisor to deliver `signal` to the VM's run; false if none answers. */
export async function signalSupervised(
  s: Pick<Services, 'requests' | 'layout'>,
  uid: string,
  signal: Extract<HandledSignal, 'SIGTERM' | 'SIGQUIT'>,
): Promise<boolean> {
  const request: HostSupervisorRequest = { op: 'signal', uid, signal };
  try {
    await s.requests.request(s.layout.hostSupervisorSocket, request, 10_000);
    return true;
  } catch (err) {
    if (err instanceof AppError && (err.code === 'Unavailable' || err.code === 'NotFound'))
      return false;
    throw err;
  }
}

export type HostSupervisorServices = Pick<
  Services,
  'config' | 'layout' | 'processes' | 'requests' | 'spawnCommand' | 'clock'
>;

async function ping(s: Pick<Services, 'requests' | 'layout'>): Promise<PingAnswer | undefined> {
  try {
    const answer = (await s.requests.request(
      s.layout.hostSupervisorSocket,
      { op: 'ping' } satisfies HostSupervisorRequest,
      5_000,
    )) as Partial<PingAnswer>;
    if (typeof answer.pid !== 'number') return undefined;
    return { pid: answer.pid, ...(answer.ending === true ? { ending: true } : {}) };
  } catch {
    return undefined;
  }
}

const START_TIMEOUT_MS = 20_000;
const LOSER_GRACE_MS = 3_000;

function identityOf(p: ProcessRef): { startTime?: number } {
  return p.startTime !== undefined ? { startTime: p.startTime } : {};
}

/**
 * The host supervisor's PID, started (detached, logging to layout.ts `hostSupervisorLog`) when
 * none answers. One that is still starting, as its pid file says (another command's, or the one
 * bin/ignite.js started before this process had loaded), is waited for rather than joined by a
 * second; if it ends without answering, one is started.
 */
export async function ensureHostSupervisor(s: HostSupervisorServices): Promise<number> {
  const found = await ping(s);
  if (found !== undefined && found.ending !== true) return found.pid;
  const launch: LaunchServices = {
    config: s.config,
    files: s.layout.hostSupervisor,
    processes: s.processes,
    spawnCommand: s.spawnCommand,
  };
  let proc = liveHostSupervisor(launch);
  let launched = proc === undefined;
  proc ??= launchHostSupervisor(launch);
  const hint = `see ${s.layout.hostSupervisorLog}`;
  const deadline = s.clock.now().getTime() + START_TIMEOUT_MS;
  let ended: number | undefined;
  let ending: number | undefined;
  for (let tries = 0; ; tries++) {
    // One that is ending holds the pid file until it is gone (its VMs stopped): then, as for one
    // that died, a new one is started.
    const up = await ping(s);
    if (up !== undefined && up.ending !== true) return up.pid;
    ending = up?.pid;
    const now = s.clock.now().getTime();
    if (now >= deadline) break;
    if (ended === undefined && !s.processes.isAlive(proc.pid, identityOf(proc))) {
      if (!launched) {
        proc = launchHostSupervisor(launch);
        launched = true;
        continue;
      }
      // One that ended may have found another starting, which then answers soon.
      ended = now;
    }
    if (ended !== undefined && now - ended > LOSER_GRACE_MS)
      throw unavailable('supervisor: ended as it started, and no other answers', { hint });
    // A new supervisor answers within a few hundred ms, while a VM's start waits for it: it is
    // looked for often at first (a failed connect costs little), then less.
    await s.clock.sleep(tries < 250 ? 2 : 10);
  }
  if (ending !== undefined)
    throw unavailable(`supervisor ${ending}: still ending after ${START_TIMEOUT_MS / 1000} s`, {
      hint: `retry once it has stopped its VMs; ${hint}`,
    });
  throw unavailable(`supervisor: did not answer within ${START_TIMEOUT_MS / 1000} s`, { hint });
}
