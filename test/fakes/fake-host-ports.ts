import type { HostPorts } from '../../src/system/host-ports.js';

/** Host ports that host processes serve, as `port/protocol` keys a test adds. */
export class FakeHostPorts implements HostPorts {
  readonly used = new Set<string>();

  inUse(): Promise<ReadonlySet<string>> {
    return Promise.resolve(new Set(this.used));
  }
}
