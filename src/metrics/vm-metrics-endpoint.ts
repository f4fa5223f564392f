import type { VMIdentity, VMMetricsSources } from './vm-metrics.js';

/**
 * A VM's metrics endpoint, served by its supervisor on `prometheus.sock` in the VM's run dir
 * (`<dataDir>/vm/<uid>/`, or `<runtimeDir>/<uid>/` without root) for as long as the VM runs.
 */
export interface VMMetricsEndpoint {
  serve(
    socketPath: string,
    sources: VMMetricsSources,
    identity: VMIdentity,
  ): Promise<{ close(): Promise<void> }>;
}
