import { findProgram, withAdminDirs } from './system/exec.js';
import { fsVolumeFiles } from './system/fs-volume-files.js';
import { CNINetwork } from './network/cni-network.js';
import { HostNamedNetworks } from './network/host-named-networks.js';
import { ModeNetwork } from './network/mode-network.js';
import { UserNetwork } from './network/user-network.js';
import { FsImportWorkspace, RegistryClient } from './image/index.js';
import { registryOptions } from './image/registry-options.js';
import { PrometheusVMEndpoint } from './metrics/prometheus-vm-endpoint.js';
import { registryImports } from './operations/import-image.js';
import type { Services } from './operations/services.js';
import { listingCacheDecoder, newStoreClient, openFleet } from './storage/index.js';
import { FsRuntimeFiles } from './storage/fs-runtime-files.js';
import { DataLayout } from './storage/layout.js';
import type { HostConfig } from './system/host-config.js';
import { procNetHostPorts } from './system/host-ports.js';
import { LinuxProcesses } from './system/linux-processes.js';
import { createLogger } from './system/logger.js';
import { nodeHostFacts } from './system/node-host-facts.js';
import { nodeHostDirectories } from './system/node-host-dirs.js';
import { nodeHostFiles } from './system/node-host-files.js';
import { opensshClient } from './system/openssh-client.js';
import { readBuildInfo, spawnCommand } from './system/packaging.js';
import type { ProgramIO } from './system/program-io.js';
import { sshKeygen } from './system/ssh-keygen.js';
import { systemClock } from './system/system-clock.js';
import { envTracer } from './system/trace.js';
import { unixRequestSockets } from './system/unix-request-sockets.js';
import { unixConsoleConnector } from './vmm/console-connector.js';
import { HostToolRootDisks } from './vmm/disk/host-tool-root-disks.js';
import { fsStateFiles } from './vmm/fs-state-files.js';
import { FirecrackerDriver, QemuDriver } from './vmm/index.js';
import { askedByHost, askedByVM, fallback, StrategyVMMs, whenAvailable } from './vmm/vmm-choice.js';

/** Where a process's log lines go and which part of ignite writes them. */
export interface LogTarget {
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  component: 'cli' | 'spawn' | 'daemon';
}

/**
 * The composition root: builds every implementation once, from the host's settings, and hands
 * them to the use cases as one Services. Front ends call it once per process.
 */
export function createServices(
  config: HostConfig,
  log: LogTarget,
  signals: ProgramIO['signals'],
  shared?: Pick<Services, 'client' | 'fleet'>,
): Services {
  // Once per process, before any tool runs; supervisors and tools inherit it.
  process.env['PATH'] = withAdminDirs(process.env['PATH']);
  const layout = new DataLayout(config.dataDir, config.vmRunDir);
  const logger = createLogger({
    level: config.logLevel,
    stream: log.stream,
    component: log.component,
  });
  const host = nodeHostFacts();
  const trace = envTracer(config.env, log.component, log.stream, host.pid);
  const processes = new LinuxProcesses(systemClock);
  // Hypervisors are found on the PATH of whoever starts the VM: the host supervisor, which runs
  // the VMs of many commands, gets each one's environment with the VM (config.env).
  const onPath = (program: string) => {
    const env = { ...config.env, PATH: withAdminDirs(config.env['PATH']) };
    const found = findProgram(program, env);
    return found !== undefined ? { binary: found } : {};
  };
  const firecracker = new FirecrackerDriver({ logger, ...onPath('firecracker') });
  const qemu = new QemuDriver({
    ...onPath('qemu-system-x86_64'),
    accel: config.accel,
    accelCacheFile: layout.accelCache,
    tscCacheFile: layout.tscCache,
    logger,
    trace,
  });
  const base = {
    config,
    layout,
    // The host supervisor's VMs share its store connection (with etcd, one client per process).
    client:
      shared?.client ??
      newStoreClient(config, { listingCacheDecoder: listingCacheDecoder(readBuildInfo()) }),
    logger,
    clock: systemClock,
    host,
    processes,
    hostFiles: nodeHostFiles,
    hostDirs: nodeHostDirectories,
    runtimeFiles: new FsRuntimeFiles(layout),
    network: new ModeNetwork(
      new CNINetwork({
        dataDir: config.dataDir,
        namedConfDir: layout.networkConfDir,
        logger,
        trace,
        nameservers: () => Promise.resolve(config.nameservers),
      }),
      new UserNetwork({ runtimeDir: config.runtimeDir, isRoot: host.isRoot, logger }),
    ),
    namedNetworks: new HostNamedNetworks(),
    vmms: new StrategyVMMs(
      [askedByVM, askedByHost, whenAvailable(firecracker), fallback('qemu')],
      config.vmm,
      [qemu, firecracker],
    ),
    registry: new RegistryClient(registryOptions(config)),
    importWorkspace: new FsImportWorkspace(layout.stagingDir, {
      pid: host.pid,
      isAlive: (pid) => processes.isAlive(pid),
    }),
    rootDisks: new HostToolRootDisks(config.nameservers),
    sshKeys: sshKeygen,
    ssh: opensshClient,
    hostPorts: procNetHostPorts,
    consoles: unixConsoleConnector,
    vmMetrics: new PrometheusVMEndpoint(logger),
    spawnCommand: spawnCommand(),
    signals,
    requests: unixRequestSockets,
    stateFiles: fsStateFiles,
    fleet: shared !== undefined ? shared.fleet : openFleet(config),
    volumeFiles: fsVolumeFiles,
    trace,
  };
  return { ...base, imports: registryImports(base) };
}
