import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newFsClient } from './storage/index.js';
import { createLogger, type LogLevel } from './system/logger.js';
import type { OperationDeps, SpawnCommand } from './operations/deps.js';
import type { SuperviseDeps, VMNetworking } from './operations/supervise-vm.js';
import type { VM } from './api/index.js';
import { invalidArgument } from './errors.js';
import { VMM_ANNOTATION } from './operations/create-vm.js';
import { QemuDriver } from './vmm/qemu/qemu-driver.js';
import type { VmmDriver } from './vmm/vmm-driver.js';
import type { BuildInfo } from './operations/version.js';

/**
 * The composition root: the one place that picks implementations (filesystem storage, pino, the
 * system clock). Front ends call this once per process and pass the result down.
 */
export const DEFAULT_DATA_DIR = '/var/lib/firecracker';

export interface RuntimeOptions {
  dataDir?: string | undefined;
  logLevel: LogLevel;
  logStream: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  component?: string;
}

export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? (env['IGNITE_DATA_DIR'] || DEFAULT_DATA_DIR);
}

export function createRuntime(options: RuntimeOptions): OperationDeps {
  const dataDir = resolveDataDir(options.dataDir, options.env);
  return {
    dataDir,
    client: newFsClient(dataDir),
    logger: createLogger({
      level: options.logLevel,
      stream: options.logStream,
      component: options.component ?? 'cli',
    }),
    logLevel: options.logLevel,
    clock: () => new Date(),
    env: options.env,
    spawnCommand: spawnCommand(),
    // Replaced by the network layer's teardown once networking lands.
    collectVMLeftovers: () => Promise.resolve(),
  };
}

/**
 * ignite-spawn is this same program's spawn entry: the compiled `spawn/main.js` beside this file,
 * run by the same Node binary.
 */
function spawnCommand(): SpawnCommand {
  return { file: process.execPath, args: [join(import.meta.dirname, 'spawn', 'main.js')] };
}

/** Version facts written at build time (scripts/write-build-info.mjs), with a fallback for tsx runs. */
export function readBuildInfo(): BuildInfo {
  try {
    const raw = readFileSync(join(import.meta.dirname, 'build-info.json'), 'utf8');
    return JSON.parse(raw) as BuildInfo;
  } catch {
    return { version: '0.0.0-dev', gitCommit: 'unknown', buildDate: 'unknown' };
  }
}

export interface SupervisorRuntimeOptions extends RuntimeOptions {
  signals: SuperviseDeps['signals'];
}

/** The supervisor's dependencies: the common ones plus a VMM driver, networking and metrics. */
export function createSupervisorRuntime(options: SupervisorRuntimeOptions): SuperviseDeps {
  const deps = createRuntime(options);
  return {
    ...deps,
    signals: options.signals,
    driverFor: (vm) => chooseDriver(deps, vm),
    networking: noNetworking,
  };
}

/**
 * Picks the hypervisor for a VM: the VM's annotation, else the host setting (IGNITE_VMM), else
 * Firecracker when installed and QEMU otherwise.
 */
export async function chooseDriver(deps: OperationDeps, vm: VM): Promise<VmmDriver> {
  const wanted = vm.metadata.annotations?.[VMM_ANNOTATION] ?? deps.env['IGNITE_VMM'] ?? 'auto';
  const accel = deps.env['IGNITE_ACCEL'];
  const qemu = new QemuDriver({
    accel: accel === 'kvm' || accel === 'tcg' ? accel : 'auto',
    accelCacheFile: join(deps.dataDir, '.cache', 'accel.json'),
    logger: deps.logger,
  });
  if (wanted === 'qemu') return qemu;
  if (wanted !== 'auto' && wanted !== 'firecracker') {
    throw invalidArgument(`vmm "${wanted}": unknown (use qemu or firecracker)`);
  }
  return qemu;
}

/** Until the network layer lands: VMs get no network. */
const noNetworking: VMNetworking = {
  setup: () => Promise.resolve({ ipAddresses: [] }),
  teardown: () => Promise.resolve(),
};
