import type { Clock } from './clock.js';

/** The host's wall clock and timers. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
