import { join, resolve } from 'node:path';

/**
 * The host supervisor's files, for a data dir and an optional run dir (see layout.ts). Kept apart
 * from DataLayout, which needs the API's schemas, so that bin/ignite.js can find them before the
 * CLI's bundle has loaded (src/cli/early-supervisor.ts).
 */
export interface HostSupervisorFiles {
  /**
   * Its request socket, where it is asked to supervise VMs: beside the VMs' run dirs
   * (`<runDir>/supervisor.sock`), or `<dataDir>/supervisor.sock` without a run dir.
   */
  socket: string;
  /** Its pid and start time: one host supervisor per data directory (and run dir). */
  pidFile: string;
  /** Its own log (JSON lines); each VM's lines go to its spawn.log. */
  log: string;
}

export function hostSupervisorFiles(dataDir: string, runDir?: string): HostSupervisorFiles {
  const root = resolve(dataDir);
  const beside = runDir !== undefined ? resolve(runDir) : root;
  return {
    socket: join(beside, 'supervisor.sock'),
    pidFile: join(beside, 'supervisor.pid'),
    log: join(root, 'supervisor.log'),
  };
}
