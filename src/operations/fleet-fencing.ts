import type { StoredVM } from '../api/index.js';
import { toAppError } from '../errors.js';
import { isReplaceable } from './fleet-copies.js';
import type { Services } from './services.js';

/** How long a fence request may take before the agent gives up on it (the next renewal retries). */
const FENCE_REQUEST_MS = 1000;
/** A supervisor's deadline ends this long before the lease it rests on could lapse. */
export const FENCE_MARGIN_MS = 1000;

/** The environment variable that carries a supervisor's first fence deadline (RFC 3339). */
export const FENCE_DEADLINE_ENV = 'IGNITE_FENCE_DEADLINE';

/**
 * The agent's side of fencing: after every renewal of the host's lease, it pushes the deadline
 * `sentAt + ttl - 1 s` to the supervisor of each replaceable VM running here, which kills its
 * hypervisor once the deadline passes without a newer one (supervise-vm.ts). So a replaceable VM
 * stops before its host's lease can lapse, even when the agent is frozen.
 */
export class Fencing {
  private vms: StoredVM[] = [];
  private latest: Date | undefined;

  constructor(
    private readonly s: Pick<Services, 'requests' | 'layout' | 'logger'>,
    private readonly o: { ttlSeconds: number },
  ) {}

  /** The deadline a supervisor started now gets, while the lease has been renewed. */
  deadline(): Date | undefined {
    return this.latest;
  }

  /** The environment a supervisor started now gets: its first deadline (IGNITE_FENCE_DEADLINE). */
  startEnv(): NodeJS.ProcessEnv {
    return this.latest !== undefined ? { [FENCE_DEADLINE_ENV]: this.latest.toISOString() } : {};
  }

  /** Sets the VMs placed here (the store's view); the replaceable running ones are fenced. */
  track(vms: readonly StoredVM[]): void {
    this.vms = vms.filter((vm) => isReplaceable(vm) && vm.status.state === 'Running');
  }

  /** A renewal sent at `sentAt` was answered: every fenced supervisor gets the new deadline. */
  renewed(sentAt: Date): void {
    this.latest = new Date(sentAt.getTime() + this.o.ttlSeconds * 1000 - FENCE_MARGIN_MS);
    for (const vm of this.vms) void this.push(vm, this.latest);
  }

  private async push(vm: StoredVM, deadline: Date): Promise<void> {
    const socket = this.s.layout.vm(vm.metadata.uid).supervisorSocket;
    try {
      await this.s.requests.request(
        socket,
        { op: 'fence', deadline: deadline.toISOString() },
        FENCE_REQUEST_MS,
      );
    } catch (err) {
      this.s.logger.debug(
        { err, uid: vm.metadata.uid },
        `vm "${vm.metadata.name}": fence deadline not delivered: ${toAppError(err).message}`,
      );
    }
  }
}
