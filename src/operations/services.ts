import type { StoredImage, StoredKernel } from '../api/index.js';
import type { ImportWorkspace, PullProgress, RegistryClient } from '../image/index.js';
import type { VMMetricsEndpoint } from '../metrics/vm-metrics-endpoint.js';
import type { NamedNetworks } from '../network/named-networks.js';
import type { VMNetwork } from '../network/vm-network.js';
import type { Client } from '../storage/client.js';
import type { Fleet } from '../storage/fleet.js';
import type { DataLayout } from '../storage/layout.js';
import type { RuntimeFiles } from '../storage/runtime-files.js';
import type { Clock } from '../system/clock.js';
import type { HostConfig } from '../system/host-config.js';
import type { HostFacts } from '../system/host-facts.js';
import type { HostDirectories } from '../system/host-dirs.js';
import type { HostFiles } from '../system/host-files.js';
import type { HostPorts } from '../system/host-ports.js';
import type { Logger } from '../system/logger.js';
import type { SpawnCommand } from '../system/packaging.js';
import type { Processes } from '../system/processes.js';
import type { RequestSockets } from '../system/request-sockets.js';
import type { SignalHook } from '../system/program-io.js';
import type { SSHClient } from '../system/ssh-client.js';
import type { SSHKeys } from '../system/ssh-keys.js';
import type { Tracer } from '../system/trace.js';
import type { VolumeFiles } from '../system/volume-files.js';
import type { ConsoleConnector } from '../vmm/console-connector.js';
import type { RootDisks } from '../vmm/disk/root-disks.js';
import type { StateFiles } from '../vmm/state-files.js';
import type { VMMs } from '../vmm/vmm-choice.js';

export interface ImportOptions {
  progress?: PullProgress;
}

/** Images and kernels by reference, imported when absent (operations/import-image.ts). */
export interface Imports {
  image(ref: string, options?: ImportOptions): Promise<StoredImage>;
  kernel(ref: string, options?: ImportOptions): Promise<StoredKernel>;
}

/**
 * Every port a use case may need, built once per process in src/composition.ts. A use case takes
 * `Pick<Services, …>` of the ones it uses, so its signature says what it touches and a test
 * fakes only those.
 */
export interface Services {
  /** The host's settings: data dir, log level, IGNITE_* and the environment, resolvers. */
  config: HostConfig;
  /** Where each file under the data dir is. */
  layout: DataLayout;
  client: Client;
  logger: Logger;
  clock: Clock;
  host: HostFacts;
  processes: Processes;
  /** The host's own files (`--config`, public keys, files to copy, allowed directories). */
  hostFiles: HostFiles;
  /** Host directories the operator asked ignite to follow (`--manifest-dir`). */
  hostDirs: HostDirectories;
  /** Run records, sockets, logs and root disks beside stored objects. */
  runtimeFiles: RuntimeFiles;
  network: VMNetwork;
  /** The host side of named networks: their bridges, rules and CNI files. */
  namedNetworks: NamedNetworks;
  vmms: VMMs;
  registry: RegistryClient;
  importWorkspace: ImportWorkspace;
  imports: Imports;
  rootDisks: RootDisks;
  sshKeys: SSHKeys;
  ssh: SSHClient;
  hostPorts: HostPorts;
  consoles: ConsoleConnector;
  vmMetrics: VMMetricsEndpoint;
  /** How to start this program's supervisor entry (ignite-spawn). */
  spawnCommand: SpawnCommand;
  /** The signals of this process (a supervisor stops its VM on SIGTERM). */
  signals: SignalHook;
  /** Requests to a VM's supervisor, and its serving them (`snapshot create`, `stop --save`). */
  requests: RequestSockets;
  /** Saved states and frozen overlays on disk. */
  stateFiles: StateFiles;
  /** Host leases, live hosts and the scheduler election: with an etcd store only. */
  fleet?: Fleet | undefined;
  /** Named volumes' files (`<dataDir>/volume/<uid>/volume.img`). */
  volumeFiles: VolumeFiles;
  /** Phase timestamps of this process (IGNITE_TRACE=1), for profiling a VM's start. */
  trace: Tracer;
}
