/**
 * Time as the use cases see it. Everything that waits or stamps a time goes through one, so a test
 * can run a timeout of minutes in no time (test/fakes/fake-clock.ts).
 */
export interface Clock {
  now(): Date;
  /**
   * Resolves after `ms`, or as soon as `signal` aborts (its timer then ends, so a stopped loop
   * keeps no process alive); a fake resolves once its time was advanced past it.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
