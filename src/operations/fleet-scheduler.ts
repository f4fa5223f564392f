import type { Client } from '../storage/client.js';
import type { Fleet } from '../storage/fleet.js';
import type { Clock } from '../system/clock.js';
import type { Logger } from '../system/logger.js';

export interface SchedulerDeps {
  client: Client;
  fleet: Fleet;
  clock: Clock;
  logger: Logger;
  hostName: string;
}

export interface SchedulerOptions {
  /** How long after a host's lease vanished its replaceable VMs are moved. */
  graceMs: number;
}

/**
 * The elected scheduler's loop, run while this host leads and aborted when it no longer does.
 * Placement is built separately; until it is, this only waits for `signal`.
 */
export async function runScheduler(
  deps: SchedulerDeps,
  signal: AbortSignal,
  options: SchedulerOptions,
): Promise<void> {
  deps.logger.info({ graceMs: options.graceMs }, 'scheduler: elected');
  if (signal.aborted) return;
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
}
