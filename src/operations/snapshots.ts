import {
  API_VERSION,
  NAME_PATTERN,
  Size,
  type ObjectMeta,
  type Snapshot,
  type StoredSnapshot,
  type StoredVM,
} from '../api/index.js';
import { failedPrecondition, invalidArgument, toAppError } from '../errors.js';
import type { Services } from './services.js';
import { askSupervisor, type SaveAnswer } from './supervisor-requests.js';
import { VMM_ANNOTATION } from './build-vm.js';
import { vmLabel } from './vm-paths.js';
import {
  isVMRunning,
  recordDesiredState,
  refreshVMState,
  type VMStateServices,
} from './vm-state.js';
import { waitUnsupervised } from './supervision.js';

/**
 * The snapshots an object's disk sits on, oldest first, comma-separated UIDs: a VM's overlay is
 * over the disk of the last snapshot taken of it (and so over every earlier one), and so is each
 * later snapshot's disk. `snapshot rm` refuses a snapshot any VM or snapshot names here.
 */
export const BASE_SNAPSHOTS_ANNOTATION = 'ignite.weave.works/base-snapshots';

export type SnapshotServices = VMStateServices &
  Pick<Services, 'layout' | 'requests' | 'stateFiles'>;

export interface CreateSnapshotOptions {
  /** The snapshot's name; default `<vm>-<n>`. */
  name?: string;
  /** End the VM once saved; its next start resumes from the snapshot's state. */
  stop?: boolean;
  /** How long the save may take. */
  timeoutMs?: number;
}

/** The snapshots `obj`'s disk sits on (BASE_SNAPSHOTS_ANNOTATION). */
export function baseSnapshots(obj: { metadata: ObjectMeta }): string[] {
  const list = obj.metadata.annotations?.[BASE_SNAPSHOTS_ANNOTATION] ?? '';
  return list.split(',').filter((u) => u !== '');
}

/**
 * `ignite snapshot create`: the VM's supervisor pauses it, freezes its overlay as the snapshot's
 * disk (the VM goes on over a new overlay), saves its state into `<dataDir>/snapshot/<uid>/`,
 * then resumes it (or, with `stop`, ends it, keeping the state for its next start). The Snapshot
 * object is stored first, so a failure after the freeze, whose disk the VM goes on over, still
 * leaves an object that says so and that `snapshot rm` guards.
 */
export async function createSnapshot(
  s: SnapshotServices,
  query: string,
  options: CreateSnapshotOptions = {},
): Promise<StoredSnapshot> {
  let vm = await refreshVMState(s, await s.client.vms.find(query));
  const label = vmLabel(vm);
  if (!isVMRunning(s, vm))
    throw failedPrecondition(`${label}: not running; only a running VM can be snapshotted`, {
      hint: `ignite start ${vm.metadata.name}`,
    });
  const name = options.name ?? (await defaultName(s, vm));
  if (!NAME_PATTERN.test(name))
    throw invalidArgument(`snapshot "${name}": not a valid name`, {
      hint: 'lower-case letters, digits, ".", "_" and "-", at most 63',
    });
  const bases = baseSnapshots(vm);
  const snap = await s.client.snapshots.create(snapshotOf(vm, name, bases));
  const uid = snap.metadata.uid;
  const files = s.layout.snapshot(uid);
  let answer: SaveAnswer;
  try {
    answer = await askSupervisor(
      s,
      vm,
      { op: 'snapshot', snapshot: uid, stop: options.stop === true },
      options.timeoutMs ?? 180_000,
    );
  } catch (err) {
    // A frozen disk is the base of the VM from then on: it stays, with the object that guards it.
    if (await s.runtimeFiles.exists(files.disk)) await recordBase(s, vm, [...bases, uid]);
    else await s.client.snapshots.delete(uid);
    throw toAppError(err);
  }
  await recordBase(s, vm, [...bases, uid]);
  const size = await s.stateFiles.dirUsage(files.dir);
  const stored = await s.client.snapshots.update(uid, (o) => {
    if (answer.guestAddress !== undefined) o.spec.guestAddress = answer.guestAddress;
    o.status = {
      files: { state: files.state, sidecar: files.sidecar, disk: files.disk },
      size: Size.fromBytes(size),
      created: answer.created,
      saveSeconds: answer.saveMs / 1000,
    };
  });
  if (options.stop === true) {
    vm = await recordDesiredState(s, vm, 'Stopped');
    await waitUnsupervised(s, vm.metadata.uid, vm.status.runtime?.spawnPid, 30_000);
    await refreshVMState(s, await s.client.vms.get(vm.metadata.uid));
  }
  return stored;
}

/**
 * `ignite snapshot rm`: removes the snapshot and every file of it. Refused while a VM or another
 * snapshot sits on its disk, unless `force` (their disks then lose their base, and they cannot
 * start again).
 */
export async function removeSnapshot(
  s: Pick<Services, 'client' | 'layout' | 'stateFiles'>,
  query: string,
  options: { force?: boolean } = {},
): Promise<string> {
  const snap = await s.client.snapshots.find(query);
  const uid = snap.metadata.uid;
  const users = await snapshotUsers(s, uid);
  if (users.length > 0 && options.force !== true)
    throw failedPrecondition(`snapshot "${snap.metadata.name}": in use by ${users.join(', ')}`, {
      hint: 'remove those first; -f removes it anyway and leaves them unable to start',
    });
  await s.client.snapshots.delete(uid);
  await s.stateFiles.removeDir(s.layout.snapshot(uid).dir);
  return uid;
}

/** The VMs and snapshots whose disks sit on snapshot `uid`'s, as `vm "a"`, `snapshot "b"`. */
export async function snapshotUsers(s: Pick<Services, 'client'>, uid: string): Promise<string[]> {
  const vms = (await s.client.vms.list()).filter((v) => baseSnapshots(v).includes(uid));
  const snaps = (await s.client.snapshots.list()).filter((o) => baseSnapshots(o).includes(uid));
  return [
    ...vms.map((v) => `vm "${v.metadata.name}"`),
    ...snaps.map((o) => `snapshot "${o.metadata.name}"`),
  ];
}

function snapshotOf(vm: StoredVM, name: string, bases: string[]): Snapshot {
  return {
    apiVersion: API_VERSION,
    kind: 'Snapshot',
    metadata: {
      name,
      ...(bases.length > 0
        ? { annotations: { [BASE_SNAPSHOTS_ANNOTATION]: bases.join(',') } }
        : {}),
    },
    spec: {
      source: { name: vm.metadata.name, uid: vm.metadata.uid },
      image: vm.spec.image.ociClaim.ref,
      kernel: vm.spec.kernel.ociClaim.ref,
      cpus: vm.spec.cpus,
      memory: vm.spec.memory,
      vmm:
        vm.status.runtime?.vmm ??
        (vm.metadata.annotations?.[VMM_ANNOTATION] === 'firecracker' ? 'firecracker' : 'qemu'),
    },
    status: {},
  };
}

async function recordBase(
  s: Pick<Services, 'client'>,
  vm: StoredVM,
  bases: string[],
): Promise<void> {
  await s.client.vms.update(vm.metadata.uid, (v) => {
    v.metadata.annotations = {
      ...v.metadata.annotations,
      [BASE_SNAPSHOTS_ANNOTATION]: bases.join(','),
    };
  });
}

/** `<vm>-<n>`, the first n no snapshot has taken. */
async function defaultName(s: Pick<Services, 'client'>, vm: StoredVM): Promise<string> {
  const taken = new Set((await s.client.snapshots.list()).map((o) => o.metadata.name));
  const base = vm.metadata.name.slice(0, 56);
  let n = 1;
  while (taken.has(`${base}-${n}`)) n++;
  return `${base}-${n}`;
}
