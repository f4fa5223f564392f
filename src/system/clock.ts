/**
 * Time as the use cases see it. Everything that waits or stamps a time goes through one, so a test
 * can run a timeout of minutes in no time (test/fakes/fake-clock.ts).
 */
export interface Clock {
  now(): Date;
  /** Resolves after `ms`; a fake resolves once its time was advanced past it. */
  sleep(ms: number): Promise<void>;
}
