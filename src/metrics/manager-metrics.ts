import { Counter, Registry } from 'prom-client';
import { STORED_VM_STATES, type VMState } from '../api/index.js';
import type { Logger } from '../system/logger.js';
import { registerProcessMetrics } from './process-metrics.js';
import { ScrapedGauge, coalesce } from './scraped-metric.js';

/** How many objects of a kind are stored, and their size on disk. */
export interface ArtifactSummary {
  count: number;
  bytes: number;
}

/** What the manager metrics read from the store at each scrape. */
export interface ManagerMetricsSources {
  /** The state of every stored VM, one entry per VM. */
  vmStates(): Promise<readonly VMState[]>;
  /** Imported images and the bytes of their root filesystems. */
  images(): Promise<ArtifactSummary>;
  /** Imported kernels and the bytes of their files. */
  kernels(): Promise<ArtifactSummary>;
}

/** What the gitops loop reports; each call counts one event. */
export interface GitopsMetrics {
  /** One reconcile pass finished. */
  reconciled(): void;
  /**
   * One reconcile pass failed. `reason` becomes a label value, so it must come from a small
   * fixed set (an ErrorCode such as `Unavailable`), never a message or an object name.
   */
  failed(reason: string): void;
  /** A manifest in the repository could not be read; `file` is only logged. */
  invalidManifest(file: string): void;
}

export interface ManagerMetrics {
  registry: Registry;
  gitops: GitopsMetrics;
}

export interface ManagerMetricsOptions {
  logger?: Logger;
  /** Add this process's `process_*`/`nodejs_*` metrics (default true). */
  processMetrics?: boolean;
}

/**
 * The metrics of the manager process (`ignite metrics serve`, the gitops daemon): VMs by state,
 * images and kernels with their sizes, read from `sources` when scraped, and the gitops counters
 * the loop increments through `gitops`.
 *
 * @example
 * const { registry, gitops } = createManagerMetrics({ vmStates, images, kernels });
 * await serveHostMetrics({ listen: '127.0.0.1:9090', manager: registry, vmSockets });
 */
export function createManagerMetrics(
  sources: ManagerMetricsSources,
  options: ManagerMetricsOptions = {},
): ManagerMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) registerProcessMetrics(registry);
  const onError = (err: unknown, metric: string): void =>
    options.logger?.debug({ err, metric }, `metric ${metric}: source failed; kept last samples`);
  const common = { registry, onError };

  new ScrapedGauge({
    ...common,
    name: 'ignite_vms',
    help: 'VMs in the store, by state.',
    labelNames: ['state'],
    read: async () => {
      const states = await sources.vmStates();
      return STORED_VM_STATES.map((state) => ({
        labels: { state },
        value: states.filter((s) => s === state).length,
      }));
    },
  });

  const artifacts = (kind: 'image' | 'kernel', read: () => Promise<ArtifactSummary>): void => {
    const summary = coalesce(read);
    new ScrapedGauge({
      ...common,
      name: `ignite_${kind}s`,
      help: `Imported ${kind}s.`,
      read: async () => [{ value: (await summary()).count }],
    });
    new ScrapedGauge({
      ...common,
      name: `ignite_${kind}_bytes`,
      help: `Size of the imported ${kind}s on disk, in bytes.`,
      read: async () => [{ value: (await summary()).bytes }],
    });
  };
  artifacts('image', () => sources.images());
  artifacts('kernel', () => sources.kernels());

  const reconciles = new Counter({
    name: 'ignite_gitops_reconciles_total',
    help: 'Gitops reconcile passes that finished.',
    registers: [registry],
  });
  const errors = new Counter({
    name: 'ignite_gitops_reconcile_errors_total',
    help: 'Gitops reconcile passes that failed, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const invalid = new Counter({
    name: 'ignite_gitops_invalid_manifests_total',
    help: 'Manifests in the gitops repository that could not be read.',
    registers: [registry],
  });
  const gitops: GitopsMetrics = {
    reconciled: () => reconciles.inc(),
    failed: (reason) => errors.inc({ reason }),
    invalidManifest: (file) => {
      invalid.inc();
      options.logger?.debug({ file }, 'gitops: invalid manifest counted');
    },
  };
  return { registry, gitops };
}
