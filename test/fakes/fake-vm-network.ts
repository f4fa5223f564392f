import type { NetworkMode } from '../../src/api/index.js';
import type {
  NetworkAttachRequest,
  NetworkAttachment,
  NetworkVMRef,
  VMNetwork,
} from '../../src/network/vm-network.js';

export type NetworkOp = 'reserve' | 'attach' | 'detach' | 'release' | 'leases' | 'sweep';

/**
 * A VMNetwork that records what the use cases ask of it: addresses from 10.61.0.0/16 in order,
 * reservations and attachments in maps, every call in `calls`. `fail` makes a step throw, to
 * see what a use case leaves behind when the network does.
 */
export class FakeVMNetwork implements VMNetwork {
  readonly calls: { op: NetworkOp; uid?: string }[] = [];
  readonly reserved = new Map<string, string>();
  readonly attached = new Map<string, NetworkAttachment>();
  readonly fail: Partial<Record<NetworkOp, Error>> = {};
  private next = 2;

  /** The calls for one VM, in order. */
  opsFor(uid: string): NetworkOp[] {
    return this.calls.filter((c) => c.uid === uid).map((c) => c.op);
  }

  private record(op: NetworkOp, uid?: string): Promise<void> {
    this.calls.push(uid === undefined ? { op } : { op, uid });
    const err = this.fail[op];
    return err === undefined ? Promise.resolve() : Promise.reject(err);
  }

  private allocate(): string {
    const n = this.next++;
    return `10.61.${Math.floor(n / 256)}.${n % 256}`;
  }

  async reserve(req: NetworkVMRef & { mode: NetworkMode }): Promise<string | undefined> {
    await this.record('reserve', req.uid);
    if (req.mode === 'none') return undefined;
    const ip = this.attached.get(req.uid)?.ipAddresses[0] ?? this.reserved.get(req.uid);
    if (ip !== undefined) return ip;
    const fresh = this.allocate();
    this.reserved.set(req.uid, fresh);
    return fresh;
  }

  async attach(req: NetworkAttachRequest): Promise<NetworkAttachment> {
    await this.record('attach', req.uid);
    if (req.mode === 'none') return { ipAddresses: [] };
    const ip = this.reserved.get(req.uid) ?? this.allocate();
    this.reserved.delete(req.uid);
    const attachment: NetworkAttachment = {
      netns: `ignite-${req.uid}`,
      tapName: 'vm0',
      mac: '02:00:00:00:00:01',
      ipAddresses: [ip],
      gateway: '10.61.0.1',
      prefixLength: 16,
    };
    this.attached.set(req.uid, attachment);
    return attachment;
  }

  async detach(req: { uid: string }): Promise<void> {
    await this.record('detach', req.uid);
    this.attached.delete(req.uid);
  }

  async release(req: { uid: string }): Promise<void> {
    await this.record('release', req.uid);
    this.attached.delete(req.uid);
    this.reserved.delete(req.uid);
  }

  async leases(uid: string): Promise<number> {
    await this.record('leases', uid);
    return this.attached.has(uid) ? 1 : 0;
  }

  async sweep(): Promise<string[]> {
    await this.record('sweep');
    return [];
  }
}
