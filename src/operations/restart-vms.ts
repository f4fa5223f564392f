import type { StoredVM } from '../api/index.js';
import { toAppError } from '../errors.js';
import type { Clock } from '../system/clock.js';
import { restartDecision, type RestartDecision, type RestartHistory } from './restart-policy.js';
import { startVM, type StartVMServices } from './start-vm.js';
import { vmLabel } from './vm-paths.js';
import { isVMRunning, refreshVMState } from './vm-state.js';

export type RestartServices = StartVMServices;

export interface RestartManagerOptions {
  /** How long a supervisor gets to report its VM running (startVM's timeout). */
  startTimeoutMs?: number;
  /** How many VMs `onStartup` starts at once. */
  startupConcurrency?: number;
  /** The VMs this manager keeps running (default: all); a fleet host's are those placed on it. */
  owns?: (vm: StoredVM) => boolean;
  /** Added to each supervisor's environment as it is started (a fleet host's fence deadline). */
  startEnv?: () => NodeJS.ProcessEnv;
}

/**
 * Keeps VMs running as they asked: at start-up it starts every VM that should run (after a host
 * reboot, or a crash of ignited), and on each change of a VM it restarts one that ended by its
 * restart policy, after the policy's backoff. It never starts a VM twice: a VM running is left
 * alone, and one VM has at most one start or one wait in flight at a time. The waits use the
 * given clock; ignited calls `onStartup` once and `onChange` from its watch of VMs.
 */
export class RestartManager {
  private readonly history = new Map<string, RestartHistory>();
  /** VMs waiting for their backoff to pass. */
  private readonly waiting = new Set<string>();
  /** VMs being started. */
  private readonly starting = new Set<string>();
  private readonly work = new Set<Promise<void>>();
  private closed = false;
  private wake: () => void = () => undefined;
  private readonly closing = new Promise<void>((resolve) => (this.wake = resolve));

  constructor(
    private readonly s: RestartServices,
    private readonly clock: Clock,
    private readonly options: RestartManagerOptions = {},
  ) {}

  /**
   * Starts every VM whose desired state is Running and which does not run, a few at a time;
   * returns the UIDs of those it started. A start that fails is logged and does not stop the others.
   */
  async onStartup(): Promise<string[]> {
    const queue = (await this.s.client.vms.list()).filter(
      (vm) => vm.status.desiredState === 'Running' && this.owns(vm),
    );
    const started: string[] = [];
    const next = async (): Promise<void> => {
      for (let vm = queue.shift(); vm !== undefined && !this.closed; vm = queue.shift()) {
        const uid = vm.metadata.uid;
        const ok = await this.start(uid, 'startup').catch((err: unknown) => {
          this.s.logger.error({ err, uid }, `${vmLabel(vm)}: ${toAppError(err).message}`);
          return false;
        });
        if (ok) started.push(uid);
      }
    };
    const lanes = Math.max(1, this.options.startupConcurrency ?? 4);
    await Promise.all(Array.from({ length: lanes }, next));
    return started.sort();
  }

  /**
   * Acts on a VM as it now is: schedules its restart when its policy asks for one, at once or
   * after the backoff. Returns at once; the restart runs on (see `settled`).
   */
  onChange(vm: StoredVM): void {
    const uid = vm.metadata.uid;
    if (this.closed || this.waiting.has(uid) || this.starting.has(uid) || !this.owns(vm)) return;
    const decision = restartDecision(vm, this.clock.now(), this.history.get(uid));
    if (decision.kind === 'none') return;
    this.waiting.add(uid);
    this.track(this.restartWhenDue(uid, decision));
  }

  private owns(vm: StoredVM): boolean {
    return this.options.owns?.(vm) ?? true;
  }

  /** Stops scheduling: waits end early and start nothing. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /** Resolves once every wait and start in flight has ended. */
  async settled(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  private track(p: Promise<void>): void {
    const done = p.catch((err: unknown) =>
      this.s.logger.error({ err }, `restart: ${toAppError(err).message}`),
    );
    this.work.add(done);
    void done.finally(() => this.work.delete(done));
  }

  /** Waits until the decision is due, then restarts the VM if, as it is by then, it is still due. */
  private async restartWhenDue(uid: string, decision: RestartDecision): Promise<void> {
    try {
      if (decision.kind === 'later') {
        const ms = decision.at.getTime() - this.clock.now().getTime();
        await Promise.race([this.clock.sleep(Math.max(0, ms)), this.closing]);
      }
    } finally {
      this.waiting.delete(uid);
    }
    if (!this.closed) await this.start(uid, 'policy');
  }

  /**
   * Starts a VM unless it runs or is being started: at start-up (not counted), or by its policy
   * (counted in restartCount), decided again on the VM as it is now, since a stop may have come
   * meanwhile. A failed restart is counted too and decided on again, so a VM that cannot start
   * is retried with a growing backoff.
   */
  private async start(uid: string, why: 'startup' | 'policy'): Promise<boolean> {
    if (this.starting.has(uid)) return false;
    this.starting.add(uid);
    let again: StoredVM | undefined;
    try {
      const found = await this.s.client.vms.tryFind(uid);
      if (found === undefined || !this.owns(found)) {
        this.history.delete(uid);
        return false;
      }
      const vm = await refreshVMState(this.s, found);
      if (isVMRunning(this.s, vm)) return false;
      const label = vmLabel(vm);
      if (why === 'policy') {
        const decision = restartDecision(vm, this.clock.now(), this.history.get(uid));
        if (decision.kind !== 'now') {
          if (decision.kind === 'later') again = vm;
          return false;
        }
        this.history.set(uid, { streak: decision.streak, lastAttempt: this.clock.now() });
        const count = (vm.status.restartCount ?? 0) + 1;
        const reason = vm.status.lastExit?.reason ?? 'ended';
        this.s.logger.info(
          { vm: vm.metadata.name, uid },
          `${label}: restarting (${reason}, restart ${count})`,
        );
      } else {
        this.s.logger.info({ vm: vm.metadata.name, uid }, `${label}: starting, as it should run`);
      }
      try {
        await startVM(this.s, uid, {
          by: why === 'policy' ? 'policy' : 'resume',
          ...(this.options.startEnv !== undefined ? { env: this.options.startEnv() } : {}),
          ...(this.options.startTimeoutMs !== undefined
            ? { timeoutMs: this.options.startTimeoutMs }
            : {}),
        });
        return true;
      } catch (err) {
        this.s.logger.warn({ err, vm: vm.metadata.name, uid }, toAppError(err).message);
        if (why === 'policy') again = await this.countFailedRestart(uid);
        return false;
      }
    } finally {
      this.starting.delete(uid);
      if (again !== undefined) this.onChange(again);
    }
  }

  /** A restart that did not get the VM running still counts, as Docker counts it. */
  private async countFailedRestart(uid: string): Promise<StoredVM | undefined> {
    return this.s.client.vms
      .update(uid, (v) => {
        v.status = { ...v.status, restartCount: (v.status.restartCount ?? 0) + 1 };
      })
      .catch(() => undefined);
  }
}
