import type { StoredVM } from '../api/index.js';
import type { NetworkAttachment } from '../network/vm-network.js';
import type { VMFiles } from '../storage/layout.js';
import type { RunningVM } from '../vmm/vmm-driver.js';
import type { Services } from './services.js';

/**
 * Serves the VM's metrics, its DHCP leases polled every 2 s. The tap lives in the VM's namespace,
 * which the hypervisor's /proc/<pid>/net shows.
 */
export async function serveMetrics(
  s: Pick<Services, 'network' | 'vmMetrics' | 'clock'>,
  vm: StoredVM,
  hv: RunningVM,
  paths: VMFiles,
  net: NetworkAttachment,
  vmm: string,
): Promise<{ close(): Promise<void> }> {
  const uid = vm.metadata.uid;
  let leases = 0;
  const poll = setInterval(() => {
    void s.network.leases(uid).then(
      (n) => (leases = n),
      () => undefined,
    );
  }, 2000).unref();
  const startTime = s.clock.now();
  try {
    const served = await s.vmMetrics.serve(
      paths.metricsSocket,
      {
        state: () => 'Running',
        bootTimeSeconds: () => startTime.getTime() / 1000,
        hypervisorPid: () => hv.pid,
        blockStats: () => hv.blockStats(),
        netDevice: () =>
          net.tapName !== undefined ? { pid: hv.pid, ifname: net.tapName } : undefined,
        dhcpLeases: () => leases,
      },
      {
        uid,
        name: vm.metadata.name,
        vmm,
        image: vm.spec.image.ociClaim.ref,
        kernel: vm.spec.kernel.ociClaim.ref,
      },
    );
    return { close: () => (clearInterval(poll), served.close()) };
  } catch (err) {
    clearInterval(poll);
    throw err;
  }
}
