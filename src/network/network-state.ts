import type { CNIResult, CNIRuntime, NetworkConfigList } from './cni/cni-runner.js';

/**
 * What a VM's CNI attachment needs to be undone, kept in `<dataDir>/network/<uid>.json` outside
 * the VM's directory, so leftovers can be collected even after the VM was removed.
 */
export interface NetworkState {
  uid: string;
  netns: string;
  list: NetworkConfigList;
  runtime: CNIRuntime;
  result?: CNIResult;
  dhcpPid?: number;
}

/** An address held for a created VM under the placeholder interface until it starts. */
export interface Reservation {
  ip: string;
  list: NetworkConfigList;
}
