import { AppError, toAppError } from '../errors.js';
import type { GitopsMetrics } from '../metrics/index.js';
import {
  reconcileVMs,
  type ReconcileDecision,
  type ReconcileServices,
} from '../operations/reconcile-vms.js';
import type { ManifestTrust } from '../operations/manifest-trust.js';
import type { Services } from '../operations/services.js';
import { GitSource } from './git-source.js';
import { readDesiredState } from '../operations/manifest-files.js';

export interface GitopsOptions {
  url: string;
  branch: string;
  path: string;
  intervalMs: number;
  /** Reconcile the branch's head once and return (for scripts and benchmarks). */
  once: boolean;
  signal: AbortSignal;
  metrics?: GitopsMetrics;
  startTimeoutMs?: number;
  /** What the repository's manifests may ask of the host (host files, host ports). */
  trust: ManifestTrust;
}

/** The reconcile's services, and where the git cache and the environment come from. */
export type GitopsServices = ReconcileServices & Pick<Services, 'layout' | 'config'>;

/** Longest wait between attempts to reach an unreachable remote. */
const MAX_BACKOFF_MS = 5 * 60_000;

/** What one pass did, for `--once` and for tests. */
export interface PassResult {
  commit: string;
  decisions: ReconcileDecision[];
  invalidFiles: string[];
}

/**
 * The gitops loop: fetch the branch every interval and, on a new commit (or after a pass that
 * failed), make the host's VMs match its manifests. An unreachable remote keeps the current state
 * and is retried with exponential backoff. Aborting the signal (SIGTERM) ends the loop after the
 * VM being worked on; VMs are left as they are.
 */
export async function runGitops(
  deps: GitopsServices,
  o: GitopsOptions,
): Promise<PassResult | undefined> {
  const git = new GitSource({
    url: o.url,
    branch: o.branch,
    path: o.path,
    cacheDir: deps.layout.gitopsDir,
    env: deps.config.env,
  });
  const log = deps.logger.child({ repo: o.url, branch: o.branch });
  log.info(`gitops: watching ${o.url} (branch ${o.branch}${o.path ? `, path ${o.path}` : ''})`);
  let reconciled: string | undefined;
  let retry = false;
  let failures = 0;
  let last: PassResult | undefined;
  while (!o.signal.aborted) {
    let commit: string;
    try {
      commit = await git.sync();
      failures = 0;
    } catch (err) {
      const e = toAppError(err);
      o.metrics?.failed(e.code);
      if (o.once) throw e;
      failures++;
      const wait = Math.min(1000 * 2 ** (failures - 1), Math.max(o.intervalMs, MAX_BACKOFF_MS));
      log.warn(
        { code: e.code, retryInMs: wait },
        `${e.message}; keeping the current state, retrying in ${Math.ceil(wait / 1000)} s`,
      );
      await sleep(wait, o.signal);
      continue;
    }
    if (commit !== reconciled || retry) {
      last = await pass(deps, git, commit, o, log);
      if (o.signal.aborted) break;
      retry = last.decisions.some((d) => d.action === 'failed');
      reconciled = commit;
      if (retry) o.metrics?.failed(last.decisions.find((d) => d.error)?.error ?? 'Internal');
      else o.metrics?.reconciled();
    }
    if (o.once) break;
    await sleep(o.intervalMs, o.signal);
  }
  log.info(o.signal.aborted ? 'gitops: stopped; VMs are left as they are' : 'gitops: done');
  return last;
}

/**
 * With --once: an error for a non-zero exit, listing what failed (or, when every action
 * succeeded, the invalid manifests); undefined when all went well.
 */
export function passFailure(result: PassResult): AppError | undefined {
  const failed = result.decisions.filter((d) => d.action === 'failed');
  const refused = result.decisions.filter((d) => d.action === 'refused');
  if (failed.length === 0 && refused.length > 0)
    return new AppError(
      'PermissionDenied',
      `gitops: ${refused.length} manifest(s) refused: ${refused.map((d) => d.detail ?? '').join('; ')}`,
    );
  if (failed.length > 0) {
    const list = failed.map((d) => `${d.kind ?? 'vm'} "${d.vm}": ${d.detail ?? ''}`).join('; ');
    return new AppError(
      failed[0]?.error ?? 'Internal',
      `gitops: ${failed.length} of the reconcile's actions failed: ${list}`,
    );
  }
  if (result.invalidFiles.length > 0)
    return new AppError(
      'InvalidArgument',
      `gitops: invalid manifests left their VMs as they were: ${result.invalidFiles.join(', ')}`,
    );
  return undefined;
}

async function pass(
  deps: ReconcileServices,
  git: GitSource,
  commit: string,
  o: GitopsOptions,
  log: ReconcileServices['logger'],
): Promise<PassResult> {
  log.info({ commit }, `gitops: reconciling commit ${commit.slice(0, 12)}`);
  const { files, unreadable } = await git.manifests(commit);
  const { desired, invalid } = readDesiredState(files, unreadable);
  for (const bad of invalid) {
    o.metrics?.invalidManifest(bad.file);
    log.error({ file: bad.file, problems: bad.problems, commit }, bad.message);
  }
  const decisions = await reconcileVMs(deps, o.url, desired, {
    trust: o.trust,
    signal: o.signal,
    ...(o.startTimeoutMs !== undefined ? { startTimeoutMs: o.startTimeoutMs } : {}),
  });
  const counts = new Map<string, number>();
  for (const d of decisions) counts.set(d.action, (counts.get(d.action) ?? 0) + 1);
  log.info(
    { commit, ...Object.fromEntries(counts), invalid: invalid.length },
    `gitops: commit ${commit.slice(0, 12)} reconciled: ${desired.vms.length} VMs desired, ${decisions.length} changes, ${invalid.length} invalid manifests`,
  );
  const refused = decisions.flatMap((d) => (d.action === 'refused' && d.file ? [d.file] : []));
  for (const file of refused) o.metrics?.invalidManifest(file);
  return { commit, decisions, invalidFiles: [...new Set([...desired.invalidFiles, ...refused])] };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
