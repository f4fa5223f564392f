import { dirname, join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { createServices } from '../composition.js';
import { toAppError } from '../errors.js';
import {
  DEFAULT_LEASE_TTL_SECONDS,
  DEFAULT_RESCHEDULE_GRACE_SECONDS,
  fleetHostOptions,
} from '../operations/fleet-host.js';
import { DEFAULT_HOST_PORT_RANGE, resolveManifestTrust } from '../operations/manifest-trust.js';
import {
  DEFAULT_DATA_DIR,
  loadHostConfig,
  STORE_FLAG_HELP,
  storeSettingsOf,
  type StoreFlags,
} from '../system/host-config.js';
import { LOG_LEVELS, type LogLevel } from '../system/logger.js';
import type { ProgramIO } from '../system/program-io.js';
import { startDaemon } from './daemon.js';
import { DEFAULT_LISTEN, DEFAULT_SOCKET, parseListenAddress } from './listen-address.js';

interface DaemonFlags extends StoreFlags {
  listen: string[];
  tlsCert?: string;
  tlsKey?: string;
  tokenFile?: string;
  insecure: boolean;
  dataDir?: string;
  logLevel: LogLevel;
  allowHostPath: string[];
  hostPortRange: string;
  startTimeout: string;
  manifestDir?: string;
  hostName?: string;
  capacityCpus?: string;
  capacityMemory?: string;
  hostLabel: string[];
  leaseTtl: string;
  advertiseAddress?: string;
  rescheduleGrace: string;
  runtimeDir?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function daemonCommand(io: ProgramIO): Command {
  return new Command('daemon')
    .description(
      'Serve the ignite API for this host: VMs, images and kernels over HTTP, with watches and events. VMs keep running when the daemon stops.',
    )
    .option(
      '--listen <address>',
      `where to serve: unix:///path or tcp://host:port; repeatable (default ${DEFAULT_LISTEN})`,
      collect,
      [],
    )
    .option('--tls-cert <file>', 'TLS certificate (PEM) for TCP addresses')
    .option('--tls-key <file>', 'TLS private key (PEM) for TCP addresses')
    .option('--token-file <file>', 'the bearer token TCP clients must send (mode 0600)')
    .option('--insecure', 'allow plain TCP without a token, on a loopback address only', false)
    .option('--data-dir <dir>', `data directory (env IGNITE_DATA_DIR; default ${DEFAULT_DATA_DIR})`)
    .option('--store <url>', STORE_FLAG_HELP.store)
    .option('--store-ca <file>', STORE_FLAG_HELP.storeCa)
    .option('--store-cert <file>', STORE_FLAG_HELP.storeCert)
    .option('--store-key <file>', STORE_FLAG_HELP.storeKey)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option(
      '--allow-host-path <dir>',
      'host directory that manifests from TCP clients and the manifest directory may copy files from; repeatable',
      collect,
      [],
    )
    .option(
      '--host-port-range <low-high>',
      'host ports that manifests from TCP clients and the manifest directory may map',
      DEFAULT_HOST_PORT_RANGE,
    )
    .option(
      '--manifest-dir <dir>',
      'make the VMs match the manifests in this directory (added, changed, removed), as gitops does a branch',
    )
    .option('--start-timeout <seconds>', 'how long a start waits for the VM to run', '120')
    .option(
      '--runtime-dir <dir>',
      `where the default socket ignited.sock goes (default ${dirname(DEFAULT_SOCKET)})`,
    )
    .option(
      '--host-name <name>',
      'join the fleet of the etcd store as this host: register it, keep its lease, run the VMs placed here (env IGNITE_HOST_NAME)',
    )
    .option('--capacity-cpus <n>', "CPUs this host offers to VMs (default: the machine's)")
    .option('--capacity-memory <size>', "memory this host offers to VMs (default: the machine's)")
    .option(
      '--host-label <key=value>',
      "a label of this host, for VMs' --host-selector; repeatable",
      collect,
      [],
    )
    .option(
      '--lease-ttl <seconds>',
      "the TTL of this host's lease, 5 to 10",
      String(DEFAULT_LEASE_TTL_SECONDS),
    )
    .option(
      '--advertise-address <address>',
      'where other hosts reach this daemon (default: the first --listen)',
    )
    .option(
      '--reschedule-grace <seconds>',
      "when this host schedules: how long after a host's lease lapsed its replaceable VMs move",
      String(DEFAULT_RESCHEDULE_GRACE_SECONDS),
    )
    .action(async (f: DaemonFlags) => {
      const defaultListen =
        f.runtimeDir !== undefined
          ? `unix://${join(f.runtimeDir, 'ignited.sock')}`
          : DEFAULT_LISTEN;
      const listen = (f.listen.length > 0 ? f.listen : [defaultListen]).map(parseListenAddress);
      const config = loadHostConfig(
        {
          dataDir: f.dataDir,
          logLevel: f.logLevel,
          store: storeSettingsOf(f),
          hostName: f.hostName,
        },
        io.env,
      );
      const s = createServices(config, { stream: io.stderr, component: 'daemon' }, io.signals);
      const fleetHost = fleetHostOptions(config.hostName, f, {
        sharedStore: s.fleet !== undefined,
        host: s.host,
        listen: listen[0]?.url ?? defaultListen,
      });
      const trust = await resolveManifestTrust(s, {
        allowHostPaths: f.allowHostPath,
        hostPortRange: f.hostPortRange,
      });
      const stopped = new Promise<void>((resolve) => {
        io.signals.once('SIGTERM', resolve);
        io.signals.once('SIGINT', resolve);
      });
      const daemon = await startDaemon(s, {
        listen,
        trust,
        insecure: f.insecure,
        startTimeoutMs: Number(f.startTimeout) * 1000,
        ...(f.tlsCert !== undefined ? { tlsCert: f.tlsCert } : {}),
        ...(f.tlsKey !== undefined ? { tlsKey: f.tlsKey } : {}),
        ...(f.tokenFile !== undefined ? { tokenFile: f.tokenFile } : {}),
        ...(f.manifestDir !== undefined ? { manifestDir: f.manifestDir } : {}),
        ...(fleetHost !== undefined ? { fleetHost } : {}),
      });
      await stopped;
      s.logger.info('ignited: stopping (VMs keep running)');
      await daemon.close();
      await s.client.close();
      await s.fleet?.close();
    });
}

/** `ignited`: the host daemon. Its one command is `daemon`, as Ignite v0.5's was. */
export async function runDaemonProgram(argv: readonly string[], io: ProgramIO): Promise<number> {
  const program = new Command('ignited')
    .description('ignited: the ignite host daemon')
    .addCommand(daemonCommand(io))
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const e = toAppError(err);
    io.stderr.write(`Error: ${e.message}\n${e.hint !== undefined ? `Hint: ${e.hint}\n` : ''}`);
    return 1;
  }
}
