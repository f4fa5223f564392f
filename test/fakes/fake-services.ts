import { FakeVolumeFiles } from './fake-volume-files.js';
import { pino } from 'pino';
import type { StoredVM } from '../../src/api/index.js';
import { RegistryClient, type ImportWorkspace } from '../../src/image/index.js';
import type { Services } from '../../src/operations/services.js';
import { MemoryRawStorage, newClient } from '../../src/storage/index.js';
import { DataLayout } from '../../src/storage/layout.js';
import { parseHostConfig } from '../../src/system/host-config.js';
import type { HostFacts } from '../../src/system/host-facts.js';
import {
  askedByHost,
  askedByVM,
  fallback,
  StrategyVMMs,
  whenAvailable,
} from '../../src/vmm/vmm-choice.js';
import { FakeClock } from './fake-clock.js';
import { fakeHostFacts } from './fake-host-facts.js';
import { FakeHostDirectories } from './fake-host-dirs.js';
import { FakeHostFiles } from './fake-host-files.js';
import { FakeHostPorts } from './fake-host-ports.js';
import { FakeImports } from './fake-imports.js';
import { FakeVMMetricsEndpoint } from './fake-metrics-endpoint.js';
import { FakeProcesses } from './fake-processes.js';
import { FakeRootDisks } from './fake-root-disks.js';
import { FakeRuntimeFiles } from './fake-runtime-files.js';
import { FakeSignals } from './fake-signals.js';
import { FakeRequestSockets } from './fake-requests.js';
import { FakeStateFiles } from './fake-state-files.js';
import { FakeSSHClient, FakeSSHKeys } from './fake-ssh.js';
import { FakeVMMDriver } from './fake-vmm.js';
import { FakeNamedNetworks } from './fake-named-networks.js';
import { FakeVMNetwork } from './fake-vm-network.js';
import { NO_TRACE } from '../../src/system/trace.js';

/** A line the use cases logged (pino's JSON), as parsed. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export const DATA_DIR = '/var/lib/ignite-test';
export const SPAWN_FILE = '/usr/bin/node';
export const SPAWN_ENTRY = '/opt/ignite/dist/spawn/main.js';
/** How the use cases start the host supervisor here (at the default log level), and its log. */
export const HOST_SUPERVISOR_ARGS = [
  SPAWN_ENTRY,
  '--supervise-host',
  '--data-dir',
  DATA_DIR,
  '--log-level',
  'info',
];
export const HOST_SUPERVISOR_LOG = `${DATA_DIR}/supervisor.log`;

/**
 * Every port of Services, over a MemoryRawStorage client. Those the VM use cases use are
 * in-memory fakes a test can look into and steer. The registry, the import workspace and the
 * console connector, which no VM lifecycle use case takes, are stand-ins: the registry and the
 * console refuse what they are asked, the workspace stages nothing.
 */
export interface FakeServices extends Services {
  clock: FakeClock;
  processes: FakeProcesses;
  hostFiles: FakeHostFiles;
  hostDirs: FakeHostDirectories;
  runtimeFiles: FakeRuntimeFiles;
  network: FakeVMNetwork;
  namedNetworks: FakeNamedNetworks;
  imports: FakeImports;
  rootDisks: FakeRootDisks;
  sshKeys: FakeSSHKeys;
  ssh: FakeSSHClient;
  hostPorts: FakeHostPorts;
  vmMetrics: FakeVMMetricsEndpoint;
  signals: FakeSignals;
  requests: FakeRequestSockets;
  stateFiles: FakeStateFiles;
  volumeFiles: FakeVolumeFiles;
  drivers: { qemu: FakeVMMDriver; firecracker: FakeVMMDriver };
  logs: LogLine[];
}

export interface FakeServicesOptions {
  host?: Partial<HostFacts>;
  /** The environment the host config is read from (IGNITE_VMM, IGNITE_KERNEL_IMAGE, …). */
  env?: NodeJS.ProcessEnv;
  /** Whether Firecracker is installed; QEMU always is. */
  firecracker?: boolean;
}

const notFaked = (what: string) => () => Promise.reject(new Error(`${what}: not faked`));

/** An import workspace for use cases that only name its staging directory. */
const workspace: ImportWorkspace = {
  withDir: (fn) => fn(`${DATA_DIR}/.staging/test`),
  sweep: () => Promise.resolve(),
  share: notFaked('share'),
  claim: notFaked('claim'),
  moveInto: notFaked('moveInto'),
  remove: () => Promise.resolve(),
  size: () => Promise.resolve(0),
  isLocalSource: () => Promise.resolve(false),
  isFile: () => Promise.resolve(false),
};

/** A fresh host: no VMs, images or kernels, no processes, a clock that never waits. */
export function fakeServices(o: FakeServicesOptions = {}): FakeServices {
  const clock = new FakeClock('2026-01-01T00:00:00Z', { autoAdvance: true });
  const config = parseHostConfig(
    { dataDir: DATA_DIR, logLevel: 'info' },
    o.env ?? {},
    'nameserver 192.0.2.53\n',
  );
  const layout = new DataLayout(DATA_DIR);
  const client = newClient(new MemoryRawStorage(), () => clock.now());
  const logs: LogLine[] = [];
  const logger = pino(
    { level: 'debug', base: { component: 'test' } },
    { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
  );
  const processes = new FakeProcesses(clock);
  const runtimeFiles = new FakeRuntimeFiles();
  const drivers = {
    qemu: new FakeVMMDriver('qemu', processes),
    firecracker: new FakeVMMDriver('firecracker', processes),
  };
  if (o.firecracker !== true)
    drivers.firecracker.installed = { available: false, reason: 'not installed' };
  return {
    config,
    layout,
    client,
    logger,
    logs,
    clock,
    host: fakeHostFacts(o.host),
    processes,
    hostFiles: new FakeHostFiles(),
    hostDirs: new FakeHostDirectories(),
    runtimeFiles,
    network: new FakeVMNetwork(),
    namedNetworks: new FakeNamedNetworks(),
    vmms: new StrategyVMMs(
      [askedByVM, askedByHost, whenAvailable(drivers.firecracker), fallback('qemu')],
      config.vmm,
      [drivers.qemu, drivers.firecracker],
    ),
    drivers,
    registry: new RegistryClient({
      fetch: () => Promise.reject(new Error('no registry in tests')),
    }),
    importWorkspace: workspace,
    imports: new FakeImports(client, layout, runtimeFiles),
    rootDisks: new FakeRootDisks(runtimeFiles),
    sshKeys: new FakeSSHKeys(),
    ssh: new FakeSSHClient(),
    hostPorts: new FakeHostPorts(),
    consoles: { connect: notFaked('console') },
    vmMetrics: new FakeVMMetricsEndpoint(),
    spawnCommand: { file: SPAWN_FILE, args: [SPAWN_ENTRY] },
    signals: new FakeSignals(),
    requests: new FakeRequestSockets(),
    stateFiles: new FakeStateFiles(),
    volumeFiles: new FakeVolumeFiles(),
    trace: NO_TRACE,
  };
}

/** The messages logged at `level` (pino's numbers: 40 warn, 50 error) or above. */
export function messages(s: Pick<FakeServices, 'logs'>, level = 30): string[] {
  return s.logs.filter((l) => l.level >= level).map((l) => l.msg);
}

/**
 * Waits, a turn of the event loop at a time, until the VM is recorded in `state`: for a use case
 * that runs on (a supervisor) while the test acts on it.
 */
export async function untilState(s: FakeServices, uid: string, state: string): Promise<StoredVM> {
  for (let i = 0; i < 1000; i++) {
    const vm = await s.client.vms.get(uid);
    if (vm.status.state === state) return vm;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`vm ${uid}: never ${state}`);
}
