import type { Command } from 'commander';
import { createRuntime, readBuildInfo } from '../composition.js';
import type { OperationDeps } from '../operations/deps.js';
import type { BuildInfo } from '../operations/version.js';
import { LOG_LEVELS, type LogLevel } from '../system/logger.js';
import { invalidArgument } from '../errors.js';

/** The process's streams and environment, injected so commands never touch process.* directly. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
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

  build(): BuildInfo {
    return readBuildInfo();
  }

  out(text: string): void {
    this.io.stdout.write(text);
  }
}
