import { AppError } from '../errors.js';
import { restartPolicyOf, type RestartPolicy, type VM } from '../api/index.js';

/** The first wait before a restart; each quick restart in a row doubles it. */
export const BACKOFF_INITIAL_MS = 100;
/** The longest wait before a restart. */
export const BACKOFF_MAX_MS = 60_000;
/** A run at least this long ends a row of quick restarts: the next waits BACKOFF_INITIAL_MS again. */
export const STEADY_RUN_MS = 10_000;

/**
 * What the restart manager remembers of a VM between decisions (in memory, as Docker's does: a
 * restarted daemon starts the backoff over).
 */
export interface RestartHistory {
  /** Restarts in a row whose run was shorter than STEADY_RUN_MS, or which failed to start. */
  streak: number;
  /** When the last restart was attempted; later than the last exit means that attempt failed. */
  lastAttempt?: Date;
}

/**
 * No restart (and why), a restart now, or one at `at`. `streak` is the history to keep once the
 * restart is attempted.
 */
export type RestartDecision =
  | { kind: 'none'; why: string }
  | { kind: 'now'; streak: number }
  | { kind: 'later'; at: Date; streak: number };

/** The wait before the restart that follows `streak` quick ones: 100 ms doubling, capped at 1 min. */
export function backoffMs(streak: number): number {
  return Math.min(BACKOFF_INITIAL_MS * 2 ** Math.min(streak, 20), BACKOFF_MAX_MS);
}

/**
 * Whether and when a stopped VM is restarted by its policy, with Docker's meanings: `always`
 * restarts a VM however it ended, except when a stop or kill asked for it; `on-failure` only a
 * VM that crashed, at most N times for `on-failure:N`; `no` never. A VM that should not run
 * (stopped or killed by hand since) or never ran is left alone.
 */
export function restartDecision(
  vm: VM,
  now: Date,
  history: RestartHistory = { streak: 0 },
): RestartDecision {
  const status = vm.status;
  const exit = status?.lastExit;
  if (status?.state === 'Running') return { kind: 'none', why: 'running' };
  if (status?.desiredState === 'Stopped') return { kind: 'none', why: 'asked to stay stopped' };
  if (exit === undefined) return { kind: 'none', why: 'never ended' };
  if (exit.reason === 'Stopped' || exit.reason === 'Killed')
    return { kind: 'none', why: `${exit.reason.toLowerCase()} on request` };
  let policy: RestartPolicy;
  try {
    policy = restartPolicyOf(vm);
  } catch (err) {
    return { kind: 'none', why: AppError.is(err) ? err.message : String(err) };
  }
  if (policy.name === 'no') return { kind: 'none', why: 'restart policy no' };
  if (policy.name === 'on-failure') {
    if (exit.reason !== 'Crashed') return { kind: 'none', why: 'did not crash' };
    const count = status?.restartCount ?? 0;
    if (policy.maxRetries !== undefined && count >= policy.maxRetries)
      return { kind: 'none', why: `gave up after ${count} restarts` };
  }

  const exitMs = Date.parse(exit.time);
  const attemptMs = history.lastAttempt?.getTime();
  let from: number;
  let streak: number;
  if (attemptMs !== undefined && attemptMs > exitMs) {
    // The last attempt did not get the VM running: it counts as a quick restart.
    from = attemptMs;
    streak = history.streak;
  } else {
    const started = status?.startTime === undefined ? NaN : Date.parse(status.startTime);
    const ran = exitMs - started;
    from = exitMs;
    streak = ran >= STEADY_RUN_MS ? 0 : history.streak;
  }
  const at = from + backoffMs(streak);
  return at <= now.getTime()
    ? { kind: 'now', streak: streak + 1 }
    : { kind: 'later', at: new Date(at), streak: streak + 1 };
}
