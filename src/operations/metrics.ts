import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition, unavailable } from '../errors.js';
import {
  createManagerMetrics,
  serveHostMetrics,
  type HostMetricsServer,
  type ManagerMetrics,
} from '../metrics/index.js';
import { fetchFromSocket } from '../metrics/fetch-socket.js';
import type { OperationDeps } from './deps.js';
import { vmLabel, vmPaths } from './vm-paths.js';
import { isVMRunning, refreshVMState } from './vm-state.js';

/** A running VM's metrics, as its supervisor serves them on `<dataDir>/vm/<uid>/prometheus.sock`. */
export async function vmMetrics(deps: OperationDeps, query: string): Promise<string> {
  const vm = await refreshVMState(deps, await deps.client.vms.find(query));
  if (!isVMRunning(vm)) throw failedPrecondition(`${vmLabel(vm)}: is not running`);
  const r = await fetchFromSocket(vmPaths(deps, vm).metricsSocket, { timeoutMs: 5000 });
  if (!r.ok) throw unavailable(`${vmLabel(vm)}: metrics not available: ${r.message}`);
  return r.text;
}

async function fileBytes(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.blocks * 512,
    () => 0,
  );
}

/**
 * `ignite metrics serve`: one HTTP endpoint with every running VM's metrics and the manager's own
 * (VMs by state, images and kernels), for Prometheus to scrape.
 */
export async function serveAllMetrics(
  deps: OperationDeps,
  listen: string,
  manager: ManagerMetrics = managerMetrics(deps),
): Promise<HostMetricsServer> {
  return serveHostMetrics({
    listen,
    manager: manager.registry,
    logger: deps.logger,
    vmSockets: async () =>
      (await deps.client.vms.list())
        .filter((v) => isVMRunning(v))
        .map((v) => ({
          uid: v.metadata.uid ?? '',
          name: v.metadata.name ?? '',
          socketPath: vmPaths(deps, v).metricsSocket,
        })),
  });
}

/** The manager's own metrics: VMs by state, images and kernels, and the gitops counters. */
export function managerMetrics(deps: OperationDeps): ManagerMetrics {
  return createManagerMetrics(
    {
      vmStates: async () =>
        (await deps.client.vms.list()).map((v) =>
          isVMRunning(v)
            ? 'Running'
            : v.status?.state === 'Running'
              ? 'Stopped'
              : (v.status?.state ?? 'Created'),
        ),
      images: async () => {
        const images = await deps.client.images.list();
        const sizes = await Promise.all(
          images.map((i) =>
            fileBytes(join(deps.client.images.objectDir(i.metadata.uid ?? '') ?? '', 'image.ext4')),
          ),
        );
        return { count: images.length, bytes: sizes.reduce((a, b) => a + b, 0) };
      },
      kernels: async () => {
        const kernels = await deps.client.kernels.list();
        const sizes = await Promise.all(
          kernels.map((k) =>
            fileBytes(join(deps.client.kernels.objectDir(k.metadata.uid ?? '') ?? '', 'vmlinux')),
          ),
        );
        return { count: kernels.length, bytes: sizes.reduce((a, b) => a + b, 0) };
      },
    },
    { logger: deps.logger },
  );
}
