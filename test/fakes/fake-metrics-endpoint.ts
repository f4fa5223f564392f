import type { VMIdentity, VMMetricsSources } from '../../src/metrics/vm-metrics.js';
import type { VMMetricsEndpoint } from '../../src/metrics/vm-metrics-endpoint.js';

/** A metrics endpoint that serves nothing: it keeps what it was given and whether it was closed. */
export class FakeVMMetricsEndpoint implements VMMetricsEndpoint {
  readonly served: {
    socketPath: string;
    sources: VMMetricsSources;
    identity: VMIdentity;
    closed: boolean;
  }[] = [];

  serve(
    socketPath: string,
    sources: VMMetricsSources,
    identity: VMIdentity,
  ): Promise<{ close(): Promise<void> }> {
    const entry = { socketPath, sources, identity, closed: false };
    this.served.push(entry);
    return Promise.resolve({
      close: () => {
        entry.closed = true;
        return Promise.resolve();
      },
    });
  }
}
