import { isUID, type StoredVM } from '../api/index.js';
import { AppError, failedPrecondition, invalidArgument, toAppError } from '../errors.js';
import type { VMFiles } from '../storage/layout.js';
import type { RunningVM } from '../vmm/vmm-driver.js';
import type { Services } from './services.js';

/**
 * What `ignite` asks a running VM's supervisor, which owns the hypervisor, over the VM's
 * `supervisor.sock`:
 * - `save` (`stop --save`): save the state into the VM's directory, then end the run; the next
 *   start resumes from it;
 * - `snapshot` (`snapshot create`): pause, freeze the disk as the snapshot's, save the state into
 *   the snapshot's directory, then resume (or, with `stop`, keep the state for the next start and
 *   end the run);
 * - `fence` (a fleet host's agent, after each renewal of its lease): kill the hypervisor at once
 *   if `deadline` (RFC 3339) passes before a later one comes.
 */
export type SupervisorRequest =
  | { op: 'save' }
  | { op: 'snapshot'; snapshot: string; stop: boolean }
  | { op: 'fence'; deadline: string };

/** The answer to a save or a snapshot. */
export interface SaveAnswer {
  /** The state's files and their total size (for a snapshot, its disk not included). */
  bytes: number;
  saveMs: number;
  /** When the save finished. */
  created: string;
  /** The guest's address and prefix (`10.61.0.2/16`), which the saved memory keeps. */
  guestAddress?: string;
}

/** Checks a request as it came off the socket. */
export function parseSupervisorRequest(value: unknown): SupervisorRequest {
  const r = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (r['op'] === 'save') return { op: 'save' };
  if (
    r['op'] === 'fence' &&
    typeof r['deadline'] === 'string' &&
    !Number.isNaN(Date.parse(r['deadline']))
  )
    return { op: 'fence', deadline: r['deadline'] };
  if (r['op'] === 'snapshot' && typeof r['snapshot'] === 'string' && isUID(r['snapshot']))
    return { op: 'snapshot', snapshot: r['snapshot'], stop: r['stop'] === true };
  throw invalidArgument(`supervisor request ${JSON.stringify(value)}: not understood`);
}

export type RequestDeskServices = Pick<Services, 'layout' | 'stateFiles' | 'clock' | 'logger'>;

/**
 * The supervisor's side: serves one request at a time on the hypervisor it owns, and keeps track
 * of the overlay the VM writes to, which a snapshot changes (`current`; the names it wrote to
 * before are `superseded`, to go once the hypervisor has exited).
 */
export class RequestDesk {
  current: string;
  readonly superseded: string[] = [];
  /** Whether the run ended with its state saved: the VM's address is then kept. */
  saved = false;
  private busy = false;
  /** Set by a supervisor whose VM is fenced: takes each new deadline. */
  onFence: ((deadline: Date) => void) | undefined;
  private generation = 0;

  constructor(
    private readonly s: RequestDeskServices,
    private readonly hv: RunningVM,
    private readonly paths: VMFiles,
    private readonly label: string,
    /** Ends the run as asked by the user (the hypervisor is killed; the VM is recorded Stopped). */
    private readonly end: () => Promise<void>,
    rootDisk: string,
    /** The guest's address and prefix, when it has a network. */
    private readonly guestAddress?: string,
  ) {
    this.current = rootDisk;
  }

  readonly handle = async (raw: unknown): Promise<SaveAnswer | { deadline: string }> => {
    const request = parseSupervisorRequest(raw);
    // Never queued behind a save: a deadline must reach the fence while the lease holds.
    if (request.op === 'fence') {
      if (this.onFence === undefined) throw failedPrecondition(`${this.label}: not fenced`);
      this.onFence(new Date(request.deadline));
      return { deadline: request.deadline };
    }
    if (this.busy) throw failedPrecondition(`${this.label}: busy saving its state`);
    if (this.saved) throw failedPrecondition(`${this.label}: stopping`);
    this.busy = true;
    try {
      return request.op === 'save' ? await this.save() : await this.snapshot(request);
    } finally {
      this.busy = false;
    }
  };

  private async save(): Promise<SaveAnswer> {
    const file = this.paths.savedState;
    try {
      const info = await this.hv.saveState(file);
      this.saved = true;
      this.s.logger.info({ bytes: info.bytes, saveMs: info.saveMs }, `${this.label}: state saved`);
      await this.end();
      return this.answer(info);
    } catch (err) {
      await this.s.stateFiles.remove(file).catch(() => undefined);
      await this.hv.resume().catch(() => undefined);
      throw toAppError(err, `${this.label}: save`);
    }
  }

  private async snapshot(request: { snapshot: string; stop: boolean }): Promise<SaveAnswer> {
    const snap = this.s.layout.snapshot(request.snapshot);
    const next = this.paths.nextRootDisk(++this.generation);
    try {
      await this.hv.pause();
      await this.hv.freezeRootDisk(snap.disk, next);
      this.superseded.push(this.current);
      this.current = next;
      const info = await this.hv.saveState(snap.state);
      this.s.logger.info(
        { snapshot: request.snapshot, bytes: info.bytes, saveMs: info.saveMs },
        `${this.label}: snapshot saved`,
      );
      if (request.stop) {
        await this.s.stateFiles.link(snap.state, this.paths.savedState);
        this.saved = true;
        await this.end();
      } else {
        await this.hv.resume();
      }
      return this.answer(info);
    } catch (err) {
      await this.s.stateFiles.remove(snap.state).catch(() => undefined);
      await this.hv.resume().catch(() => undefined);
      throw toAppError(err, `${this.label}: snapshot`);
    }
  }

  private answer(info: { bytes: number; saveMs: number }): SaveAnswer {
    return {
      bytes: info.bytes,
      saveMs: info.saveMs,
      created: this.s.clock.now().toISOString(),
      ...(this.guestAddress !== undefined ? { guestAddress: this.guestAddress } : {}),
    };
  }
}

/**
 * A supervisor that died after a snapshot (killed, or the host went down) left the VM's writes in
 * `rootfs.next-<n>.qcow2`, while `rootfs.qcow2` still names the frozen overlay, now a snapshot's
 * disk: before anything opens the disk, the last of them becomes the root disk again. Returns the
 * name it had, or undefined when there was nothing to recover.
 */
export async function recoverRootDisk(
  s: Pick<Services, 'runtimeFiles' | 'stateFiles'>,
  paths: VMFiles,
): Promise<string | undefined> {
  const next: string[] = [];
  for (let n = 1; await s.runtimeFiles.exists(paths.nextRootDisk(n)); n++)
    next.push(paths.nextRootDisk(n));
  const last = next.pop();
  if (last === undefined) return undefined;
  await s.stateFiles.adoptOverlay(paths.rootDiskQcow2, last, [paths.rootDiskQcow2, ...next]);
  return last;
}

/**
 * Sends `request` to the supervisor of the running VM `vm` and returns its answer. A supervisor
 * that serves no requests (one started by an ignite without them) is said so, with the way out.
 */
export async function askSupervisor(
  s: Pick<Services, 'layout' | 'requests'>,
  vm: StoredVM,
  request: SupervisorRequest,
  timeoutMs: number,
): Promise<SaveAnswer> {
  const socket = s.layout.vm(vm.metadata.uid).supervisorSocket;
  try {
    return (await s.requests.request(socket, request, timeoutMs)) as SaveAnswer;
  } catch (err) {
    if (!AppError.is(err, 'Unavailable') || !/ENOENT|ECONNREFUSED/.test(err.message)) throw err;
    throw failedPrecondition(`vm "${vm.metadata.name}": its supervisor takes no requests`, {
      cause: err,
      hint: `restart the VM (ignite stop ${vm.metadata.name}; ignite start ${vm.metadata.name})`,
    });
  }
}
