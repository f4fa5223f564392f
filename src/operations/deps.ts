import type { Client } from '../storage/index.js';
import type { VM } from '../api/index.js';
import type { Logger, LogLevel } from '../system/logger.js';

/** How to start an ignite-spawn process: the program and the arguments before the VM's UID. */
export interface SpawnCommand {
  file: string;
  args: string[];
}

/** What every use case receives; built once, in src/composition.ts. */
export interface OperationDeps {
  client: Client;
  logger: Logger;
  logLevel: LogLevel;
  clock: () => Date;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  /** Starts ignite-spawn: this same program's spawn entry. */
  spawnCommand: SpawnCommand;
  /**
   * Collects what a VM's supervisor owns (network namespace, tap, CNI reservations) when the
   * supervisor died without doing it. Idempotent.
   */
  collectVMLeftovers: (vm: VM) => Promise<void>;
  /** Reserves the VM's address on its network at create; returns it (none for `--net none`). */
  reserveVMNetwork: (vm: VM) => Promise<string | undefined>;
  /** Releases everything the VM holds on its network, its address included (rm). Idempotent. */
  releaseVMNetwork: (vm: VM) => Promise<void>;
  /**
   * Takes down what a killed create left attached to the VM's root disk (a FUSE raw view), so its
   * directory can be removed. Idempotent.
   */
  releaseVMDisk: (vm: VM) => Promise<void>;
}
