import type { NetworkMode, PortMapping } from '../api/index.js';
import type { UserNetwork } from './user-network.js';
import type {
  NetworkAttachRequest,
  NetworkAttachment,
  NetworkVMRef,
  VMNetwork,
} from './vm-network.js';

/**
 * The VMNetwork of the host: `user` VMs to the user-mode network, every other mode to `bridged`
 * (CNI). Detach and release go to both, since they are given only a UID and each is a no-op for
 * a VM it does not hold.
 */
export class ModeNetwork implements VMNetwork {
  constructor(
    private readonly bridged: VMNetwork,
    private readonly user: Pick<UserNetwork, 'check' | 'attach' | 'detach'>,
  ) {}

  async reserve(
    req: NetworkVMRef & { mode: NetworkMode; ports?: readonly PortMapping[] },
  ): Promise<string | undefined> {
    if (req.mode !== 'user') return this.bridged.reserve(req);
    await this.user.check(req.ports ?? [], `vm "${req.name}"`);
    return undefined;
  }

  attach(req: NetworkAttachRequest): Promise<NetworkAttachment> {
    return req.mode === 'user' ? this.user.attach(req) : this.bridged.attach(req);
  }

  async detach(req: { uid: string; keepAddress?: boolean }): Promise<void> {
    await this.user.detach(req);
    await this.bridged.detach(req);
  }

  async release(req: { uid: string }): Promise<void> {
    await this.user.detach(req);
    await this.bridged.release(req);
  }

  leases(uid: string): Promise<number> {
    return this.bridged.leases(uid);
  }

  sweep(): Promise<string[]> {
    return this.bridged.sweep();
  }
}
