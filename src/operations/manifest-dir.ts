import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { invalidArgument, toAppError } from '../errors.js';
import type { DirectoryWatch } from '../system/host-dirs.js';
import {
  isManifestPath,
  MAX_MANIFEST_BYTES,
  readDesiredState,
  type InvalidManifest,
} from './manifest-files.js';
import type { ManifestTrust } from './manifest-trust.js';
import {
  reconcileVMs,
  type DesiredState,
  type ReconcileDecision,
  type ReconcileServices,
} from './reconcile-vms.js';
import type { Services } from './services.js';

/** The managed-by annotation of the VMs a manifest directory made. */
export const MANIFEST_DIR_MANAGER = 'manifest-dir';

/** How often the directory is read again when no event came: a missed event costs this much. */
export const DEFAULT_RESCAN_MS = 5_000;
/** How long the directory must stay quiet after an event before it is read. */
export const DEFAULT_DEBOUNCE_MS = 300;
/** However busy the directory, it is read this long after the first event at the latest. */
const MAX_DEBOUNCE_MS = 2_000;
/** Longest wait before a pass whose actions failed is tried again (unless the files change). */
const MAX_RETRY_MS = 5 * 60_000;

export type ManifestDirServices = ReconcileServices &
  Pick<Services, 'hostDirs' | 'hostFiles' | 'clock'>;

export interface ManifestDirOptions {
  /** The directory, as the operator named it (absolute). */
  dir: string;
  /** Aborting ends the loop after the VM being worked on; VMs are left as they are. */
  signal: AbortSignal;
  /** What the directory's manifests may ask of the host (host files, host ports). */
  trust: ManifestTrust;
  /** How often the directory is read without an event (default DEFAULT_RESCAN_MS). */
  intervalMs?: number;
  debounceMs?: number;
  startTimeoutMs?: number;
  /** Told after each pass, for the daemon's status and for tests. */
  onPass?: (pass: ManifestDirPass) => void;
}

/** What one pass over the directory did. */
export interface ManifestDirPass {
  dir: string;
  decisions: ReconcileDecision[];
  invalidFiles: string[];
}

/** The directory's manifests as read at one moment, with a fingerprint of their contents. */
export interface ManifestDirState {
  desired: DesiredState;
  invalid: InvalidManifest[];
  fingerprint: string;
}

/**
 * The directory with symlinks resolved: the VMs it makes name it as their source, so the same
 * directory reached by another path is still the same source.
 */
export async function resolveManifestDir(
  s: Pick<Services, 'hostFiles'>,
  dir: string,
): Promise<string> {
  if (!isAbsolute(dir)) throw invalidArgument(`--manifest-dir "${dir}": use an absolute path`);
  const real = await s.hostFiles.realpath(dir);
  if (real === undefined || !(await s.hostFiles.isDirectory(real)))
    throw invalidArgument(`--manifest-dir "${dir}": not a directory on the host`);
  return real;
}

/**
 * Reads every manifest (`*.yaml`, `*.yml`, `*.json`) under `dir` as gitops reads a commit: an
 * invalid, unreadable or oversized file is invalid, and keeps its VMs as they are. A directory
 * that cannot be read throws, so it never looks empty.
 */
export async function readManifestDir(
  s: Pick<Services, 'hostDirs'>,
  dir: string,
): Promise<ManifestDirState> {
  const listing = await s.hostDirs.readFiles(dir, {
    match: isManifestPath,
    maxBytes: MAX_MANIFEST_BYTES,
  });
  const fingerprint = createHash('sha256').update(JSON.stringify(listing)).digest('hex');
  return { ...readDesiredState(listing.files, listing.unreadable), fingerprint };
}

/** One pass: makes the VMs from `dir` (resolved) match `state`, and logs what it did. */
export async function reconcileManifestDir(
  s: ReconcileServices,
  dir: string,
  state: ManifestDirState,
  o: Pick<ManifestDirOptions, 'trust' | 'startTimeoutMs'> & { signal?: AbortSignal },
): Promise<ManifestDirPass> {
  const log = s.logger.child({ manifestDir: dir });
  const { desired, invalid } = state;
  log.info(`manifest-dir: reconciling ${dir}`);
  for (const bad of invalid) log.error({ file: bad.file, problems: bad.problems }, bad.message);
  const decisions = await reconcileVMs(s, dir, desired, {
    trust: o.trust,
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
    managedBy: MANIFEST_DIR_MANAGER,
    ...(o.startTimeoutMs !== undefined ? { startTimeoutMs: o.startTimeoutMs } : {}),
  });
  const counts = new Map<string, number>();
  for (const d of decisions) counts.set(d.action, (counts.get(d.action) ?? 0) + 1);
  log.info(
    { ...Object.fromEntries(counts), invalid: invalid.length },
    `manifest-dir: ${dir} reconciled: ${desired.vms.length} VMs desired, ${decisions.length} changes, ${invalid.length} invalid manifests`,
  );
  const refused = decisions.flatMap((d) => (d.action === 'refused' && d.file ? [d.file] : []));
  return { dir, decisions, invalidFiles: [...new Set([...desired.invalidFiles, ...refused])] };
}

/**
 * The manifest-directory loop (`ignited daemon --manifest-dir`): makes the host's VMs match the
 * manifests under `dir`, with the reconciler and rules of gitops. The directory is watched, and
 * read again every interval in case an event was missed; after an event it is read once it has
 * been quiet for a moment, so a file being written is read whole. A pass runs when the files
 * changed, or to retry actions that failed, with backoff. A directory that cannot be read keeps
 * every VM as it is. Resolves once `signal` aborts.
 */
export async function runManifestDir(s: ManifestDirServices, o: ManifestDirOptions): Promise<void> {
  const dir = await resolveManifestDir(s, o.dir);
  const log = s.logger.child({ manifestDir: dir });
  const interval = o.intervalMs ?? DEFAULT_RESCAN_MS;
  const debounce = o.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const events = new ChangeEvents(s, o.signal);
  let watcher: DirectoryWatch | undefined;
  let reconciled: string | undefined;
  let failures = 0;
  let retryAt = 0;
  let unreadable: string | undefined;
  log.info(`manifest-dir: watching ${dir} (read again every ${Math.ceil(interval / 1000)} s)`);
  try {
    while (!o.signal.aborted) {
      watcher ??= s.hostDirs.watch(dir, events.notify, (err) => {
        log.warn({ err: err.message }, `manifest-dir: ${dir}: watch ended; set up again`);
        watcher = undefined;
      });
      try {
        const state = await readManifestDir(s, dir);
        if (unreadable !== undefined) log.info(`manifest-dir: ${dir} is readable again`);
        unreadable = undefined;
        const now = s.clock.now().getTime();
        if (state.fingerprint !== reconciled || (failures > 0 && now >= retryAt)) {
          const pass = await reconcileManifestDir(s, dir, state, o);
          if (o.signal.aborted) break;
          reconciled = state.fingerprint;
          failures = pass.decisions.some((d) => d.action === 'failed') ? failures + 1 : 0;
          retryAt = now + Math.min(interval * 2 ** Math.max(failures - 1, 0), MAX_RETRY_MS);
          o.onPass?.(pass);
        }
      } catch (err) {
        const e = toAppError(err);
        if (e.message !== unreadable)
          log.warn({ code: e.code }, `${e.message}; keeping the current state, reading again`);
        unreadable = e.message;
      }
      if ((await events.next(interval)) !== 'event') continue;
      const until = s.clock.now().getTime() + MAX_DEBOUNCE_MS;
      let quiet = false;
      while (!quiet && s.clock.now().getTime() < until)
        quiet = (await events.next(debounce)) === 'timeout';
    }
  } finally {
    watcher?.close();
  }
  log.info('manifest-dir: stopped; VMs are left as they are');
}

/** The watch's events, waited for with a timeout; an event that came between waits is kept. */
class ChangeEvents {
  private pending = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly s: Pick<Services, 'clock'>,
    private readonly signal: AbortSignal,
  ) {}

  readonly notify = (): void => {
    this.pending = true;
    this.wake?.();
  };

  /** 'event' when the directory changed within `ms`, else 'timeout' (also when aborted). */
  async next(ms: number): Promise<'event' | 'timeout'> {
    if (this.signal.aborted) return 'timeout';
    if (!this.pending) {
      const timer = new AbortController();
      const stop = (): void => timer.abort();
      this.signal.addEventListener('abort', stop, { once: true });
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        void this.s.clock.sleep(ms, timer.signal).then(resolve);
      });
      this.wake = undefined;
      timer.abort();
      this.signal.removeEventListener('abort', stop);
    }
    const event = this.pending;
    this.pending = false;
    return event && !this.signal.aborted ? 'event' : 'timeout';
  }
}
