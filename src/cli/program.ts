import { Command, Option } from 'commander';
import { DEFAULT_DAEMON_HOST } from '../remote/index.js';
import { DEFAULT_DATA_DIR, STORE_FLAG_HELP } from '../system/host-config.js';
import { LOG_LEVELS } from '../system/logger.js';
import type { CliContext } from './context.js';
import { collect } from './options.js';
import { registerInspect } from './commands/inspect.js';
import { psCommand, registerPs, runPs } from './commands/ps.js';
import { registerVersion } from './commands/version.js';
import { killCommand, rmCommand, startCommand, stopCommand } from './commands/vm-lifecycle.js';
import { attachCommand, logsCommand } from './commands/vm-console.js';
import { cpCommand, execCommand, sshCommand } from './commands/vm-ssh.js';
import { createCommand, runCommand } from './commands/vm-create.js';
import { completionCommand } from './commands/completion.js';
import { dashboardCommand } from './commands/dashboard.js';
import { metricsCommand } from './commands/metrics.js';
import { gitopsCommand } from './commands/gitops.js';
import { eventsCommand } from './commands/events.js';
import { importCommand, removeCommand } from './commands/image-kernel.js';
import { listCommand, runList } from './commands/image-kernel-list.js';
import { networkCommand } from './commands/network.js';
import { snapshotCommand } from './commands/snapshot.js';
import { volumeCommand } from './commands/volume.js';
import { hostCommand } from './commands/host.js';

/** Builds the whole command tree. Each command is a thin layer over one use case. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('ignite')
    .description(
      'ignite: run microVMs with a container UX (OCI images, real hypervisors, declarative and GitOps)',
    )
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option(
      '--data-dir <dir>',
      `where VMs, images and kernels are stored (env IGNITE_DATA_DIR; default ${DEFAULT_DATA_DIR})`,
    )
    .option('--store <url>', STORE_FLAG_HELP.store)
    .option('--store-ca <file>', STORE_FLAG_HELP.storeCa)
    .option('--store-cert <file>', STORE_FLAG_HELP.storeCert)
    .option('--store-key <file>', STORE_FLAG_HELP.storeKey)
    .option('-q, --quiet', 'print only IDs', false)
    .option(
      '--insecure-registry <host>',
      'reach this registry over plain HTTP (loopback registries always are); repeatable',
      collect,
      [] as string[],
    )
    .option(
      '--import-max-size <size>',
      'refuse an image whose layers unpack to more than this (env IGNITE_IMPORT_MAX_SIZE; default 32GiB)',
    )
    .option(
      '--import-max-entries <n>',
      'refuse an image whose layers hold more entries than this (env IGNITE_IMPORT_MAX_ENTRIES; default 1000000)',
    )
    .option(
      '-H, --host <url>',
      `the ignited to send VM, image and kernel commands to: unix:///path or tcp://host:port (env IGNITE_HOST; default: none, work on the data dir; the daemon's own is ${DEFAULT_DAEMON_HOST})`,
    )
    .option(
      '--tls-ca <file>',
      "the CA certificate a tcp:// daemon's certificate is checked against (env IGNITE_TLS_CA; default: the system's)",
    )
    .option(
      '--token-file <file>',
      'the bearer token for a tcp:// daemon (env IGNITE_TOKEN_FILE, or the token in IGNITE_TOKEN)',
    )
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
    });

  registerVersion(program, ctx);
  registerInspect(program, ctx);
  registerPs(program, ctx);

  const vmCommands = [
    createCommand,
    runCommand,
    startCommand,
    stopCommand,
    killCommand,
    rmCommand,
    logsCommand,
    attachCommand,
    execCommand,
    sshCommand,
    cpCommand,
  ];
  for (const make of vmCommands) program.addCommand(make(ctx));

  const vm = new Command('vm').aliases(['vms']).description('Manage VMs (bare "vm" lists all VMs)');
  vm.addCommand(psCommand(ctx, 'ps'));
  for (const make of vmCommands) vm.addCommand(make(ctx));
  vm.action((_o: unknown, cmd: Command) =>
    runPs(ctx, cmd, { all: true, filter: [], output: 'table' }),
  );
  program.addCommand(vm);

  for (const kind of ['Image', 'Kernel'] as const) {
    const noun = kind.toLowerCase();
    const group = new Command(noun)
      .aliases([`${noun}s`])
      .description(`Manage ${noun}s (bare "${noun}" lists them)`);
    group.addCommand(importCommand(ctx, kind));
    group.addCommand(listCommand(ctx, kind));
    group.addCommand(removeCommand(ctx, kind));
    group.action((_o: unknown, cmd: Command) => runList(ctx, cmd, kind, { output: 'table' }));
    program.addCommand(group);
  }

  program.addCommand(snapshotCommand(ctx));
  program.addCommand(volumeCommand(ctx));
  program.addCommand(hostCommand(ctx));
  program.addCommand(networkCommand(ctx));
  program.addCommand(metricsCommand(ctx));
  program.addCommand(gitopsCommand(ctx));
  program.addCommand(eventsCommand(ctx));
  program.addCommand(dashboardCommand(ctx));
  program.addCommand(removeCommand(ctx, 'Image', 'rmi'));
  program.addCommand(removeCommand(ctx, 'Kernel', 'rmk'));
  program.addCommand(completionCommand(ctx, () => program));

  program.commands.forEach(function exitOverrideAll(c: Command): void {
    c.exitOverride();
    c.configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
    });
    c.commands.forEach(exitOverrideAll);
  });
  program.exitOverride();
  return program;
}
