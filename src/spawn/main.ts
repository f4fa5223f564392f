import { Command, CommanderError } from 'commander';
import { toAppError } from '../errors.js';
import { createRuntime } from '../composition.js';
import { EXIT_CODES_SPAWN } from './exit-codes.js';

/**
 * ignite-spawn: the per-VM supervisor. The CLI starts one, detached, for each running VM; it owns
 * the hypervisor, the VM's network and its metrics socket, and records the VM's status.
 */
const program = new Command('ignite-spawn')
  .description(
    'Supervise one VM: run its hypervisor and network, serve metrics, record status (started by ignite, not by hand)',
  )
  .argument('<vm>', 'the UID of the VM to supervise')
  .option('--data-dir <dir>', 'data directory (env IGNITE_DATA_DIR; default /var/lib/firecracker)')
  .option('--log-level <level>', 'log level', 'info')
  .exitOverride()
  .action(async (uid: string, opts: { dataDir?: string; logLevel: string }) => {
    const deps = createRuntime({
      dataDir: opts.dataDir,
      logLevel: opts.logLevel as 'info',
      logStream: process.stderr,
      env: process.env,
      component: 'spawn',
    });
    const vm = await deps.client.vms.get(uid);
    throw toAppError(
      Object.assign(
        new Error(
          `vm "${vm.metadata.name ?? uid}": this build has no VMM driver yet; booting arrives with the VM lifecycle work`,
        ),
        {},
      ),
    );
  });

try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' });
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    const e = toAppError(err);
    process.stderr.write(`Error: ${e.message}\n`);
    process.exitCode = EXIT_CODES_SPAWN;
  }
}
