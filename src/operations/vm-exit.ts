import type { VMExit } from '../api/index.js';
import type { ExitInfo } from '../vmm/vmm-driver.js';

/**
 * Why the supervisor ended the hypervisor: asked to stop (SIGTERM) or kill (SIGQUIT), or its
 * fence deadline passed (a fleet host that could not renew its lease).
 */
export type AskedEnd = 'Stopped' | 'Killed' | 'Fenced';

/**
 * How a run ended, as `status.lastExit` records it: an end that was asked for is Stopped or
 * Killed however the process went; otherwise a clean exit is the guest powering off, and
 * anything else is a crash, with the hypervisor's exit code or signal.
 */
export function exitRecord(exit: ExitInfo, asked: AskedEnd | undefined, time: Date): VMExit {
  const base = { time: time.toISOString() };
  if (asked !== undefined) return { ...base, reason: asked };
  if (exit.code === 0 && exit.signal === null) return { ...base, reason: 'PoweredOff' };
  return {
    ...base,
    reason: 'Crashed',
    ...(exit.code !== null ? { exitCode: exit.code } : {}),
    ...(exit.signal !== null ? { signal: exit.signal } : {}),
  };
}
