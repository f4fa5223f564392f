import type { Clock } from '../../src/system/clock.js';

/**
 * A clock that moves only when told. With `autoAdvance`, each sleep moves it forward by what was
 * asked and resolves on the next turn of the event loop, so a use case's timeout of minutes
 * passes in no time while what runs beside it (a fake supervisor, a timer) still gets its turns;
 * otherwise sleeps wait until `advance` moves the time past them.
 */
export class FakeClock implements Clock {
  private ms: number;
  private readonly sleepers: { until: number; wake: () => void }[] = [];
  /** Every sleep asked for, in order. */
  readonly sleeps: number[] = [];

  constructor(
    start: Date | string = '2024-01-01T00:00:00Z',
    private readonly options: { autoAdvance?: boolean } = {},
  ) {
    this.ms = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.ms);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.resolve();
    if (this.options.autoAdvance) {
      this.advance(ms);
      return new Promise((wake) => setImmediate(wake));
    }
    return new Promise((wake) => {
      const sleeper = { until: this.ms + ms, wake };
      this.sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.sleepers.indexOf(sleeper);
          if (i >= 0) this.sleepers.splice(i, 1);
          wake();
        },
        { once: true },
      );
    });
  }

  /** Moves the time forward, waking the sleeps that end by then. */
  advance(ms: number): void {
    this.ms += ms;
    for (let i = this.sleepers.length - 1; i >= 0; i--) {
      const s = this.sleepers[i];
      if (s !== undefined && s.until <= this.ms) {
        this.sleepers.splice(i, 1);
        s.wake();
      }
    }
  }

  /** How many sleeps are waiting. */
  get waiting(): number {
    return this.sleepers.length;
  }
}
