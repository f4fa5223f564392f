import { toAppError } from '../errors.js';
import { RestartManager, type RestartManagerOptions } from './restart-vms.js';
import type { Services } from './services.js';
import { refreshVMState } from './vm-state.js';

/** How often the daemon looks for VMs whose supervisor or hypervisor ended. */
export const LIVENESS_INTERVAL_MS = 1_000;

/**
 * The daemon's restart loop: first the VMs that should run and do not (after a host reboot, or
 * a crash of the daemon), then, every second, each VM as it now is, so that one whose hypervisor
 * died (recorded by its supervisor) or whose supervisor vanished (found here) is restarted by its
 * policy. Resolves when `signal` aborts and the restarts in flight are done.
 */
export async function keepVMsRunning(
  s: Services,
  signal: AbortSignal,
  o: Pick<RestartManagerOptions, 'owns' | 'startEnv'> & { startTimeoutMs: number },
): Promise<void> {
  const owns = o.owns ?? (() => true);
  const manager = new RestartManager(s, s.clock, { ...o, owns });
  signal.addEventListener('abort', () => manager.close(), { once: true });
  const started = await manager.onStartup();
  if (started.length > 0)
    s.logger.info({ vms: started }, `ignited: started ${started.length} VMs that should run`);
  while (!signal.aborted) {
    try {
      for (const vm of await s.client.vms.list()) {
        if (signal.aborted) break;
        if (!owns(vm)) continue;
        manager.onChange(vm.status.state === 'Running' ? await refreshVMState(s, vm) : vm);
      }
    } catch (err) {
      s.logger.warn({ err }, `ignited: checking VMs: ${toAppError(err).message}`);
    }
    await s.clock.sleep(LIVENESS_INTERVAL_MS, signal);
  }
  await manager.settled();
}
