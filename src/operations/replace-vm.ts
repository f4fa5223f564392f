import { setVMSpecDefaults, type StoredVM, type VM } from '../api/index.js';
import { failedPrecondition, invalidArgument } from '../errors.js';
import { VMM_ANNOTATION } from './build-vm.js';
import { changedFields, OWN_ANNOTATIONS } from './reconcile-spec.js';
import { vmLabel } from './vm-paths.js';
import { isVMRunning, refreshVMState, type VMStateServices } from './vm-state.js';

/** The spec fields a stopped VM can take a new value of: its disk is built from none of them. */
const CHANGEABLE_WHEN_STOPPED = new Set(['spec.cpus', 'spec.memory', 'spec.network']);

/**
 * Replaces a VM with a manifest of it (the API's PUT). Labels and annotations change in place,
 * keeping the annotations ignite itself owns; spec fields change only on a VM that is not
 * running, and only those its root disk does not depend on. The rest needs a new VM, and the
 * error says so rather than silently leaving the old value.
 */
export async function replaceVM(s: VMStateServices, query: string, wanted: VM): Promise<StoredVM> {
  const current = await refreshVMState(s, await s.client.vms.find(query));
  const label = vmLabel(current);
  if (wanted.metadata.uid !== undefined && wanted.metadata.uid !== current.metadata.uid)
    throw invalidArgument(`${label}: the manifest's metadata.uid is another VM's`);
  if (wanted.metadata.name !== undefined && wanted.metadata.name !== current.metadata.name)
    throw invalidArgument(
      `${label}: metadata.name cannot change; create a VM of that name instead`,
    );
  const changed = changedFields(current, {
    ...wanted,
    metadata: { ...wanted.metadata, name: current.metadata.name },
  });
  if (changed.length > 0 && isVMRunning(s, current))
    throw failedPrecondition(`${label}: ${changed.join(', ')} cannot change while it runs`, {
      hint: 'stop the VM first',
    });
  const fixed = changed.filter((f) => !CHANGEABLE_WHEN_STOPPED.has(f));
  if (fixed.length > 0)
    throw failedPrecondition(`${label}: ${fixed.join(', ')} cannot change on an existing VM`, {
      hint: 'remove the VM and create it again with the new manifest',
    });
  return s.client.vms.update(current.metadata.uid, (vm) => {
    // Ignite's own annotations a manifest leaves out are kept. The gitops ones it gives are
    // written: a reconciler working through the API records its progress so. The hypervisor a
    // VM was created for never changes.
    const given = wanted.metadata.annotations ?? {};
    const kept = Object.entries(vm.metadata.annotations ?? {}).filter(
      ([k]) => OWN_ANNOTATIONS.has(k) && (k === VMM_ANNOTATION || !(k in given)),
    );
    const written = Object.entries(given).filter(([k]) => k !== VMM_ANNOTATION);
    const labels = { ...(wanted.metadata.labels ?? {}) };
    if (Object.keys(labels).length > 0) vm.metadata.labels = labels;
    else delete vm.metadata.labels;
    vm.metadata.annotations = Object.fromEntries([...written, ...kept]);
    if (changed.length > 0) {
      const spec = setVMSpecDefaults(wanted.spec);
      for (const f of changed) {
        const key = f.slice('spec.'.length) as keyof typeof spec;
        (vm.spec as Record<string, unknown>)[key] = spec[key];
      }
    }
  });
}
