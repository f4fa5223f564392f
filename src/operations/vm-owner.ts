import type { StoredVM, VM } from '../api/index.js';
import type { Services } from './services.js';

/** Who may write a VM's status in a fleet: the host it is placed on, under one placement. */
export interface VMOwner {
  host: string;
  /** `status.placement.generation` the writer acts under. */
  generation: number | undefined;
}

/** The owner a VM names now: its host and placement generation. */
export function ownerOf(vm: VM, host: string): VMOwner {
  return { host, generation: vm.status?.placement?.generation };
}

/** Whether `owner` still owns the VM: it is placed on that host, under that generation. */
export function isOwnedBy(vm: VM, owner: VMOwner): boolean {
  return vm.status?.host === owner.host && vm.status.placement?.generation === owner.generation;
}

/**
 * The one write path of a fleet host's agent and supervisors: read-modify-write under the VM
 * kind's lock, made only while the VM is still placed on the writer's host under the generation
 * it acts under; otherwise nothing is written (the VM belongs to another host, or was placed
 * again) and undefined is returned. Without an owner (a single host), it is a plain update.
 */
export async function updateOwnedVM(
  s: Pick<Services, 'client'>,
  uid: string,
  owner: VMOwner | undefined,
  mutate: (vm: StoredVM) => void,
): Promise<StoredVM | undefined> {
  let stale = false;
  const updated = await s.client.vms
    .update(uid, (vm) => {
      if (owner !== undefined && !isOwnedBy(vm, owner)) {
        stale = true;
        throw new StaleWrite();
      }
      mutate(vm);
    })
    .catch((err: unknown) => {
      if (err instanceof StaleWrite) return undefined;
      throw err;
    });
  return stale ? undefined : updated;
}

/** Aborts an update whose writer no longer owns the VM; caught in updateOwnedVM. */
class StaleWrite extends Error {}
