export * from './meta/size.js';
export * from './meta/oci-image-ref.js';
export * from './meta/uid.js';
export * from './meta/order.js';
export * from './meta/schema.js';
export * from './meta/stored.js';
export * from './v1alpha1/types.js';
export * from './v1alpha1/kinds.js';
export * from './v1alpha1/snapshot.js';
export * from './v1alpha1/host.js';
export * from './v1alpha1/volume.js';
export * from './v1alpha1/vm-storage.js';
export * from './v1alpha1/network.js';
export * from './v1alpha1/event.js';
export * from './v1alpha1/defaults.js';
export * from './scheme.js';
export * from './meta/label-selector.js';
export * from './v1alpha1/vm-exit.js';
export * from './v1alpha1/restart-policy.js';
// The HTTP API's own schemas (lists, watch events, problems, requests) are imported where the API
// is served or described: built at load, they would cost every CLI command and supervisor.
export type {
  ActionOptions,
  ImportRequest,
  SnapshotRequest,
  WatchEventType,
} from './v1alpha1/http.js';
export * from './v1alpha1/exec-protocol.js';
