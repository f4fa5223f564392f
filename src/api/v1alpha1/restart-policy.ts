import { invalidArgument } from '../../errors.js';

/**
 * The annotation holding a VM's restart policy, as `--restart` on create and run sets it:
 * `no` (the default), `on-failure`, `on-failure:N` or `always`, with Docker's meanings.
 */
export const RESTART_POLICY_ANNOTATION = 'ignite.weave.works/restart-policy';

/**
 * A parsed restart policy. `on-failure` restarts only a VM that crashed, at most `maxRetries`
 * times (since a user last started it) when given; `always` restarts it however it ended, unless
 * a stop or kill asked for that.
 */
export type RestartPolicy =
  { name: 'no' } | { name: 'on-failure'; maxRetries?: number } | { name: 'always' };

const NO: RestartPolicy = { name: 'no' };

/**
 * Parses a restart policy as written in the annotation or `--restart`; absent is `no`.
 * `source` names where it came from in the error (default: the annotation).
 *
 * @example parseRestartPolicy('on-failure:3') // { name: 'on-failure', maxRetries: 3 }
 */
export function parseRestartPolicy(
  text: string | undefined,
  source = `annotation ${RESTART_POLICY_ANNOTATION}`,
): RestartPolicy {
  if (text === undefined || text === 'no') return NO;
  if (text === 'always') return { name: 'always' };
  if (text === 'on-failure') return { name: 'on-failure' };
  const m = /^on-failure:(\d{1,6})$/.exec(text);
  if (m?.[1] !== undefined) return { name: 'on-failure', maxRetries: Number(m[1]) };
  throw invalidArgument(
    `${source}: "${text}" is not a restart policy; expected no, on-failure, on-failure:N or always`,
  );
}

/** Writes a policy as the annotation holds it (the inverse of parseRestartPolicy). */
export function formatRestartPolicy(policy: RestartPolicy): string {
  if (policy.name === 'on-failure' && policy.maxRetries !== undefined)
    return `on-failure:${policy.maxRetries}`;
  return policy.name;
}

/** The restart policy of a VM, read from its annotation. */
export function restartPolicyOf(vm: {
  metadata: { annotations?: Record<string, string> | undefined };
}): RestartPolicy {
  return parseRestartPolicy(vm.metadata.annotations?.[RESTART_POLICY_ANNOTATION]);
}
