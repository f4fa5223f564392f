import { isSSHPublicKeyText, type StoredVM } from '../api/index.js';
import { toAppError } from '../errors.js';
import { removeForeignCopies, placedOn } from './fleet-copies.js';
import { createdStatus, importVMArtifacts, makeVMFiles } from './make-vm.js';
import type { Services } from './services.js';
import { startVM } from './start-vm.js';
import { stopVM } from './stop-vm.js';
import { VMM_ANNOTATION } from './build-vm.js';
import { ownerOf, updateOwnedVM } from './vm-owner.js';
import { isVMRunning } from './vm-state.js';

/** The longest wait before a failed make or start is tried again. */
const MAX_BACKOFF_MS = 60_000;
const FIRST_BACKOFF_MS = 2_000;

export interface FleetVMsOptions {
  host: string;
  startTimeoutMs: number;
  /** Added to each supervisor's environment as it is started (its first fence deadline). */
  startEnv: () => NodeJS.ProcessEnv;
}

/**
 * What one pass of a fleet host's agent does to the VMs, as they are in the store: it makes the
 * Pending ones placed here (image, kernel, disk, as local `create` does), starts those placed here
 * that should run and do not (made, or asked to start again), stops those asked to stop, and
 * removes its copies of VMs placed elsewhere or gone. Restarts by policy are the RestartManager's.
 * Each VM has at most one action in flight; a failed one is retried after a growing backoff.
 */
export class FleetVMs {
  private readonly busy = new Set<string>();
  private readonly backoff = new Map<string, { until: number; ms: number }>();
  private readonly work = new Set<Promise<void>>();
  /** Makes run one at a time: two VMs of one image import it once. */
  private making: Promise<void> = Promise.resolve();

  constructor(
    private readonly s: Services,
    private readonly o: FleetVMsOptions,
  ) {}

  /** Acts on `vms` (the store's list); returns once the removals are done, the rest runs on. */
  async pass(vms: readonly StoredVM[]): Promise<void> {
    await removeForeignCopies(this.s, vms, this.o.host);
    for (const vm of vms) {
      if (!placedOn(vm, this.o.host)) continue;
      const action = this.actionFor(vm);
      if (action !== undefined) this.run(vm, action);
    }
  }

  /** Resolves once every action in flight has ended. */
  async settled(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  private actionFor(vm: StoredVM): 'make' | 'start' | 'stop' | undefined {
    const st = vm.status;
    if (st.state === 'Pending') return 'make';
    const running = isVMRunning(this.s, vm);
    if (st.desiredState === 'Stopped' && running) return 'stop';
    if (st.desiredState !== 'Running' || running || st.state === 'Running') return undefined;
    // A crash is the restart policy's to act on; a VM made, stopped on request or fenced starts.
    const reason = st.lastExit?.reason;
    if (st.state === 'Created' || reason === undefined || reason !== 'Crashed') return 'start';
    return undefined;
  }

  private run(vm: StoredVM, action: 'make' | 'start' | 'stop'): void {
    const uid = vm.metadata.uid;
    const now = this.s.clock.now().getTime();
    if (this.busy.has(uid) || (this.backoff.get(uid)?.until ?? 0) > now) return;
    this.busy.add(uid);
    const p = this.act(vm, action)
      .then(() => {
        this.backoff.delete(uid);
      })
      .catch((err: unknown) => {
        const ms = Math.min(
          MAX_BACKOFF_MS,
          (this.backoff.get(uid)?.ms ?? FIRST_BACKOFF_MS / 2) * 2,
        );
        this.backoff.set(uid, { until: this.s.clock.now().getTime() + ms, ms });
        this.s.logger.warn(
          { err, vm: vm.metadata.name, uid, retryMs: ms },
          `vm "${vm.metadata.name}": ${action}: ${toAppError(err).message}`,
        );
      })
      .finally(() => {
        this.busy.delete(uid);
        this.work.delete(p);
      });
    this.work.add(p);
  }

  private async act(vm: StoredVM, action: 'make' | 'start' | 'stop'): Promise<void> {
    const uid = vm.metadata.uid;
    if (action === 'make') {
      const made = this.making.then(() => this.make(vm));
      this.making = made.catch(() => undefined);
      return made;
    }
    if (action === 'stop') {
      await stopVM(this.s, uid);
      return;
    }
    await startVM(this.s, uid, {
      by: 'resume',
      timeoutMs: this.o.startTimeoutMs,
      env: this.o.startEnv(),
    });
  }

  /**
   * Makes a VM placed here: its image and kernel in this host's data dir, its files, then Created.
   * A failure is written to `status.placement.message` (while the VM is still placed here).
   */
  private async make(vm: StoredVM): Promise<void> {
    const uid = vm.metadata.uid;
    const owner = ownerOf(vm, this.o.host);
    try {
      const vmm = await this.s.vmms.pick(vm.metadata.annotations?.[VMM_ANNOTATION]);
      const artifacts = await importVMArtifacts(this.s, vm, vmm);
      // A key file named on another host cannot be read here: the creator sends the key's text.
      const ssh = vm.spec.ssh;
      const keys = typeof ssh === 'string' && isSSHPublicKeyText(ssh) ? [ssh.trim()] : [];
      await this.s.runtimeFiles.makeVMDir(uid);
      await makeVMFiles(this.s, vm, { ...artifacts, vmm, authorizedKeys: keys });
      const made = await updateOwnedVM(this.s, uid, owner, (v) => {
        const placement = v.status.placement;
        v.status = {
          ...v.status,
          ...createdStatus(artifacts),
          ...(placement !== undefined ? { placement: { ...placement } } : {}),
        };
        if (v.status.placement) delete v.status.placement.message;
      });
      if (made === undefined) {
        await this.s.runtimeFiles.removeVMDir(uid);
        return;
      }
      this.s.logger.info(
        { vm: vm.metadata.name, uid },
        `vm "${vm.metadata.name}": made on ${this.o.host}`,
      );
    } catch (err) {
      const message = `${this.o.host}: ${toAppError(err).message}`;
      await updateOwnedVM(this.s, uid, owner, (v) => {
        const p = v.status.placement;
        if (p !== undefined) v.status.placement = { ...p, message };
      }).catch(() => undefined);
      throw err;
    }
  }
}
