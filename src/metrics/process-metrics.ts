import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's defaults that break the naming conventions: gauges ending in `_total`, which
 * `promtool check metrics` rejects. Each has a by-type companion without the suffix
 * (`nodejs_active_handles{type}` …) whose samples add up to the same figure.
 */
const NONCONFORMING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Adds this process's `process_*` and `nodejs_*` metrics to `registry`. */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of NONCONFORMING_DEFAULTS) registry.removeSingleMetric(name);
}
