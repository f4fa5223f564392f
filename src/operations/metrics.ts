import { failedPrecondition, unavailable } from '../errors.js';
import {
  createManagerMetrics,
  hostMetricsCollector,
  serveHostMetrics,
  type HostMetricsServer,
  type ManagerMetrics,
} from '../metrics/index.js';
import { fetchFromSocket } from '../metrics/fetch-socket.js';
import type { Services } from './services.js';
import { vmLabel, vmPaths } from './vm-paths.js';
import { isVMRunning, refreshVMState, type VMStateServices } from './vm-state.js';

/** A running VM's metrics, as its supervisor serves them on the VM's `prometheus.sock`. */
export async function vmMetrics(
  s: VMStateServices & Pick<Services, 'layout'>,
  query: string,
): Promise<string> {
  const vm = await refreshVMState(s, await s.client.vms.find(query));
  if (!isVMRunning(s, vm)) throw failedPrecondition(`${vmLabel(vm)}: is not running`);
  const r = await fetchFromSocket(vmPaths(s, vm).metricsSocket, { timeoutMs: 5000 });
  if (!r.ok) throw unavailable(`${vmLabel(vm)}: metrics not available: ${r.message}`);
  return r.text;
}

export type MetricsServices = Pick<
  Services,
  'client' | 'logger' | 'layout' | 'processes' | 'runtimeFiles'
>;

/** The running VMs' metrics sockets, asked at every scrape. */
function runningVMSockets(s: MetricsServices) {
  return async () =>
    (await s.client.vms.list())
      .filter((v) => isVMRunning(s, v))
      .map((v) => ({
        uid: v.metadata.uid,
        name: v.metadata.name,
        socketPath: vmPaths(s, v).metricsSocket,
      }));
}

/**
 * `ignite metrics serve`: one HTTP endpoint with every running VM's metrics and the manager's own
 * (VMs by state, images and kernels), for Prometheus to scrape.
 */
export async function serveAllMetrics(
  s: MetricsServices,
  listen: string,
  manager: ManagerMetrics = managerMetrics(s),
): Promise<HostMetricsServer> {
  return serveHostMetrics({
    listen,
    manager: manager.registry,
    logger: s.logger,
    vmSockets: runningVMSockets(s),
  });
}

/** The same merged exposition as `serveAllMetrics`, as a function (the daemon's `/metrics`). */
export function allMetricsCollector(
  s: MetricsServices,
  manager: ManagerMetrics = managerMetrics(s),
): () => Promise<string> {
  return hostMetricsCollector({
    manager: manager.registry,
    logger: s.logger,
    vmSockets: runningVMSockets(s),
  });
}

/** The manager's own metrics: VMs by state, images and kernels, and the gitops counters. */
export function managerMetrics(s: MetricsServices): ManagerMetrics {
  const usage = (paths: string[]) =>
    Promise.all(paths.map((p) => s.runtimeFiles.diskUsage(p))).then((sizes) =>
      sizes.reduce((a, b) => a + b, 0),
    );
  return createManagerMetrics(
    {
      vmStates: async () =>
        (await s.client.vms.list()).map((v) =>
          isVMRunning(s, v)
            ? 'Running'
            : v.status?.state === 'Running'
              ? 'Stopped'
              : (v.status?.state ?? 'Created'),
        ),
      images: async () => {
        const images = await s.client.images.list();
        const paths = images.map((i) => s.layout.imageExt4(i.metadata.uid));
        return { count: images.length, bytes: await usage(paths) };
      },
      kernels: async () => {
        const kernels = await s.client.kernels.list();
        const paths = kernels.map((k) => s.layout.kernelFiles(k.metadata.uid).vmlinux);
        return { count: kernels.length, bytes: await usage(paths) };
      },
    },
    { logger: s.logger },
  );
}
