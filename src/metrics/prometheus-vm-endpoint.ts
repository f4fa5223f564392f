import type { Logger } from '../system/logger.js';
import type { VMMetricsEndpoint } from './vm-metrics-endpoint.js';

/**
 * The endpoint with prom-client, loaded once the hypervisor runs, not before: prom-client (and
 * node:http with it) would otherwise sit between `ignite run` and the boot.
 */
export class PrometheusVMEndpoint implements VMMetricsEndpoint {
  constructor(private readonly logger: Logger) {}

  async serve(
    ...[socketPath, sources, identity]: Parameters<VMMetricsEndpoint['serve']>
  ): Promise<{ close(): Promise<void> }> {
    const { createVMMetrics, serveMetrics } = await import('./index.js');
    const registry = await createVMMetrics(sources, identity, { logger: this.logger });
    return serveMetrics(registry, socketPath, { logger: this.logger });
  }
}
