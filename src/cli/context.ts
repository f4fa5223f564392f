import type { Command } from 'commander';
import { createRuntime, createVMDeps, importDeps, readBuildInfo } from '../composition.js';
import type { ImportDeps } from '../operations/import-image.js';
import { importLimits, type ImportLimits } from '../image/import-limits.js';
import type { CreateVMDeps } from '../operations/create-vm.js';
import type { OperationDeps } from '../operations/deps.js';
import type { BuildInfo } from '../operations/version.js';
import { LOG_LEVELS, type LogLevel } from '../system/logger.js';
import { invalidArgument } from '../errors.js';
import { attachConsole } from '../operations/console.js';

/** The process's streams and environment, injected so commands never touch process.* directly. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  env: NodeJS.ProcessEnv;
}

export interface GlobalOptions {
  logLevel: LogLevel;
  dataDir?: string;
  quiet: boolean;
}

/** Shared by every command: output streams, global flags, and the use-case dependencies. */
export class CliContext {
  private deps: OperationDeps | undefined;
  /** Set by commands that pass another program's status through (exec, ssh). */
  exitCode: number | undefined;

  constructor(readonly io: CliIO) {}

  globals(cmd: Command): GlobalOptions {
    const o = cmd.optsWithGlobals<{ logLevel?: string; dataDir?: string; quiet?: boolean }>();
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

  /** Builds the use-case dependencies once per process, from the global flags. */
  runtime(cmd: Command): OperationDeps {
    if (!this.deps) {
      const g = this.globals(cmd);
      this.deps = createRuntime({
        dataDir: g.dataDir,
        logLevel: g.logLevel,
        logStream: this.io.stderr,
        env: this.io.env,
      });
    }
    return this.deps;
  }

  /** The create-VM dependencies: storage plus image import, disks and hypervisor choice. */
  createDeps(cmd: Command): CreateVMDeps {
    return createVMDeps(this.runtime(cmd), this.insecureRegistries(cmd), this.importLimits(cmd));
  }

  /** Use-case dependencies for pulling images and kernels. */
  importDeps(cmd: Command): ImportDeps {
    return importDeps(this.runtime(cmd), this.insecureRegistries(cmd), this.importLimits(cmd));
  }

  private importLimits(cmd: Command): ImportLimits {
    const g = cmd.optsWithGlobals<{ importMaxSize?: string; importMaxEntries?: string }>();
    return importLimits({ maxSize: g.importMaxSize, maxEntries: g.importMaxEntries }, this.io.env);
  }

  private insecureRegistries(cmd: Command): string[] {
    return cmd.optsWithGlobals<{ insecureRegistry?: string[] }>().insecureRegistry ?? [];
  }

  build(): BuildInfo {
    return readBuildInfo();
  }

  /** Connects this terminal to a running VM's console (`attach`, `start -i`). */
  async attach(cmd: Command, query: string): Promise<void> {
    const deps = this.runtime(cmd);
    this.io.stderr.write('Attached to the VM console; detach with Ctrl-P Ctrl-Q.\n');
    await attachConsole(deps, query, { stdin: this.io.stdin, stdout: this.io.stdout });
  }

  out(text: string): void {
    this.io.stdout.write(text);
  }
}
