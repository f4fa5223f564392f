import type { HostSupervisorFiles } from '../storage/host-supervisor-files.js';
import type { HostConfig } from '../system/host-config.js';
import type { LogLevel } from '../system/log-levels.js';
import type { SpawnCommand } from '../system/packaging.js';
import type { ProcessRef, Processes } from '../system/processes.js';

/**
 * The host supervisor's flag: `ignite-spawn --supervise-host` is it. The flag is also how its PID
 * is recognised: stored PIDs are checked against it.
 */
export const HOST_SUPERVISOR_FLAG = '--supervise-host';

/** A supervisor's log level: a command's own, but never silent (its log is all it leaves). */
export function loggedLevel(level: LogLevel): LogLevel {
  return level === 'silent' ? 'info' : level;
}

/**
 * What starting a host supervisor takes. Light on purpose: bin/ignite.js starts one through this
 * before the CLI's bundle has loaded (src/cli/early-supervisor.ts).
 */
export interface LaunchServices {
  config: Pick<HostConfig, 'dataDir' | 'logLevel' | 'env'>;
  files: Pick<HostSupervisorFiles, 'pidFile' | 'log'>;
  processes: Pick<Processes, 'spawnDetached' | 'isAlive' | 'pidFileHolder' | 'claimPidFile'>;
  spawnCommand: SpawnCommand;
}

/** The host supervisor that holds the pid file and lives: serving, or still starting. */
export function liveHostSupervisor(s: LaunchServices): ProcessRef | undefined {
  const holder = s.processes.pidFileHolder(s.files.pidFile);
  if (holder === undefined) return undefined;
  const identity = {
    marker: HOST_SUPERVISOR_FLAG,
    ...(holder.startTime !== undefined ? { startTime: holder.startTime } : {}),
  };
  return s.processes.isAlive(holder.pid, identity) ? holder : undefined;
}

/**
 * Starts a host supervisor, detached, logging to its log, and claims its pid file for it at
 * once: a command that starts a VM meanwhile then waits for this one instead of starting
 * another. Where another claimed it first, that one serves, and this one ends at its lock.
 */
export function launchHostSupervisor(s: LaunchServices): ProcessRef {
  const proc = s.processes.spawnDetached(
    s.spawnCommand.file,
    [
      ...s.spawnCommand.args,
      HOST_SUPERVISOR_FLAG,
      '--data-dir',
      s.config.dataDir,
      '--log-level',
      loggedLevel(s.config.logLevel),
    ],
    { logFile: s.files.log, env: supervisorEnv(s.config.env) },
  );
  try {
    s.processes.claimPidFile(s.files.pidFile, proc);
  } catch {
    // Unclaimed, it takes the lock itself once loaded; only a second start may then race it.
  }
  return proc;
}

/**
 * The host supervisor's environment: its starter's, but without NODE_EXTRA_CA_CERTS where it
 * makes no TLS connection (a local store: it imports nothing and talks to no etcd). Node 20 with
 * OpenSSL 3 loads those certificates as it starts, whether or not it will use them; on the
 * project's machines that is 40 ms of every supervisor's start, which a host's first VM waits for.
 * With an etcd store (IGNITE_STORE) its connection may need them, and they are passed on.
 */
export function supervisorEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env['NODE_EXTRA_CA_CERTS'] === undefined || (env['IGNITE_STORE'] ?? '') !== '') return env;
  const { NODE_EXTRA_CA_CERTS: _unused, ...rest } = env;
  return rest;
}
