export {
  createVMMetrics,
  type BlockCounters,
  type NetDeviceRef,
  type VMIdentity,
  type VMMetricsOptions,
  type VMMetricsSources,
} from './vm-metrics.js';
export {
  createManagerMetrics,
  type ArtifactSummary,
  type GitopsMetrics,
  type ManagerMetrics,
  type ManagerMetricsOptions,
  type ManagerMetricsSources,
} from './manager-metrics.js';
export {
  serveMetrics,
  type MetricsServer,
  type ServeMetricsOptions,
  type SocketMetricsServer,
} from './socket-server.js';
export {
  parseListenAddress,
  serveHostMetrics,
  hostMetricsCollector,
  type HostMetricsOptions,
  type HostMetricsServer,
  type VMSocket,
} from './host-server.js';
export {
  formatExposition,
  parseExposition,
  type ExpositionSample,
  type MetricFamily,
  type MetricType,
} from './exposition.js';
export { mergeExpositions, type ExpositionSource, type MergeResult } from './merge-expositions.js';
