import type { Clock } from '../system/clock.js';

/**
 * A supervisor's fence: a deadline that only moves forward, and `onExpire` called once when it
 * passes without a later one. The agent pushes a new deadline after each renewal of its host's
 * lease; when the agent is frozen or cut off from etcd, the deadline passes and the supervisor
 * kills its hypervisor on its own, before the lease can lapse and the VM be placed elsewhere.
 */
export class FenceTimer {
  private deadline: number | undefined;
  private wake = new AbortController();
  private done = false;

  constructor(
    private readonly clock: Clock,
    private readonly onExpire: (deadline: Date) => void,
  ) {}

  /** The deadline in force, if any. */
  get current(): Date | undefined {
    return this.deadline === undefined ? undefined : new Date(this.deadline);
  }

  /** Moves the deadline to `deadline` when later than the one in force (or arms the fence). */
  extend(deadline: Date): void {
    const t = deadline.getTime();
    if (this.done || Number.isNaN(t) || (this.deadline !== undefined && t <= this.deadline)) return;
    const first = this.deadline === undefined;
    this.deadline = t;
    if (first) void this.run();
    else {
      this.wake.abort();
      this.wake = new AbortController();
    }
  }

  /** Disarms the fence: the run ended. */
  close(): void {
    this.done = true;
    this.wake.abort();
  }

  private async run(): Promise<void> {
    while (!this.done && this.deadline !== undefined) {
      const left = this.deadline - this.clock.now().getTime();
      if (left <= 0) {
        this.done = true;
        this.onExpire(new Date(this.deadline));
        return;
      }
      await this.clock.sleep(left, this.wake.signal);
    }
  }
}
