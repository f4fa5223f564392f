import { Command, CommanderError, Option } from 'commander';
import { warmUpDecoding } from '../api/warm-up.js';
import { toAppError } from '../errors.js';
import { createServices } from '../composition.js';
import { superviseVM } from '../operations/supervise-vm.js';
import { DEFAULT_DATA_DIR, loadHostConfig } from '../system/host-config.js';
import { LOG_LEVELS, type LogLevel } from '../system/logger.js';
import type { ProgramIO, SignalHook } from '../system/program-io.js';

/**
 * ignite-spawn: the per-VM supervisor. `ignite start` runs one, detached, for each VM it starts;
 * it owns the hypervisor, the VM's network and its metrics socket, and records the VM's status.
 * Its log (JSON lines) is `<dataDir>/vm/<uid>/spawn.log`: `ignite logs --spawn <vm>`.
 */
function spawnProgram(io: ProgramIO): Command {
  return new Command('ignite-spawn')
    .description(
      'Supervise one VM: run its hypervisor and network, serve metrics, record its status. Started by `ignite start`, not by hand.',
    )
    .argument('<uid>', 'the UID of the VM to supervise')
    .option('--data-dir <dir>', `data directory (env IGNITE_DATA_DIR; default ${DEFAULT_DATA_DIR})`)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--stop-timeout <seconds>', 'how long the guest gets to power off after SIGTERM', '30')
    .option(
      '--wait-signal',
      'start up, then wait for SIGUSR2 before starting the VM (ignite run starts the supervisor while it creates the VM)',
      false,
    )
    .option(
      '--reuse-network',
      'take over the network attachment that ignite run made while it built the root disk, if it is complete',
      false,
    )
    .option(
      '--policy-restart',
      "this start is a restart by the VM's restart policy: count it in status.restartCount",
      false,
    )
    .exitOverride()
    .action(
      async (
        uid: string,
        opts: {
          dataDir?: string;
          logLevel: LogLevel;
          stopTimeout: string;
          waitSignal: boolean;
          policyRestart: boolean;
          reuseNetwork: boolean;
        },
      ) => {
        // Set up before waiting: `ignite run` signals once the root disk is ready, and
        // whatever is left to do after that delays the boot.
        const go = opts.waitSignal ? goSignal(io.signals) : Promise.resolve(true);
        const config = loadHostConfig({ dataDir: opts.dataDir, logLevel: opts.logLevel }, io.env);
        const s = createServices(config, { stream: io.stdout, component: 'spawn' }, io.signals);
        s.trace.mark('services built');
        // While it waits, what the first read of the VM would compile is compiled. Only an
        // optimisation: a sample the schema refuses (its unit test says so) changes nothing.
        if (opts.waitSignal) {
          try {
            warmUpDecoding();
          } catch {
            s.trace.mark('warm-up refused');
          }
        }
        if (!(await go)) return;
        s.trace.mark('go');
        try {
          await superviseVM(s, uid, {
            stopTimeoutMs: Number(opts.stopTimeout) * 1000,
            policyRestart: opts.policyRestart,
            reuseNetwork: opts.reuseNetwork,
          });
        } catch (err) {
          const e = toAppError(err);
          s.logger.error({ err, code: e.code, uid }, e.message);
          throw e;
        } finally {
          await s.client.close();
        }
      },
    );
}

/** Waits for SIGUSR2 (go) or SIGTERM (give up); false when told to give up or never told. */
function goSignal(signals: SignalHook): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 300_000);
    signals.once('SIGUSR2', () => {
      clearTimeout(timer);
      resolve(true);
    });
    signals.once('SIGTERM', () => {
      clearTimeout(timer);
      resolve(false);
    });
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
