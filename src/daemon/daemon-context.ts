import type { ChangeFeed } from '../operations/change-feed.js';
import type { ManifestTrust } from '../operations/manifest-trust.js';
import type { Services } from '../operations/services.js';

/** What every route of the daemon shares: the host's services and the daemon's settings. */
export interface DaemonContext {
  s: Services;
  /** What a TCP client's manifests may ask of the host (the gitops rules). */
  trust: ManifestTrust;
  /** How long a start waits for the supervisor to report the VM running. */
  startTimeoutMs: number;
  /** Every change of VMs, images and kernels, numbered: lists' versions, watches, events. */
  feed: ChangeFeed;
}
