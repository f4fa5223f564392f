import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkMode, PortMapping, VM, VMStatus } from '../api/index.js';
import { failedPrecondition, toAppError } from '../errors.js';
import { isProcessAlive } from '../system/process.js';
import type { RunningVM, VMMDriver } from '../vmm/vmm-driver.js';
import type { OperationDeps } from './deps.js';
import { vmLabel, vmPaths, type VMPaths } from './vm-paths.js';
import { removeRunRecord, writeRunRecord } from './vm-run-record.js';

/** What the supervisor needs of the network layer: one attachment per VM, torn down on exit. */
export interface VMNetworkAttachment {
  /** The namespace the hypervisor must run in; absent when the VM has no network. */
  netns?: string;
  tapName?: string;
  mac?: string;
  ipAddresses: string[];
}

export interface VMNetworking {
  /** DHCP leases handed to the guest so far (for metrics). */
  leases?(uid: string): Promise<number>;
  attach(req: {
    uid: string;
    name: string;
    mode: NetworkMode;
    ports: PortMapping[];
  }): Promise<VMNetworkAttachment>;
  /** Idempotent: safe after a crash and when nothing was set up. */
  detach(req: { uid: string }): Promise<void>;
}

/** A VM's metrics endpoint, served for as long as the supervisor runs. */
export type MetricsServer = (
  vm: VM,
  running: RunningVM,
  paths: VMPaths,
  net: VMNetworkAttachment & { vmm: string; startTime: Date; dhcpLeases: () => number },
) => Promise<{ close(): Promise<void> }>;

export interface SuperviseDeps extends OperationDeps {
  driverFor(vm: VM): Promise<VMMDriver>;
  networking: VMNetworking;
  serveMetrics?: MetricsServer;
  /** Signals the supervisor reacts to; the spawn entry wires process signals here. */
  signals: { on(signal: 'SIGTERM' | 'SIGINT' | 'SIGQUIT', fn: () => void): void };
}

export interface SuperviseOptions {
  /** How long the guest gets to power off after SIGTERM before it is killed. */
  stopTimeoutMs?: number;
}

/**
 * The body of ignite-spawn: sets up the VM's network, boots it with the chosen driver, records
 * it Running, then waits. SIGTERM asks the guest to power off (killed after the timeout), SIGQUIT
 * kills it at once. However the hypervisor ends, the network is torn down and the VM is recorded
 * Stopped. Returns the hypervisor's exit.
 */
export async function superviseVM(
  deps: SuperviseDeps,
  uid: string,
  options: SuperviseOptions = {},
): Promise<void> {
  const vm = await deps.client.vms.get(uid);
  const label = vmLabel(vm);
  const log = deps.logger.child({ vm: vm.metadata.name, uid });
  const other = vm.status?.runtime?.spawnPid;
  if (
    vm.status?.state === 'Running' &&
    other !== undefined &&
    other !== process.pid &&
    isProcessAlive(other, uid)
  ) {
    throw failedPrecondition(`${label}: already supervised by process ${other}`);
  }
  const paths = vmPaths(deps, vm);
  const kernel = await kernelFiles(deps, vm);
  const rootDisk = await rootDiskOf(paths);
  const driver = await deps.driverFor(vm);
  const mode = vm.spec.network?.mode ?? 'docker-bridge';

  let running: RunningVM | undefined;
  let metrics: { close(): Promise<void> } | undefined;
  const cleanupNetwork = async () => {
    try {
      await deps.networking.detach({ uid });
    } catch (err) {
      log.error({ err }, `${label}: network teardown failed: ${toAppError(err).message}`);
    }
  };
  try {
    const net = await deps.networking.attach({
      uid,
      name: vm.metadata.name ?? uid,
      mode,
      ports: vm.spec.network?.ports ?? [],
    });
    log.info({ mode, ip: net.ipAddresses, netns: net.netns }, 'network ready');
    running = await driver.start({
      uid,
      name: vm.metadata.name ?? uid,
      vcpus: vm.spec.cpus ?? 1,
      memoryMiB: vm.spec.memory?.toMiB() ?? 512,
      ...(vm.spec.logMaxSize !== undefined ? { consoleLogMaxBytes: vm.spec.logMaxSize.bytes } : {}),
      kernel: {
        vmlinuxPath: kernel.vmlinux,
        ...(kernel.initrd !== undefined ? { initrdPath: kernel.initrd } : {}),
        cmdline: vm.spec.kernel?.cmdLine ?? '',
      },
      rootDisk,
      nics:
        net.tapName !== undefined && net.mac !== undefined
          ? [{ tapName: net.tapName, mac: net.mac }]
          : [],
      ...(net.netns !== undefined ? { netns: net.netns } : {}),
      paths: {
        consoleLog: paths.consoleLog,
        consoleSocket: paths.consoleSocket,
        controlSocket: paths.controlSocket,
        workDir: paths.dir,
      },
    });
    const hv = running;
    log.info({ pid: hv.pid, vmm: driver.name }, `${label}: started`);
    const run: VMStatus = {
      state: 'Running',
      startTime: deps.clock().toISOString(),
      ipAddresses: net.ipAddresses,
      runtime: { vmm: driver.name, spawnPid: process.pid, pid: hv.pid },
      network: { mode, ...(net.netns !== undefined ? { netns: net.netns } : {}) },
    };
    await deps.client.vms.update(uid, (v) => {
      v.status = { ...v.status, ...run };
    });
    await writeRunRecord(paths.runRecord, run).catch((err: unknown) =>
      log.warn({ err }, `${label}: could not write ${paths.runRecord}`),
    );
    if (deps.serveMetrics) {
      try {
        let leases = 0;
        const poll = setInterval(() => {
          void deps.networking.leases?.(uid).then(
            (n) => (leases = n),
            () => undefined,
          );
        }, 2000).unref();
        const served = await deps.serveMetrics(vm, hv, paths, {
          ...net,
          vmm: driver.name,
          startTime: deps.clock(),
          dhcpLeases: () => leases,
        });
        metrics = { close: () => (clearInterval(poll), served.close()) };
      } catch (err) {
        log.warn({ err }, `${label}: metrics not served: ${toAppError(err).message}`);
      }
    }

    let stopping = false;
    deps.signals.on('SIGTERM', () => void gracefulStop('SIGTERM'));
    deps.signals.on('SIGINT', () => void gracefulStop('SIGINT'));
    deps.signals.on('SIGQUIT', () => {
      log.info(`${label}: killing (SIGQUIT)`);
      void hv.kill();
    });
    async function gracefulStop(sig: string): Promise<void> {
      if (stopping) return;
      stopping = true;
      log.info(`${label}: asking the guest to power off (${sig})`);
      try {
        await hv.shutdown();
      } catch (err) {
        log.warn({ err }, `${label}: graceful shutdown failed; killing`);
        await hv.kill();
        return;
      }
      const timer = setTimeout(() => {
        log.warn(`${label}: did not power off in time; killing`);
        void hv.kill();
      }, options.stopTimeoutMs ?? 30_000);
      void hv.exited.then(() => clearTimeout(timer));
    }

    const exit = await hv.exited;
    log.info({ code: exit.code, signal: exit.signal }, `${label}: hypervisor exited`);
  } finally {
    // First: once the record says Stopped, no run file may say otherwise.
    await removeRunRecord(paths.runRecord).catch(() => undefined);
    if (metrics) await metrics.close().catch(() => undefined);
    await cleanupNetwork();
    await Promise.all(
      [paths.consoleSocket, paths.controlSocket, paths.metricsSocket].map((f) =>
        rm(f, { force: true }),
      ),
    );
    await deps.client.vms
      .update(uid, (v) => {
        // Another supervisor took over meanwhile: its record stands.
        const owner = v.status?.runtime?.spawnPid;
        if (owner !== undefined && owner !== process.pid) return;
        const before = v.status?.state ?? 'Created';
        v.status = { ...v.status, state: running || before === 'Running' ? 'Stopped' : before };
        delete v.status.runtime;
        delete v.status.ipAddresses;
      })
      .catch((err: unknown) => log.error({ err }, `${label}: could not record the VM stopped`));
  }
}

/** The kernel files of the VM's kernel object: `<dataDir>/kernel/<uid>/vmlinux` and an initrd if any. */
async function kernelFiles(
  deps: OperationDeps,
  vm: VM,
): Promise<{ vmlinux: string; initrd?: string }> {
  const ref = vm.spec.kernel?.ociClaim.ref ?? '';
  const kernel = await deps.client.kernels.findByName(ref);
  const dir =
    kernel?.metadata.uid !== undefined
      ? deps.client.kernels.objectDir(kernel.metadata.uid)
      : undefined;
  if (kernel === undefined || dir === undefined) {
    throw failedPrecondition(`${vmLabel(vm)}: kernel "${ref}" is not imported`, {
      hint: `ignite kernel import ${ref}`,
    });
  }
  const vmlinux = join(dir, 'vmlinux');
  const initrd = join(dir, 'initrd');
  try {
    await access(vmlinux);
  } catch {
    throw failedPrecondition(`kernel "${ref}": ${vmlinux} is missing`, {
      hint: 'remove and import the kernel again',
    });
  }
  const hasInitrd = await access(initrd).then(
    () => true,
    () => false,
  );
  return hasInitrd ? { vmlinux, initrd } : { vmlinux };
}

async function rootDiskOf(paths: VMPaths): Promise<{ path: string; format: 'qcow2' | 'raw' }> {
  for (const [path, format] of [
    [paths.rootDiskQcow2, 'qcow2'],
    [paths.rootDiskRaw, 'raw'],
  ] as const) {
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      return { path, format };
  }
  throw failedPrecondition(`root disk missing in ${paths.dir}`, {
    hint: 'remove the VM and create it again',
  });
}
