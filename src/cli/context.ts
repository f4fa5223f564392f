import type { Command } from 'commander';
import { createServices } from '../composition.js';
import { invalidArgument } from '../errors.js';
import type { VMDefaults } from '../api/index.js';
import type { Engine, SnapshotEngine } from '../operations/engine.js';
import { FleetEngine } from '../operations/fleet-engine.js';
import { localEngine, localSnapshotEngine } from '../operations/local-engine.js';
import type { Services } from '../operations/services.js';
import {
  connectionTo,
  daemonConnection,
  daemonCredentials,
  DaemonClient,
  RemoteEngine,
} from '../remote/index.js';
import type { Fleet } from '../storage/index.js';
import {
  loadHostConfig,
  storeSettingsOf,
  type HostConfig,
  type StoreFlags,
} from '../system/host-config.js';
import { hostVMDefaults } from '../system/vm-defaults.js';
import { LOG_LEVELS, type LogLevel } from '../system/logger.js';
import { readBuildInfo, type BuildInfo } from '../system/packaging.js';
import { nodeHostFiles } from '../system/node-host-files.js';
import type { HandledSignal, ProgramIO } from '../system/program-io.js';

/** How long `create` in a fleet waits for the VM to be made on its host. */
const FLEET_CREATE_TIMEOUT_MS = 300_000;

/** The process's streams, environment and signals, injected so commands never touch `process`. */
export type CliIO = ProgramIO;

export interface GlobalOptions {
  logLevel: LogLevel;
  dataDir?: string;
  quiet: boolean;
}

interface GlobalFlags extends StoreFlags {
  logLevel?: string;
  dataDir?: string;
  quiet?: boolean;
  insecureRegistry?: string[];
  importMaxSize?: string;
  importMaxEntries?: string;
  host?: string;
  tlsCa?: string;
  tokenFile?: string;
}

/** Shared by every command: output streams, global flags, and the use cases' services. */
export class CliContext {
  private built: Services | undefined;
  private chosen: Promise<Engine> | undefined;
  private asked: Promise<DaemonClient | undefined> | undefined;
  /** Set by commands that pass another program's status through (exec, ssh). */
  exitCode: number | undefined;

  constructor(readonly io: CliIO) {}

  globals(cmd: Command): GlobalOptions {
    const o = cmd.optsWithGlobals<GlobalFlags>();
    const level = (o.logLevel ?? 'info').toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw invalidArgument(
        `--log-level ${o.logLevel}: unknown level (use ${LOG_LEVELS.join(', ')})`,
      );
    }
    return {
      logLevel: level as LogLevel,
      quiet: o.quiet === true,
      ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
    };
  }

  /** The host's settings from the global flags and the environment. */
  config(cmd: Command): HostConfig {
    if (this.built) return this.built.config;
    const g = this.globals(cmd);
    const o = cmd.optsWithGlobals<GlobalFlags>();
    return loadHostConfig(
      {
        dataDir: g.dataDir,
        logLevel: g.logLevel,
        insecureRegistries: o.insecureRegistry,
        importMaxSize: o.importMaxSize,
        importMaxEntries: o.importMaxEntries,
        store: storeSettingsOf(o),
      },
      this.io.env,
    );
  }

  /** Builds the services once per process, from the global flags and the environment. */
  services(cmd: Command): Services {
    this.built ??= createServices(
      this.config(cmd),
      { stream: this.io.stderr, component: 'cli' },
      this.io.signals,
    );
    return this.built;
  }

  /** Defaults for the VMs this CLI builds manifests of (the kernel image, IGNITE_KERNEL_IMAGE). */
  vmDefaults(cmd: Command): VMDefaults {
    return hostVMDefaults(this.config(cmd));
  }

  /** The daemon named by --host or IGNITE_HOST (else `fallback`), if any; looked up once. */
  daemon(cmd: Command, fallback?: string): Promise<DaemonClient | undefined> {
    if (fallback !== undefined) return this.connect(cmd, fallback);
    this.asked ??= this.connect(cmd);
    return this.asked;
  }

  private async connect(cmd: Command, fallback?: string): Promise<DaemonClient | undefined> {
    const o = cmd.optsWithGlobals<GlobalFlags>();
    const conn = await daemonConnection(
      {
        ...(o.host !== undefined ? { host: o.host } : {}),
        ...(o.tlsCa !== undefined ? { tlsCa: o.tlsCa } : {}),
        ...(o.tokenFile !== undefined ? { tokenFile: o.tokenFile } : {}),
      },
      this.io.env,
      nodeHostFiles,
      fallback,
    );
    return conn && new DaemonClient(conn);
  }

  /**
   * Where the VM, image and kernel commands go, chosen once: the daemon named by --host or
   * IGNITE_HOST; else, with an etcd store, the fleet (each VM's commands go to the daemon of
   * the host it is placed on); else the use cases on the data dir in this process.
   */
  engine(cmd: Command): Promise<Engine> {
    this.chosen ??= this.chooseEngine(cmd);
    return this.chosen;
  }

  private async chooseEngine(cmd: Command): Promise<Engine> {
    const daemon = await this.daemon(cmd);
    if (daemon !== undefined) return new RemoteEngine(daemon);
    const s = this.services(cmd);
    const fleet = await this.fleet(cmd);
    // A shared store that no agent has joined is used as one host's store, as without a fleet.
    if (fleet === undefined || (await s.client.hosts.list()).length === 0) return localEngine(s);
    const o = cmd.optsWithGlobals<GlobalFlags>();
    const credentials = await daemonCredentials(
      {
        ...(o.tlsCa !== undefined ? { tlsCa: o.tlsCa } : {}),
        ...(o.tokenFile !== undefined ? { tokenFile: o.tokenFile } : {}),
      },
      this.io.env,
      nodeHostFiles,
    );
    return new FleetEngine({
      client: s.client,
      fleet,
      clock: s.clock,
      local: localEngine(s),
      daemonFor: (address) =>
        new RemoteEngine(new DaemonClient(connectionTo(address, credentials))),
      vmDefaults: this.vmDefaults(cmd),
      createTimeoutMs: FLEET_CREATE_TIMEOUT_MS,
    });
  }

  /**
   * Where the snapshot commands go: the daemon named by --host or IGNITE_HOST, else this host's
   * data dir (snapshots stay on their VM's host, also in a fleet).
   */
  async snapshots(cmd: Command): Promise<SnapshotEngine> {
    const daemon = await this.daemon(cmd);
    return daemon !== undefined
      ? new RemoteEngine(daemon)
      : localSnapshotEngine(this.services(cmd));
  }

  /**
   * The fleet with an etcd store and no --host or IGNITE_HOST, else undefined: single-host
   * commands and those sent to one daemon are what they always were.
   */
  async fleet(cmd: Command): Promise<Fleet | undefined> {
    if ((await this.daemon(cmd)) !== undefined) return undefined;
    return this.services(cmd).fleet;
  }

  /** The fleet, for the commands that only a fleet has (`host`). */
  async requireFleet(cmd: Command, what: string): Promise<Fleet> {
    const fleet = await this.fleet(cmd);
    if (fleet === undefined)
      throw invalidArgument(`${what}: needs a fleet store (--store etcd://…)`, {
        hint: 'give --store etcd://… (or IGNITE_STORE), without --host or IGNITE_HOST',
      });
    return fleet;
  }

  /**
   * The services on this host's data dir, for what the daemon's API does not serve yet (`what`,
   * as in `snapshots`): refused when --host or IGNITE_HOST names a daemon.
   */
  async localServices(cmd: Command, what: string): Promise<Services> {
    if ((await this.daemon(cmd)) !== undefined)
      throw invalidArgument(`${what}: not served through the daemon's API yet`, {
        hint: 'run the command on the VM host without --host or IGNITE_HOST',
      });
    return this.services(cmd);
  }

  /** Releases what the services hold open (the store's connection), so the process can end. */
  async close(): Promise<void> {
    const built = this.built;
    this.built = undefined;
    await Promise.all([built?.client.close(), built?.fleet?.close()]);
  }

  build(): BuildInfo {
    return readBuildInfo();
  }

  /** Resolves once one of `signals` arrives (a command that serves until interrupted). */
  untilSignal(...signals: HandledSignal[]): Promise<void> {
    return new Promise((resolve) => {
      const offs = signals.map((sig) =>
        this.io.signals.once(sig, () => {
          for (const off of offs) off();
          resolve();
        }),
      );
    });
  }

  /** Connects this terminal to a running VM's console (`attach`, `start -i`). */
  async attach(cmd: Command, query: string): Promise<void> {
    const engine = await this.engine(cmd);
    this.io.stderr.write('Attached to the VM console; detach with Ctrl-P Ctrl-Q.\n');
    await engine.attach(query, { stdin: this.io.stdin, stdout: this.io.stdout });
  }

  out(text: string): void {
    this.io.stdout.write(text);
  }
}
