import type { Command } from 'commander';
import { createServices } from '../composition.js';
import { invalidArgument } from '../errors.js';
import { attachConsole } from '../operations/console.js';
import type { Services } from '../operations/services.js';
import { loadHostConfig, storeSettingsOf, type StoreFlags } from '../system/host-config.js';
import { LOG_LEVELS, type LogLevel } from '../system/logger.js';
import { readBuildInfo, type BuildInfo } from '../system/packaging.js';
import type { HandledSignal, ProgramIO } from '../system/program-io.js';

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
}

/** Shared by every command: output streams, global flags, and the use cases' services. */
export class CliContext {
  private built: Services | undefined;
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

  /** Builds the services once per process, from the global flags and the environment. */
  services(cmd: Command): Services {
    if (!this.built) {
      const g = this.globals(cmd);
      const o = cmd.optsWithGlobals<GlobalFlags>();
      const config = loadHostConfig(
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
      this.built = createServices(
        config,
        { stream: this.io.stderr, component: 'cli' },
        this.io.signals,
      );
    }
    return this.built;
  }

  /** Releases what the services hold open (the store's connection), so the process can end. */
  async close(): Promise<void> {
    const built = this.built;
    this.built = undefined;
    await built?.client.close();
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
    const s = this.services(cmd);
    this.io.stderr.write('Attached to the VM console; detach with Ctrl-P Ctrl-Q.\n');
    await attachConsole(s, query, { stdin: this.io.stdin, stdout: this.io.stdout });
  }

  out(text: string): void {
    this.io.stdout.write(text);
  }
}
