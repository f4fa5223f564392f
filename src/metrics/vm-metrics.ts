import { Gauge, Registry } from 'prom-client';
import { STORED_VM_STATES, type VMState } from '../api/index.js';
import type { Logger } from '../system/logger.js';
import { registerProcessMetrics } from './process-metrics.js';
import {
  readClockTicks,
  readNetDevice,
  readProcessCPUSeconds,
  readResidentBytes,
  type NetDevCounters,
} from './proc-stats.js';
import { ScrapedCounter, ScrapedGauge, coalesce, type Sample } from './scraped-metric.js';

/** Cumulative I/O of the VM's root disk as the hypervisor counts it. */
export interface BlockCounters {
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
}

/**
 * The VM's network device as the supervisor sees it: `ifname` is the host end of the guest's NIC
 * (the tap device), found in the network namespace that process `pid` is in.
 */
export interface NetDeviceRef {
  pid: number;
  ifname: string;
}

/**
 * What the per-VM metrics read at each scrape; ignite-spawn implements it over the VM it
 * supervises. Every method may be called concurrently with the others; a throwing method makes
 * its metrics keep their previous samples for that scrape.
 */
export interface VMMetricsSources {
  state(): VMState;
  /** Unix time (seconds) the VM started; undefined before it has. */
  bootTimeSeconds(): number | undefined;
  /** PID of the hypervisor process; undefined while none runs. */
  hypervisorPid(): number | undefined;
  /** Block I/O totals of the root disk; undefined when the hypervisor cannot tell. */
  blockStats(): Promise<BlockCounters | undefined>;
  /** The VM's tap device; undefined when the VM has no network. */
  netDevice(): NetDeviceRef | undefined;
  /** DHCP leases served to the guest since the supervisor started. */
  dhcpLeases(): number;
}

/** Who the VM is: `uid` and `name` label every series, the rest label `ignite_vm_info`. */
export interface VMIdentity {
  uid: string;
  name: string;
  /** The VMM driver, e.g. `qemu` or `firecracker`. */
  vmm: string;
  /** The OCI image reference the root disk was made from. */
  image: string;
  /** The OCI image reference the kernel came from. */
  kernel: string;
}

export interface VMMetricsOptions {
  /** Source failures are logged here at debug level. */
  logger?: Logger;
  /** Add the supervisor's own `process_*`/`nodejs_*` metrics (default true). */
  processMetrics?: boolean;
  /** Clock ticks per second; read with `getconf CLK_TCK` when not given. */
  clockTicks?: number;
  /** Where procfs is mounted; tests point this at fixtures. */
  procRoot?: string;
}

/**
 * Builds the registry ignite-spawn serves for one VM: its own process metrics plus the VM's
 * state, hypervisor usage, block and network I/O and DHCP leases, all read from `sources` when
 * scraped. Every series carries `vm_uid` and `vm_name`.
 *
 * Network counters are from the guest's point of view: `receive` is what the VM received. They
 * are read on the host end of the tap device, whose directions are the reverse (what the tap
 * transmits, the guest receives).
 *
 * @example
 * const registry = await createVMMetrics(sources, { uid, name, vmm: 'qemu', image, kernel });
 * const server = await serveMetrics(registry, paths.metricsSocket);
 */
export async function createVMMetrics(
  sources: VMMetricsSources,
  identity: VMIdentity,
  options: VMMetricsOptions = {},
): Promise<Registry> {
  const clockTicks = options.clockTicks ?? (await readClockTicks());
  const procRoot = options.procRoot ?? '/proc';
  const registry = new Registry();
  registry.setDefaultLabels({ vm_uid: identity.uid, vm_name: identity.name });
  if (options.processMetrics ?? true) registerProcessMetrics(registry);
  const onError = (err: unknown, metric: string): void =>
    options.logger?.debug({ err, metric }, `metric ${metric}: source failed; kept last samples`);
  const common = { registry, onError };

  new Gauge({
    name: 'ignite_vm_info',
    help: 'Information about the VM; always 1.',
    labelNames: ['vmm', 'image', 'kernel'],
    registers: [registry],
  }).set({ vmm: identity.vmm, image: identity.image, kernel: identity.kernel }, 1);

  new ScrapedGauge({
    ...common,
    name: 'ignite_vm_state',
    help: 'State of the VM: 1 for the current state, 0 for the others.',
    labelNames: ['state'],
    read: () => {
      const current = sources.state();
      return STORED_VM_STATES.map((state) => ({
        labels: { state },
        value: state === current ? 1 : 0,
      }));
    },
  });

  new ScrapedGauge({
    ...common,
    name: 'ignite_vm_boot_time_seconds',
    help: 'Unix time the VM started, in seconds.',
    read: () => one(sources.bootTimeSeconds()),
  });

  const hypervisor = <R>(read: (pid: number) => Promise<R>) => {
    return async (): Promise<R | undefined> => {
      const pid = sources.hypervisorPid();
      return pid === undefined ? undefined : read(pid);
    };
  };
  const cpu = hypervisor((pid) => readProcessCPUSeconds(pid, clockTicks, procRoot));
  new ScrapedCounter({
    ...common,
    name: 'ignite_vm_hypervisor_cpu_seconds_total',
    help: 'CPU time (user and system) used by the hypervisor process, in seconds.',
    read: async () => one(await cpu()),
  });
  const rss = hypervisor((pid) => readResidentBytes(pid, procRoot));
  new ScrapedGauge({
    ...common,
    name: 'ignite_vm_hypervisor_resident_memory_bytes',
    help: 'Resident memory of the hypervisor process, in bytes.',
    read: async () => one(await rss()),
  });

  const block = coalesce(() => sources.blockStats());
  const blockCounter = (field: keyof BlockCounters, name: string, help: string): void => {
    new ScrapedCounter({
      ...common,
      name,
      help,
      read: async () => one((await block())?.[field]),
    });
  };
  blockCounter(
    'readBytes',
    'ignite_vm_block_read_bytes_total',
    "Bytes read from the VM's root disk.",
  );
  blockCounter(
    'writeBytes',
    'ignite_vm_block_write_bytes_total',
    "Bytes written to the VM's root disk.",
  );
  blockCounter('readOps', 'ignite_vm_block_read_ops_total', "Read requests to the VM's root disk.");
  blockCounter(
    'writeOps',
    'ignite_vm_block_write_ops_total',
    "Write requests to the VM's root disk.",
  );

  const net = coalesce(async () => {
    const dev = sources.netDevice();
    if (dev === undefined) return undefined;
    return { ifname: dev.ifname, counters: await readNetDevice(dev.pid, dev.ifname, procRoot) };
  });
  // The tap's transmit side is what reaches the guest, and its receive side what the guest sent.
  const netCounter = (field: keyof NetDevCounters, name: string, help: string): void => {
    new ScrapedCounter({
      ...common,
      name,
      help: `${help} Counted on the host end of its tap device (labelled device).`,
      labelNames: ['device'],
      read: async () => {
        const n = await net();
        return n === undefined ? [] : [{ labels: { device: n.ifname }, value: n.counters[field] }];
      },
    });
  };
  netCounter('transmitBytes', 'ignite_vm_network_receive_bytes_total', 'Bytes received by the VM.');
  netCounter('receiveBytes', 'ignite_vm_network_transmit_bytes_total', 'Bytes sent by the VM.');
  netCounter(
    'transmitPackets',
    'ignite_vm_network_receive_packets_total',
    'Packets received by the VM.',
  );
  netCounter(
    'receivePackets',
    'ignite_vm_network_transmit_packets_total',
    'Packets sent by the VM.',
  );

  new ScrapedCounter({
    ...common,
    name: 'ignite_vm_dhcp_leases_total',
    help: 'DHCP leases served to the VM by its supervisor.',
    read: () => one(sources.dhcpLeases()),
  });

  return registry;
}

function one(value: number | undefined): Sample[] {
  return value === undefined ? [] : [{ value }];
}
