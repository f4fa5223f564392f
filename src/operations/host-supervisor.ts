import { failedPrecondition, notFound, toAppError, unavailable } from '../errors.js';
import { reviveIfFit } from '../storage/decoded-form.js';
import type { KnownObject } from '../storage/storage.js';
import type { LogLevel } from '../system/logger.js';
import { QueuedSignals } from '../system/queued-signals.js';
import type { Services } from './services.js';
import { superviseVM, type SuperviseServices } from './supervise-vm.js';
import {
  isSupervised,
  parseHostSupervisorRequest,
  type HostSupervisorRequest,
  type PingAnswer,
} from './supervision.js';

/** How long a new run of a VM waits for its last run's cleanup to finish. */
const ENDING_WAIT_MS = 10_000;

/** A wait that does not keep the process alive by itself. */
function unrefSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** What one VM's supervision runs with: its own log, signals and environment. */
export interface SupervisedServices {
  services: SuperviseServices;
  /** Closes what was opened for this VM alone (its log). */
  close(): Promise<void>;
}

/** Builds the services of one VM's supervision (the composition root's part). */
export type ServicesForVM = (
  uid: string,
  o: { signals: QueuedSignals; env: Record<string, string>; logLevel?: LogLevel },
) => SupervisedServices;

export type HostSupervisorHostServices = Pick<
  Services,
  'logger' | 'host' | 'processes' | 'runtimeFiles' | 'client'
>;

/**
 * The host supervisor: supervises each VM it is asked to (superviseVM, as a process of its own
 * would), marking the VM as supervised by its PID until it is done with it. One VM's failure is
 * that VM's: it is logged in the VM's spawn.log and answered to its starter. With no VM left, it
 * reports idle after `idleMs`, once, and takes no new VM after that.
 */
/** A VM this process supervises: its signal hook, and the end of its run, cleanup and all. */
interface Supervision {
  signals: QueuedSignals;
  ended: Promise<void>;
}

export class HostSupervisor {
  private readonly vms = new Map<string, Supervision>();
  private idleTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private ending = false;
  readonly idle: Promise<void>;
  private reportIdle = (): void => undefined;

  constructor(
    private readonly s: HostSupervisorHostServices,
    private readonly servicesFor: ServicesForVM,
    private readonly idleMs: number,
    /** Told of each VM recorded running, after its starter was answered. */
    private readonly onRunning: (uid: string) => void = () => undefined,
  ) {
    this.idle = new Promise((resolve) => (this.reportIdle = resolve));
    this.armIdle();
  }

  /** The VMs it supervises now. */
  get supervising(): string[] {
    return [...this.vms.keys()];
  }

  /** Whether it was ever asked anything (a starter pings it first). */
  get asked(): boolean {
    return this.requested;
  }
  private requested = false;

  readonly handle = async (raw: unknown): Promise<unknown> => {
    this.requested = true;
    const request = parseHostSupervisorRequest(raw);
    switch (request.op) {
      case 'ping':
        return {
          pid: this.s.host.pid,
          ...(this.closing || this.ending ? { ending: true } : {}),
        } satisfies PingAnswer;
      case 'signal': {
        const signals = this.vms.get(request.uid)?.signals;
        if (signals === undefined)
          throw notFound(`vm "${request.uid}": not supervised by process ${this.s.host.pid}`);
        signals.emit(request.signal);
        return {};
      }
      case 'supervise':
        return this.supervise(request);
    }
  };

  private async supervise(
    r: Extract<HostSupervisorRequest, { op: 'supervise' }>,
  ): Promise<PingAnswer> {
    if (this.closing || this.ending)
      throw unavailable(`supervisor ${this.s.host.pid}: shutting down`);
    const uid = r.uid;
    // A run that has recorded its end may still be cleaning up (a restart comes that soon).
    const ending = this.vms.get(uid)?.ended;
    if (ending !== undefined && (await this.s.client.vms.get(uid)).status.state !== 'Running')
      await Promise.race([ending, unrefSleep(ENDING_WAIT_MS)]);
    const other = this.s.runtimeFiles.supervisedBy(uid);
    if (this.vms.has(uid) || (other !== this.s.host.pid && isSupervised(this.s, uid, other)))
      throw failedPrecondition(`vm "${uid}": already supervised`);
    const signals = new QueuedSignals();
    let ended = (): void => undefined;
    this.vms.set(uid, { signals, ended: new Promise<void>((resolve) => (ended = resolve)) });
    this.disarmIdle();
    let own: SupervisedServices | undefined;
    try {
      own = this.servicesFor(uid, {
        signals,
        env: r.env,
        ...(r.logLevel !== undefined ? { logLevel: r.logLevel } : {}),
      });
      await this.s.runtimeFiles.markSupervised(uid, this.s.host.pid);
    } catch (err) {
      await own?.close().catch(() => undefined);
      this.release(uid);
      ended();
      throw err;
    }
    const vm = own;
    return new Promise<PingAnswer>((resolve, reject) => {
      let running = false;
      const log = vm.services.logger;
      const known = knownVM(r.known);
      void superviseVM(vm.services, uid, {
        ...(r.stopTimeoutMs !== undefined ? { stopTimeoutMs: r.stopTimeoutMs } : {}),
        ...(known !== undefined ? { known } : {}),
        policyRestart: r.policyRestart === true,
        onRunning: () => {
          running = true;
          resolve({ pid: this.s.host.pid });
          this.onRunning(uid);
        },
      })
        .then(
          () => {
            if (!running)
              reject(
                failedPrecondition(`vm "${uid}": its run ended before it was recorded running`),
              );
          },
          (err: unknown) => {
            const e = toAppError(err);
            log.error({ err, code: e.code, uid }, e.message);
            if (!running) reject(e);
          },
        )
        .finally(async () => {
          await this.s.runtimeFiles.unmarkSupervised(uid, this.s.host.pid).catch(() => undefined);
          await vm.close().catch(() => undefined);
          this.release(uid);
          ended();
        });
    });
  }

  /**
   * Delivers `signal` to every VM's run (SIGTERM to the supervisor itself: a stop of each), and
   * ends as soon as none is left, taking no new VM meanwhile.
   */
  signalAll(signal: 'SIGTERM' | 'SIGQUIT'): void {
    this.ending = true;
    for (const { signals } of this.vms.values()) signals.emit(signal);
    this.armIdle();
  }

  private release(uid: string): void {
    this.vms.delete(uid);
    this.armIdle();
  }

  private armIdle(): void {
    if (this.vms.size > 0 || this.closing) return;
    this.disarmIdle();
    this.idleTimer = setTimeout(
      () => {
        if (this.vms.size > 0) return;
        this.closing = true;
        this.s.logger.info(`supervisor ${this.s.host.pid}: no VM to supervise; ending`);
        this.reportIdle();
      },
      this.ending ? 0 : this.idleMs,
    );
    // The server keeps the process; a timer alone must not.
    this.idleTimer.unref();
  }

  private disarmIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Stops the idle timer (the process ends for another reason). */
  close(): void {
    this.closing = true;
    this.disarmIdle();
  }
}

/** The VM a starter sent as it read it; a form that does not revive is read from the store. */
function knownVM(
  known: Extract<HostSupervisorRequest, { op: 'supervise' }>['known'],
): KnownObject<'VM'> | undefined {
  if (known === undefined) return undefined;
  const obj = reviveIfFit(known.form);
  return obj?.kind === 'VM' ? { checksum: known.checksum, obj } : undefined;
}
