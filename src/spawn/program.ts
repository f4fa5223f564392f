import { createWriteStream } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { warmUpDecodingWhileIdle } from '../api/warm-up.js';
import { offerTrainedCodeCache } from '../system/code-cache.js';
import { failedPrecondition, toAppError } from '../errors.js';
import { createServices } from '../composition.js';
import { HostSupervisor, type ServicesForVM } from '../operations/host-supervisor.js';
import { HOST_SUPERVISOR_FLAG, HOST_SUPERVISOR_IDLE_MS } from '../operations/supervision.js';
import { DEFAULT_DATA_DIR, loadHostConfig } from '../system/host-config.js';
import { processStartTime } from '../system/linux-processes.js';
import { LOG_LEVELS, type LogLevel } from '../system/logger.js';
import { acquirePidLock } from '../system/pid-lock.js';
import type { ProgramIO } from '../system/program-io.js';
import { ensurePrivateDir } from '../system/private-dir.js';

/** When, after its first VM runs, a supervisor keeps a trained code cache (bin/load-bundle.cjs). */
const TRAIN_AFTER_MS = 3000;

/**
 * ignite-spawn: the host supervisor. `ignite start` starts one, detached, when none answers,
 * and hands it each VM to run; it owns their hypervisors, networks and metrics sockets, and
 * records their status. Its own log is `<dataDir>/supervisor.log`; each VM's lines go to
 * `<dataDir>/vm/<uid>/spawn.log` (`ignite logs --spawn <vm>`).
 */
function spawnProgram(io: ProgramIO): Command {
  return new Command('ignite-spawn')
    .description(
      'Supervise the VMs of a data directory: run their hypervisors and networks, serve metrics, record their status. Started by `ignite start`, not by hand.',
    )
    .addOption(
      new Option(HOST_SUPERVISOR_FLAG, 'serve as the host supervisor (how ignite starts it)')
        .makeOptionMandatory()
        .default(false),
    )
    .option('--data-dir <dir>', `data directory (env IGNITE_DATA_DIR; default ${DEFAULT_DATA_DIR})`)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .exitOverride()
    .action(async (opts: { dataDir?: string; logLevel: LogLevel }) => {
      const config = loadHostConfig({ dataDir: opts.dataDir, logLevel: opts.logLevel }, io.env);
      const s = createServices(config, { stream: io.stdout, component: 'spawn' }, io.signals);
      try {
        // A user's run dir must be private before anything goes in it (VMs' runs check so).
        if (s.layout.runDir !== undefined) await ensurePrivateDir(s.layout.runDir);
        const startTime = processStartTime(s.host.pid);
        let release: () => Promise<void>;
        try {
          release = await acquirePidLock(
            s.layout.hostSupervisorPidFile,
            s.processes,
            { pid: s.host.pid, ...(startTime !== undefined ? { startTime } : {}) },
            (pid) => failedPrecondition(`supervisor: process ${pid} already supervises here`),
          );
        } catch (err) {
          // Two starters raced: the other one serves.
          s.logger.info(toAppError(err).message);
          return;
        }
        const servicesFor: ServicesForVM = (uid, o) => {
          const stream = createWriteStream(s.layout.vm(uid).spawnLog, { flags: 'a', mode: 0o600 });
          const own = loadHostConfig(
            { dataDir: config.dataDir, logLevel: o.logLevel ?? config.logLevel },
            o.env,
          );
          return {
            services: createServices(own, { stream, component: 'spawn' }, o.signals, {
              client: s.client,
              fleet: s.fleet,
            }),
            close: () => new Promise<void>((resolve) => stream.end(resolve)),
          };
        };
        // Once a VM runs, what a start compiles has been compiled: the next supervisor of this
        // build may start from it (a few seconds on, when this one is past the start's tail).
        const supervisor = new HostSupervisor(s, servicesFor, HOST_SUPERVISOR_IDLE_MS, () =>
          offerTrainedCodeCache({ afterMs: TRAIN_AFTER_MS }),
        );
        // Told to end, it stops its VMs as a stop would, and ends once they have.
        io.signals.on('SIGTERM', () => supervisor.signalAll('SIGTERM'));
        io.signals.on('SIGINT', () => supervisor.signalAll('SIGTERM'));
        const server = await s.requests.serve(s.layout.hostSupervisorSocket, supervisor.handle);
        s.logger.info({ pid: s.host.pid }, `supervisor: serving ${s.layout.hostSupervisorSocket}`);
        // A new supervisor is mostly started for a VM its starter is still creating: meanwhile,
        // what the first read of a kernel would compile is compiled, unless its starter asked
        // first (it pings first), not to hold up its answer. Only an optimisation: a sample the
        // schema refuses (its unit test says so) changes nothing.
        void warmUpDecodingWhileIdle(() => supervisor.asked).then(
          (all) => s.trace.mark(all ? 'decoding warmed up' : 'warm-up ended by a start'),
          () => s.trace.mark('warm-up refused'),
        );
        try {
          await supervisor.idle;
        } finally {
          supervisor.close();
          await server.close();
          await release();
          // A user's run dir goes with the last thing in it, as each VM's run dir does.
          if (s.layout.runDir !== undefined) await rmdir(s.layout.runDir).catch(() => undefined);
        }
      } finally {
        await s.client.close();
      }
    });
}

/** Runs ignite-spawn with its arguments; returns the exit code. */
export async function runSpawn(argv: readonly string[], io: ProgramIO): Promise<number> {
  try {
    await spawnProgram(io).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    io.stderr.write(`Error: ${toAppError(err).message}\n`);
    return 1;
  }
}
