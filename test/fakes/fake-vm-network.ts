import type { NetworkMode } from '../../src/api/index.js';
import { MemoryVMNetwork } from '../../src/network/memory-vm-network.js';
import type {
  NetworkAttachRequest,
  NetworkAttachment,
  NetworkVMRef,
  VMNetwork,
} from '../../src/network/vm-network.js';

export type NetworkOp = 'reserve' | 'attach' | 'detach' | 'release' | 'leases' | 'sweep';

/** The subnet the fake hands addresses out of: its first VM gets 10.61.0.2. */
export const FAKE_SUBNET = '10.61.0.0/24';

/**
 * MemoryVMNetwork (which keeps the VMNetwork contract, test/suites/vm-network.suite.ts) that
 * records what the use cases ask of it: every call in `calls`, every attachment it hands out in
 * `attachments`. `fail` makes a step throw before it acts, to see what a use case leaves behind
 * when the network does.
 */
export class FakeVMNetwork implements VMNetwork {
  readonly calls: { op: NetworkOp; uid?: string }[] = [];
  readonly attachments: { uid: string; attachment: NetworkAttachment }[] = [];
  /** Every attach request, as asked. */
  readonly attachRequests: NetworkAttachRequest[] = [];
  readonly fail: Partial<Record<NetworkOp, Error>> = {};
  /** Makes an attach fail once it has told the caller its links, as a CNI ADD failing late. */
  failAfterLinks?: Error;
  readonly memory = new MemoryVMNetwork({ subnet: FAKE_SUBNET });

  /** The calls for one VM, in order. */
  opsFor(uid: string): NetworkOp[] {
    return this.calls.filter((c) => c.uid === uid).map((c) => c.op);
  }

  /** What the network holds for the VM (`reserved <ip>`, `attached <ip>`, `netns`). */
  held(uid: string): string[] {
    return this.memory.held(uid);
  }

  /** Whether the VM holds an attachment (its address handed over, its namespace). */
  isAttached(uid: string): boolean {
    return this.held(uid).some((h) => h.startsWith('attached') || h === 'netns');
  }

  /** The VMs, of those the network was asked about, that hold anything. */
  holders(): string[] {
    const asked = new Set(this.calls.flatMap((c) => (c.uid === undefined ? [] : [c.uid])));
    return [...asked].filter((uid) => this.held(uid).length > 0);
  }

  /** The last attachment handed to the VM. */
  attachmentOf(uid: string): NetworkAttachment | undefined {
    return this.attachments.findLast((a) => a.uid === uid)?.attachment;
  }

  private record(op: NetworkOp, uid?: string): Promise<void> {
    this.calls.push(uid === undefined ? { op } : { op, uid });
    const err = this.fail[op];
    return err === undefined ? Promise.resolve() : Promise.reject(err);
  }

  async reserve(req: NetworkVMRef & { mode: NetworkMode }): Promise<string | undefined> {
    await this.record('reserve', req.uid);
    return this.memory.reserve(req);
  }

  async attach(req: NetworkAttachRequest): Promise<NetworkAttachment> {
    const { onLinksReady, ...asked } = req;
    this.attachRequests.push({
      ...structuredClone(asked),
      ...(onLinksReady !== undefined ? { onLinksReady } : {}),
    });
    await this.record('attach', req.uid);
    const attachment = await this.memory.attach(req);
    if (this.failAfterLinks !== undefined) {
      await this.memory.detach(req);
      throw this.failAfterLinks;
    }
    this.attachments.push({ uid: req.uid, attachment });
    return attachment;
  }

  async detach(req: { uid: string; keepAddress?: boolean }): Promise<void> {
    await this.record('detach', req.uid);
    return this.memory.detach(req);
  }

  async release(req: { uid: string }): Promise<void> {
    await this.record('release', req.uid);
    return this.memory.release(req);
  }

  async leases(uid: string): Promise<number> {
    await this.record('leases', uid);
    return this.memory.leases(uid);
  }

  async sweep(): Promise<string[]> {
    await this.record('sweep');
    return this.memory.sweep();
  }
}
