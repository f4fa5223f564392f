import { existsSync, readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';
import { readFile } from 'node:fs/promises';
import { createRootDisk, vmGuestFiles } from './vmm/disk/create-root-disk.js';
import { releaseRawViews } from './vmm/disk/fuse-export.js';
import { generateSSHKeyPair } from './system/ssh-keys.js';
import { hostPortsInUse } from './system/host-ports.js';
import { join } from 'node:path';
import { newFsClient } from './storage/index.js';
import { createLogger, type LogLevel } from './system/logger.js';
import type { OperationDeps, SpawnCommand } from './operations/deps.js';
import type { SuperviseDeps } from './operations/supervise-vm.js';
import { CNINetwork } from './network/cni-network.js';
import { IGNITE_V04_DEFAULTS, normalizeImageRef, type VM, type VMDefaults } from './api/index.js';
import { invalidArgument } from './errors.js';
import { VMM_ANNOTATION, type CreateVMDeps } from './operations/create-vm.js';
import { importImage, importKernel, type ImportDeps } from './operations/import-image.js';
import { RegistryClient, importLimits, type ImportLimits } from './image/index.js';
import { FirecrackerDriver, QemuDriver, type VMMDriver, type VMMName } from './vmm/index.js';
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
  const client = newFsClient(dataDir);
  return {
    dataDir,
    client,
    logger: createLogger({
      level: options.logLevel,
      stream: options.logStream,
      component: options.component ?? 'cli',
    }),
    logLevel: options.logLevel,
    clock: () => new Date(),
    env: options.env,
    spawnCommand: spawnCommand(),
    collectVMLeftovers: (vm) =>
      new CNINetwork({ dataDir, nameservers: hostNameservers }).detach({
        uid: vm.metadata.uid ?? '',
      }),
    reserveVMNetwork: (vm) =>
      new CNINetwork({ dataDir, nameservers: hostNameservers }).reserve({
        uid: vm.metadata.uid ?? '',
        name: vm.metadata.name ?? '',
        mode: vm.spec.network?.mode ?? 'docker-bridge',
      }),
    releaseVMDisk: async (vm) => {
      const dir = client.vms.objectDir(vm.metadata.uid ?? '');
      if (dir !== undefined) await releaseRawViews(dir);
    },
    releaseVMNetwork: (vm) =>
      new CNINetwork({ dataDir, nameservers: hostNameservers }).release({
        uid: vm.metadata.uid ?? '',
      }),
  };
}

/** The argument by which the single executable runs itself as ignite-spawn. */
export const SEA_SPAWN_ARG = '--as-ignite-spawn';

/**
 * ignite-spawn is this same program's spawn entry, run by the same Node binary: the single
 * executable itself, the bundle beside this file (dist/ignite-spawn.cjs) through its launcher when
 * the CLI runs from one, or the compiled module.
 */
function spawnCommand(): SpawnCommand {
  if (isSea()) return { file: process.execPath, args: [SEA_SPAWN_ARG] };
  const bundled = existsSync(join(import.meta.dirname, 'ignite-spawn.cjs'));
  const entry = bundled
    ? join(import.meta.dirname, '..', 'bin', 'ignite-spawn.js')
    : join(import.meta.dirname, 'spawn', 'main.js');
  return { file: process.execPath, args: [entry] };
}

/** Version facts written at build time (scripts/write-build-info.mjs), with a fallback for tsx runs. */
export function readBuildInfo(): BuildInfo {
  try {
    if (isSea()) return JSON.parse(getAsset('build-info.json', 'utf8')) as BuildInfo;
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
    driverFor: (vm) => Promise.resolve(driverFor(deps, vm)),
    networking: vmNetworking(deps),
    serveMetrics: async (vm, hv, paths, net) => {
      // Loaded once the hypervisor runs, not before: prom-client (and node:http with it) would
      // otherwise sit between `ignite run` and the boot.
      const { createVMMetrics, serveMetrics } = await import('./metrics/index.js');
      const registry = await createVMMetrics(
        {
          state: () => 'Running',
          bootTimeSeconds: () => net.startTime.getTime() / 1000,
          hypervisorPid: () => hv.pid,
          blockStats: () => hv.blockStats(),
          // The tap lives in the VM's namespace; the hypervisor's /proc/<pid>/net shows it.
          netDevice: () =>
            net.tapName !== undefined ? { pid: hv.pid, ifname: net.tapName } : undefined,
          dhcpLeases: net.dhcpLeases,
        },
        {
          uid: vm.metadata.uid ?? '',
          name: vm.metadata.name ?? '',
          vmm: net.vmm,
          image: vm.spec.image.ociClaim.ref,
          kernel: vm.spec.kernel?.ociClaim.ref ?? '',
        },
        { logger: deps.logger },
      );
      return serveMetrics(registry, paths.metricsSocket, { logger: deps.logger });
    },
  };
}

/**
 * Picks the hypervisor for a new VM: the flag, else the host setting (IGNITE_VMM), else
 * Firecracker where its binary is installed and QEMU otherwise. The choice is stored on the VM
 * as an annotation, since its root disk's format depends on it.
 */
export async function pickVMM(env: NodeJS.ProcessEnv, wanted?: string): Promise<VMMName> {
  const choice = wanted ?? env['IGNITE_VMM'] ?? 'auto';
  if (choice === 'qemu' || choice === 'firecracker') return choice;
  if (choice !== 'auto')
    throw invalidArgument(`vmm "${choice}": unknown (use qemu, firecracker or auto)`);
  const fc = await new FirecrackerDriver({}).availability();
  return fc.available ? 'firecracker' : 'qemu';
}

/** The driver for a VM, by its annotation (VMs from before the annotation run on QEMU). */
export function driverFor(deps: OperationDeps, vm: VM): VMMDriver {
  const vmm = vm.metadata.annotations?.[VMM_ANNOTATION] ?? 'qemu';
  if (vmm === 'firecracker') return new FirecrackerDriver({ logger: deps.logger });
  if (vmm !== 'qemu') throw invalidArgument(`vm "${vm.metadata.name ?? ''}": unknown vmm "${vmm}"`);
  const accel = deps.env['IGNITE_ACCEL'];
  return new QemuDriver({
    accel: accel === 'kvm' || accel === 'tcg' ? accel : 'auto',
    accelCacheFile: join(deps.dataDir, '.cache', 'accel.json'),
    tscCacheFile: join(deps.dataDir, '.cache', 'host-tsc.json'),
    logger: deps.logger,
  });
}

/** The network layer: CNI (and ignite's default bridge for docker-bridge), per VM. */
export function vmNetworking(deps: OperationDeps): CNINetwork {
  return new CNINetwork({
    dataDir: deps.dataDir,
    logger: deps.logger,
    nameservers: hostNameservers,
  });
}

/** Wires VM creation: image and kernel import, root disks, SSH keys, the hypervisor choice. */
export function createVMDeps(
  deps: OperationDeps,
  insecureRegistries: readonly string[] = [],
  limits: ImportLimits = importLimits({}, deps.env),
): CreateVMDeps {
  return {
    ...deps,
    vmDefaults: hostVMDefaults(deps.env),
    pickVMM: (wanted) => pickVMM(deps.env, wanted),
    ensureImage: async (ref) => {
      const image = await importImage(importDeps(deps, insecureRegistries, limits), ref);
      const dir = deps.client.images.objectDir(image.metadata.uid ?? '');
      return { image, ext4Path: join(dir ?? '', 'image.ext4') };
    },
    ensureKernel: (ref) => importKernel(importDeps(deps, insecureRegistries, limits), ref),
    createRootDisk: async (req) => {
      await createRootDisk({
        imagePath: req.imagePath,
        vmDir: req.vmDir,
        format: req.format,
        sizeBytes: req.sizeBytes,
        label: `vm "${req.hostname}"`,
        files: vmGuestFiles({
          hostname: req.hostname,
          nameservers: await hostNameservers(),
          authorizedKeys: req.authorizedKeys,
          copyFiles: req.copyFiles,
        }),
      });
    },
    generateSSHKey: generateSSHKeyPair,
    hostPortsInUse: () => hostPortsInUse(),
  };
}

/**
 * Host defaults for new VMs: Ignite v0.4.0's, except where the host says otherwise. The default
 * kernel image can be set with IGNITE_KERNEL_IMAGE, since Ignite's is on Docker Hub.
 */
export function hostVMDefaults(env: NodeJS.ProcessEnv): VMDefaults {
  const kernel = env['IGNITE_KERNEL_IMAGE'];
  return kernel
    ? { ...IGNITE_V04_DEFAULTS, kernelImage: normalizeImageRef(kernel) }
    : { ...IGNITE_V04_DEFAULTS };
}

/**
 * Image import wiring: a registry client that knows the host's insecure registries and auths, and
 * the unpack limits (flags, else IGNITE_IMPORT_MAX_SIZE and IGNITE_IMPORT_MAX_ENTRIES).
 */
export function importDeps(
  deps: OperationDeps,
  insecureRegistries: readonly string[] = [],
  limits: ImportLimits = importLimits({}, deps.env),
): ImportDeps {
  const fromEnv = (deps.env['IGNITE_INSECURE_REGISTRIES'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const dockerConfigDir = deps.env['DOCKER_CONFIG'];
  return {
    ...deps,
    limits,
    registry: new RegistryClient({
      insecureRegistries: [...fromEnv, ...insecureRegistries],
      ...(dockerConfigDir ? { dockerConfigDir } : {}),
    }),
  };
}

/** The host's resolvers, minus loopback stubs (127.0.0.53 and the like), which a VM cannot reach. */
async function hostNameservers(): Promise<string[]> {
  const text = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  return [...text.matchAll(/^nameserver\s+(\S+)/gm)]
    .map((m) => m[1] ?? '')
    .filter((ip) => ip !== '' && !ip.startsWith('127.') && ip !== '::1');
}
